// Reads the events topic as a member of a consumer group: what arrived is one batch, committed after it is handled.
import { stringDeserializers, type Message, type MessagesStream } from '@platformatic/kafka';
import type { TraceHeaders } from '../../observe/tracing/index.ts';
import { decodeRecordValue, type BatchHandler, type LogRecord, type PartitionProgress, type RecordSource, type SourceProgress } from '../log.ts';
import { ReadCommittedConsumer } from './read-committed-consumer.ts';
import { RETRY } from './retry.ts';
import { stableCommittedOffsets, type CommittedOffsets } from './stable-offsets.ts';
import type { TransactionalOutput } from './transactional-output.ts';

type KafkaMessage = Message<string, string, string, string>;
type KafkaConsumer = ReadCommittedConsumer;
type KafkaStream = MessagesStream<string, string, string, string>;

/**
 * Records handed to the processor at once at most, and records handled but not yet committed at
 * most: after a backlog a batch stays about a second of work and tens of megabytes.
 */
const MAX_BATCH = 20_000;

/** A batch the processor handled, waiting for its results to be durable and its offsets committed. */
interface Uncommitted {
  /** Per partition, the batch's last record. */
  last: Map<number, KafkaMessage>;
  durable: Promise<void>;
  records: number;
}

export interface KafkaSourceOptions {
  brokers: string[];
  groupId: string;
  clientId: string;
  topic: string;
  /** Longest a fetch waits for data; small keeps latency low. */
  maxWaitMs: number;
  /** A member silent this long is evicted and its partitions reassigned. */
  sessionTimeoutMs: number;
  /** Larger record values are dead-lettered undecoded. */
  maxRecordBytes: number;
  /**
   * Exactly-once: each batch's offsets commit in the transaction that carries its outputs.
   * Without it, offsets are committed after the handler resolves (at least once).
   */
  transactions?: TransactionalOutput;
  /**
   * Static membership (KIP-345): a member known by this id keeps its place in the group across a
   * restart within the session timeout, without a rebalance. Unique per instance.
   */
  groupInstanceId?: string | undefined;
  /** Whether the topic is written in transactions (a repartition topic): its commit markers are no lag. */
  transactionalInput?: boolean;
  /** A batch that could not be handled or committed for a reason other than a rebalance; the source leaves, rejoins the group and reads it again. */
  onError?: (err: unknown) => void;
  /**
   * The group moved to a new generation: what was handled but not committed is dropped (its
   * transaction aborted) and the partitions now owned are read from their committed offsets.
   */
  onRebalance?: (info: RebalanceInfo) => void;
}

export interface RebalanceInfo {
  topic: string;
  generation: number;
  /** Partitions this member owns in the new generation. */
  partitions: number[];
  /**
   * Per owned partition, the group's committed offset the reading resumes from (undefined: none
   * committed, read from the earliest): where the restore of a partition's state ends.
   */
  committed: CommittedOffsets;
  /** Records handled or fetched under the previous generation that will be read again. */
  dropped: number;
}

/** Commit errors that only say the group moved on: no reason to leave it (see `fence`). */
const REBALANCE_ERRORS = new Set(['ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'MEMBER_ID_REQUIRED']);

/**
 * The transaction outlived its timeout and the broker aborted it, bumping the producer's epoch:
 * the producer starts afresh at its next transaction, and the group membership is intact.
 */
const FENCED_PRODUCER_ERRORS = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);

function hasError(err: unknown, ids: ReadonlySet<string>): boolean {
  const found = err as { findBy?: (key: string, value: unknown) => unknown; apiId?: unknown } | null;
  if (typeof found?.apiId === 'string' && ids.has(found.apiId)) return true;
  for (const id of ids) if (found?.findBy?.('apiId', id) != null) return true;
  return false;
}

export const isRebalanceError = (err: unknown): boolean => hasError(err, REBALANCE_ERRORS);

export class KafkaRecordSource implements RecordSource {
  private consumer: KafkaConsumer | undefined;
  private stream: KafkaStream | undefined;
  private buffer: KafkaMessage[] = [];
  private draining: Promise<void> | undefined;
  private recovering: Promise<void> | undefined;
  /** A move to the generation the consumer joined, under way; `rejoined` asks it to go round again. */
  private reassigning: Promise<void> | undefined;
  private rejoined = false;
  /** Streams of earlier generations, closed once the current one is reading. */
  private retired: KafkaStream[] = [];
  /** Records fetched or handled under generations fenced since the last resume: read again. */
  private droppedSinceFence = 0;
  private handler: BatchHandler | undefined;
  /** Handled batches for the next commit, oldest first; `committing` is the commit under way. */
  private uncommitted: Uncommitted[] = [];
  private uncommittedRecords = 0;
  private committing: Promise<void> | undefined;
  /** Per partition: one past the last record fetched, and one past the last committed. */
  private readonly endOffsets = new Map<number, bigint>();
  private readonly doneOffsets = new Map<number, bigint>();
  /**
   * Per partition of the stream being read: one past the last record handed to the processor, or
   * the committed offset the stream resumed from — what the next record follows (see LogRecord.follows).
   */
  private positions = new Map<number, number>();
  /** Per partition: the broker's end offset, polled — what the group has yet to fetch counts as lag too. */
  private brokerEnds: readonly bigint[] = [];
  /** The generation being read: its partitions and the committed offsets the reading resumed from; undefined between generations. */
  private assignment: { generation: number; partitions: number[]; committed: CommittedOffsets } | undefined;
  private lagPoll: NodeJS.Timeout | undefined;
  /** Set when stop begins: no more fetching. `stopped` once the drain is over: no more handling. */
  private stopping = false;
  private stopped = false;

  constructor(private readonly options: KafkaSourceOptions) {}

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    await this.join();
  }

  /**
   * Records behind on the partitions this instance has consumed: appended to the topic but not yet
   * committed. A topic written in transactions (a repartition topic) ends each transaction with a
   * commit marker, an offset no record holds: one is not counted, or a caught-up partition would
   * always lag by one.
   */
  lag(): number {
    let lag = 0n;
    for (const [p, done] of this.doneOffsets) lag += this.behind(p, done);
    return Number(lag);
  }

  /**
   * The partitions of the generation being read. One not read since the assignment counts from
   * its committed offset (`lag()` leaves it out until a record of it arrives).
   */
  progress(): SourceProgress {
    const assignment = this.assignment;
    const member = this.consumer?.memberId;
    const partitions = (assignment?.partitions ?? []).map((partition): PartitionProgress => {
      const done = this.doneOffsets.get(partition) ?? assignment!.committed.get(partition);
      const fetched = this.endOffsets.get(partition);
      const appended = this.brokerEnds[partition];
      const end = appended === undefined ? fetched : fetched === undefined || appended > fetched ? appended : fetched;
      return { partition, committed: done === undefined ? null : Number(done), end: end === undefined ? null : Number(end), lag: done === undefined ? null : Number(this.behind(partition, done)) };
    });
    return {
      member: member == null || assignment === undefined ? null : { id: member, generation: assignment.generation },
      partitions,
      problem: this.recovering === undefined ? null : 'rejoining its consumer group after a failure',
    };
  }

  /** Records of partition `p` past `done`: up to what the broker has (polled) or what was fetched, whichever is further. */
  private behind(p: number, done: bigint): bigint {
    const marker = this.options.transactionalInput === true ? 1n : 0n;
    const fetched = this.endOffsets.get(p) ?? done;
    const appended = this.brokerEnds[p] ?? fetched;
    const behind = (appended > fetched ? appended : fetched) - done - marker;
    return behind > 0n ? behind : 0n;
  }

  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.stream?.pause();
    // Without drain, the batch being handled is the last.
    if (options.drain !== true) this.stopped = true;
    await this.draining;
    this.stopped = true;
    clearInterval(this.lagPoll);
    await this.recovering;
    await this.reassigning;
    // What was handled is committed before the partitions are given up.
    await this.committed();
    await this.leave(this.consumer, this.stream);
  }

  /**
   * Join the group. The client rejoins by itself when the group rebalances (its heartbeat learns
   * it): each join is a new generation, read by a data stream of its own (see `reassign`).
   */
  private async join(): Promise<void> {
    const consumer = new ReadCommittedConsumer({
      groupId: this.options.groupId,
      clientId: this.options.clientId,
      bootstrapBrokers: this.options.brokers,
      deserializers: stringDeserializers,
      ...(this.options.groupInstanceId === undefined ? {} : { groupInstanceId: this.options.groupInstanceId }),
      // Only what producers committed: aborted transactions never reach the pipeline (see ReadCommittedConsumer).
      isolationLevel: 1,
      maxWaitTime: this.options.maxWaitMs,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: 2 * this.options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(this.options.sessionTimeoutMs / 10)),
      // A JoinGroup waits in the broker until the rebalance completes — for a killed member, until
      // its session expires — so requests may take longer than the rebalance timeout.
      timeout: 2 * this.options.sessionTimeoutMs + 5000,
      ...RETRY,
    });
    this.consumer = consumer;
    consumer.on('consumer:group:join', () => {
      if (this.consumer === consumer) this.fence(consumer);
    });
    // A rejoin the client could not complete after its retries: a real failure.
    consumer.on('error', (err: unknown) => {
      if (this.consumer === consumer) this.fail(err);
    });
    // Never read: it keeps the topic subscribed while the data streams of successive generations
    // replace one another (a consumer whose last stream closes leaves the topic, and resubscribing rebalances).
    await consumer.consume({ topics: [this.options.topic], autocommit: false, mode: 'latest' });
    this.lagPoll ??= setInterval(() => {
      this.consumer
        ?.listOffsets({ topics: [this.options.topic] })
        .then((ends) => (this.brokerEnds = ends.get(this.options.topic) ?? []))
        .catch(() => undefined); // a gauge; the next poll tries again
    }, 1000).unref();
  }

  /**
   * The consumer joined a new generation (or a commit learnt that the group moved on): whatever
   * was fetched or handled under the previous one is stale. Its data stream stops being read, the
   * uncommitted batches are dropped, and `reassign` resumes from the committed offsets. The group
   * never waits for this: the client has already rejoined, so a long batch or restore cannot make
   * this member miss a rebalance.
   */
  private fence(consumer: KafkaConsumer): void {
    if (this.stopped) return;
    this.retire();
    this.rejoined = true;
    this.reassigning ??= this.reassign(consumer).finally(() => (this.reassigning = undefined));
  }

  /** Stop reading the current data stream and forget what it delivered but was not committed. */
  private retire(): void {
    const stream = this.stream;
    let dropped = this.buffer.length;
    for (const b of this.uncommitted) dropped += b.records;
    if (stream !== undefined) {
      stream.pause();
      this.retired.push(stream);
    }
    this.stream = undefined;
    this.assignment = undefined;
    this.buffer = [];
    for (const b of this.uncommitted) this.uncommittedRecords -= b.records;
    this.uncommitted = [];
    this.droppedSinceFence += dropped;
  }

  /**
   * Read the partitions of the consumer's current generation from their committed offsets: once
   * the batch being handled is over and the commit under way has ended (committed, or refused
   * for the old generation) and the transaction is aborted, so that no output of a dropped batch
   * survives. Offsets are asked with require_stable, so a partition whose previous owner is
   * still committing is read after that commit. The processor restores the state of partitions
   * it had run ahead on. Repeated while joins keep coming.
   */
  private async reassign(consumer: KafkaConsumer): Promise<void> {
    try {
      while (this.rejoined && !this.stopped && this.consumer === consumer) {
        this.rejoined = false;
        await this.draining;
        await this.committed();
        await this.options.transactions?.abort();
        this.endOffsets.clear();
        this.doneOffsets.clear();
        const generation = consumer.generationId;
        const partitions = (consumer.assignments ?? []).filter((a) => a.topic === this.options.topic).flatMap((a) => a.partitions);
        const committed = await stableCommittedOffsets(consumer, this.options.clientId, this.options.topic, partitions, 2 * this.options.sessionTimeoutMs);
        if (this.rejoined || this.stopped || this.consumer !== consumer) continue;
        const offsets = [...committed].flatMap(([partition, offset]) => (offset === undefined ? [] : [{ topic: this.options.topic, partition, offset }]));
        // Partitions without a committed offset start at the earliest record.
        const stream = await consumer.consume({ topics: [this.options.topic], autocommit: false, mode: 'manual', offsets, fallbackMode: 'earliest' });
        if (this.rejoined || this.stopped || this.consumer !== consumer) {
          await stream.close().catch(() => undefined);
          continue;
        }
        this.options.onRebalance?.({ topic: this.options.topic, generation, partitions, committed, dropped: this.droppedSinceFence });
        this.assignment = { generation, partitions, committed };
        this.droppedSinceFence = 0;
        this.read(consumer, stream, generation);
      }
    } catch (err) {
      if (this.consumer === consumer) this.fail(err);
    }
    const retired = this.retired;
    this.retired = [];
    await Promise.all(retired.map((s) => s.close().catch(() => undefined)));
  }

  /**
   * Deliver `stream`'s records, each stamped with the generation the stream was opened for. The
   * client stamps a record with the consumer's generation when it parses the fetch response, so a
   * fetch sent before a rejoin and answered after it would carry the new generation: its offsets
   * would then commit although the partition may belong to another member by now. Stamped with
   * the stream's own generation, such a commit is refused by the broker (ILLEGAL_GENERATION).
   */
  private read(consumer: KafkaConsumer, stream: KafkaStream, generation: number): void {
    this.stream = stream;
    this.positions = new Map();
    for (const [partition, offset] of this.assignment?.committed ?? []) if (offset !== undefined) this.positions.set(partition, Number(offset));
    stream.on('data', (message: KafkaMessage) => {
      // Uncommitted after a stop, a rebalance or a failure: whoever owns the partition next reads it again.
      if (this.stopped || this.stream !== stream) return;
      const stamp = (message.metadata as { consumer?: { generationId?: number } } | undefined)?.consumer;
      if (stamp !== undefined) stamp.generationId = generation;
      this.buffer.push(message);
      if (this.buffer.length >= MAX_BATCH) stream.pause();
      this.endOffsets.set(message.partition, message.offset + 1n);
      if (!this.doneOffsets.has(message.partition)) this.doneOffsets.set(message.partition, message.offset);
      this.scheduleDrain(consumer, stream);
    });
    stream.on('error', (err: unknown) => {
      if (this.stream === stream) this.fail(err);
    });
  }

  private async leave(consumer: KafkaConsumer | undefined, stream: KafkaStream | undefined): Promise<void> {
    if (this.stream === stream) this.stream = undefined;
    if (this.consumer === consumer) this.consumer = undefined;
    // Best effort: after a failure the connection may already be gone.
    await stream?.close().catch(() => undefined);
    // Closed with the consumer (force): the subscription and streams of earlier generations.
    await (consumer?.close(true) as Promise<void> | undefined)?.catch(() => undefined);
  }

  /**
   * Hand everything that arrived to the handler as one batch (each partition's records stay in
   * offset order). While the store and the commit of one batch are under way the next is
   * processed; a batch's offsets are committed only once its results are durable, so a crash
   * replays rather than loses.
   */
  private scheduleDrain(consumer: KafkaConsumer, stream: KafkaStream): void {
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain(consumer, stream));
  }

  private async drain(consumer: KafkaConsumer, stream: KafkaStream): Promise<void> {
    try {
      while (this.buffer.length > 0 && !this.stopped && this.stream === stream) {
        const messages = this.buffer.length <= MAX_BATCH ? this.buffer : this.buffer.slice(0, MAX_BATCH);
        this.buffer = messages === this.buffer ? [] : this.buffer.slice(MAX_BATCH);
        if (!this.stopping) stream.resume();
        const { durable } = await this.handler!(messages.map((m) => this.toRecord(m)));
        void durable.catch(() => undefined); // a failure reaches the commit that waits for it
        if (this.stream !== stream) {
          // A rebalance or a recovery began while the batch was handled: its results must not reach
          // a commit. Only they are dropped here: a commit may be sending right now, and aborting its
          // transaction under its sends would let records sent after the abort join the next one.
          // The rebalance or recovery aborts once that commit has ended.
          this.options.transactions?.discard();
          return;
        }
        this.options.transactions?.seal();
        const last = new Map<number, KafkaMessage>();
        for (const m of messages) last.set(m.partition, m);
        this.uncommitted.push({ last, durable, records: messages.length });
        this.uncommittedRecords += messages.length;
        this.commitNext(consumer, stream);
        // Bounded work ahead of the commits: past the cap, wait for the commit under way.
        while (this.uncommittedRecords > MAX_BATCH && this.committing !== undefined && this.stream === stream) await this.committing;
      }
    } catch (err) {
      // A batch of a consumer already replaced by a recovery failed as expected: nothing to do.
      if (this.stream === stream) this.fail(err);
    } finally {
      this.draining = undefined;
      // Records of the consumer that replaced this one arrived while this drain was finishing.
      const { consumer: current, stream: now } = this;
      if (!this.stopped && this.buffer.length > 0 && current !== undefined && now !== undefined && now !== stream) this.scheduleDrain(current, now);
    }
  }

  /**
   * Commit every handled batch not yet committed, in one go, unless a commit is under way: when it
   * ends it takes whatever was handled meanwhile. Commits are thus as frequent as they can be
   * and never concurrent.
   */
  private commitNext(consumer: KafkaConsumer, stream: KafkaStream): void {
    if (this.committing !== undefined || this.uncommitted.length === 0) return;
    const batches = this.uncommitted;
    this.uncommitted = [];
    const last = new Map<number, KafkaMessage>();
    for (const b of batches) for (const [partition, m] of b.last) last.set(partition, m);
    const durable = Promise.all(batches.map((b) => b.durable)).then(() => undefined);
    const commit =
      this.options.transactions === undefined
        ? durable.then(() => Promise.all([...last.values()].map((m) => m.commit())))
        : this.options.transactions.commit(consumer, last.values(), durable);
    this.committing = commit
      .then(
        () => {
          for (const [partition, m] of last) this.doneOffsets.set(partition, m.offset + 1n);
        },
        (err: unknown) => {
          if (this.stream !== stream) return; // a rebalance already fenced these batches
          // The group moved on: the next join (the client's heartbeat sees it) resumes from the committed offsets.
          if (isRebalanceError(err)) this.retire();
          else if (hasError(err, FENCED_PRODUCER_ERRORS)) {
            // Resume in place: leaving the group for it would rebalance every member.
            this.options.onError?.(err);
            this.fence(consumer);
          } else this.fail(err);
        },
      )
      .finally(() => {
        for (const b of batches) this.uncommittedRecords -= b.records;
        this.committing = undefined;
        if (this.stream === stream) this.commitNext(consumer, stream);
      });
  }

  /** Resolves when no handled batch waits for a commit (or the commits failed and a recovery took over). */
  private async committed(): Promise<void> {
    while (this.committing !== undefined) await this.committing;
  }

  /**
   * A batch, commit or fetch that failed for a reason other than a rebalance (the broker
   * unreachable after the client's retries, a fenced producer…): drop what was read but not
   * committed, leave the group and join again. The group hands back the committed offsets; the processor sees them behind its
   * state and restores the affected partitions before going on. Retried with backoff, so the
   * processor rides out a broker restart.
   */
  private fail(err: unknown): void {
    if (this.stopped) return;
    this.options.onError?.(err);
    if (this.recovering !== undefined) return;
    // From here on the consumer is stale: nothing it delivers is handled or committed.
    const { consumer, stream } = this;
    this.retire();
    this.droppedSinceFence = 0;
    this.retired = [];
    this.consumer = undefined;
    this.recovering = (async () => {
      // A commit under way ends before the transaction is aborted under it.
      await this.committed();
      await this.reassigning;
      await this.options.transactions?.abort();
      this.endOffsets.clear();
      this.doneOffsets.clear();
      await this.leave(consumer, stream);
      for (let attempt = 1; !this.stopped; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 5000)));
        if (this.stopped) return;
        try {
          await this.join();
          return;
        } catch (joinErr) {
          this.options.onError?.(joinErr);
          await this.leave(this.consumer, this.stream);
        }
      }
    })().finally(() => (this.recovering = undefined));
  }

  /** The record as the processor takes it: decoded, and placed after the one this stream handed over before it. */
  private toRecord(m: KafkaMessage): LogRecord {
    const offset = Number(m.offset);
    const follows = this.positions.get(m.partition);
    this.positions.set(m.partition, offset + 1);
    return { partition: m.partition, offset, follows, key: m.key, value: decodeRecordValue(m.value, this.options.maxRecordBytes), acceptedAt: Number(m.timestamp), trace: traceOf(m.headers) };
  }
}

/** The W3C trace context a producer put in the record's headers, if any (read, not parsed: only a traced processor parses it). */
function traceOf(headers: Map<string, string>): TraceHeaders | undefined {
  const traceparent = headers.get('traceparent');
  if (traceparent === undefined) return undefined;
  const tracestate = headers.get('tracestate');
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}
