// The processor runtime: pulls batches from a record source, claims their event ids, runs the pipeline, hands results on.
import { bodyHash } from '../contracts/index.ts';
import type { LocalSpan, Tracing } from '../observe/tracing/index.ts';
import type { ClaimHolder, ClaimRequest, DeadLetter } from '../store/index.ts';
import type { HandledBatch, LogRecord, RecordSource, SourceProgress } from '../transport/log.ts';
import type { AdmittedBatch, ClaimVerdict, Decided, DecisionPipeline, Forwarded, PartitionHistory, PipelineResult } from './decision-pipeline.ts';
import type { MicroBatchSize } from './micro-batch-size.ts';
import { traceBatch, type StageLabel } from './batch-spans.ts';
import { StepTimes } from './step-times.ts';

/** Where the processor's results go: the store's sink, the live feeds, the metrics. */
export interface ProcessorOutput {
  decided(result: Decided): void;
  /** An event for a later stage of the topology (stages apart): its repartition record goes in the batch's transaction. */
  forward(result: Forwarded): void;
  /** `trace`: the record's processing span, when traced (as on each result). */
  deadLetter(letter: DeadLetter, trace?: LocalSpan): void;
  duplicate(eventId: string, trace?: LocalSpan): void;
  /** A re-send of an event id with another body: its dead letter names both bodies' hashes. */
  conflict(letter: DeadLetter, trace?: LocalSpan): void;
  /** Resolves when the output can take more (backpressure from the store). */
  ready(): Promise<void>;
  /**
   * Resolves when everything handed over before the call is durable. The source commits a batch's
   * offsets only after, so a crash replays rather than loses. Absent: a batch commits once handled.
   */
  durable?: () => Promise<void>;
}

/**
 * Where event ids are claimed before they are decided — the store, shared by every processor and
 * partition: the one point that lets a single record of each id be decided (see README, "Exactly one decision per event id").
 */
export interface EventClaims {
  /** Claim each request's event id (ids distinct) for its record; the holder of each, in order. Waits out a store that is away: never rejects. */
  claim(requests: readonly ClaimRequest[]): Promise<ClaimHolder[]>;
}

/**
 * Reads a partition's decided history before `beforeOffset`, in offset order, with its fraud
 * verdicts: how state follows a partition to another instance (see README, "On Kafka and PostgreSQL").
 */
export type LoadPartitionHistory = (partition: number, beforeOffset: number) => Promise<PartitionHistory>;

export interface ProcessorOptions {
  /** The topology stage whose input the source delivers (default 0: the events log). */
  stage?: number;
  /** Where a partition's state comes back from when it arrives from elsewhere (Kafka); absent when the process restores all up front. */
  history?: { load: LoadPartitionHistory; onRestored?: (partition: number, events: number, ms: number) => void } | undefined;
  /** Where each micro-batch's event ids are claimed before deciding; absent: every valid record is decided (a run without a store). */
  claims?: EventClaims | undefined;
  /** How a large batch is cut into micro-batches; absent: each batch runs whole. */
  microBatch?: MicroBatchSize | undefined;
  /** Clock for the micro-batch timing, ms; default performance.now. */
  now?: () => number;
  /** When tracing: each record's processing is a span, labelled with the stage and its input. */
  tracing?: { tracing: Tracing; label: StageLabel } | undefined;
}

const DUPLICATE: ClaimVerdict = { kind: 'duplicate' };

/** Lets queued I/O (HTTP requests, store writes) run between two micro-batches. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Processor {
  private readonly history: ProcessorOptions['history'];
  private readonly claims: EventClaims | undefined;
  private readonly microBatch: MicroBatchSize | undefined;
  private readonly now: () => number;
  private readonly stage: number;
  private readonly tracing: ProcessorOptions['tracing'];

  constructor(
    private readonly source: RecordSource,
    private readonly pipeline: DecisionPipeline,
    private readonly output: ProcessorOutput,
    options: ProcessorOptions = {},
  ) {
    this.history = options.history;
    this.claims = options.claims;
    this.microBatch = options.microBatch;
    this.now = options.now ?? (() => performance.now());
    this.stage = options.stage ?? 0;
    this.tracing = options.tracing;
  }

  start(): Promise<void> {
    return this.source.start((batch) => this.handle(batch));
  }

  /** Stop consuming; with `drain`, first process every record already in the log. */
  stop(options: { drain?: boolean } = {}): Promise<void> {
    return this.source.stop(options);
  }

  lag(): number {
    return this.source.lag();
  }

  /** The partitions this processor owns and how far each is consumed. */
  progress(): SourceProgress {
    return this.source.progress();
  }

  private async handle(batch: LogRecord[]): Promise<HandledBatch> {
    await this.output.ready();
    if (this.history !== undefined) await this.restoreStale(batch);
    // Each partition's records stay in offset order: micro-batches are consecutive slices. With
    // claims, the next micro-batch is admitted and its claim asked before this one is decided, so
    // the store's round trip overlaps the work (its size is chosen one observation early).
    let current = this.admit(batch, 0);
    for (;;) {
      const ahead = this.claims !== undefined && current.end < batch.length ? this.admit(batch, current.end) : undefined;
      const verdicts = await current.verdicts;
      const started = this.now();
      const results = this.pipeline.decide(current.admitted, verdicts, undefined, current.times);
      this.microBatch?.observe(current.admitted.records.length, current.admitMs + this.now() - started);
      const spans = current.times === undefined ? undefined : traceBatch(this.tracing!.tracing, this.tracing!.label, current.admitted, results, current.times);
      this.handOn(results);
      // After the outputs opened their store and publish spans under them.
      if (spans !== undefined) for (const span of spans) span.end();
      if (current.end === batch.length) break;
      await yieldToEventLoop();
      await this.output.ready();
      current = ahead ?? this.admit(batch, current.end);
    }
    return { durable: this.output.durable?.() ?? Promise.resolve() };
  }

  /** The micro-batch from `from`: validated, and its event ids' claim asked (an I/O wait, not counted as work). */
  private admit(batch: LogRecord[], from: number): { admitted: AdmittedBatch; end: number; admitMs: number; verdicts: Promise<(ClaimVerdict | undefined)[]> | undefined; times: StepTimes | undefined } {
    const size = this.microBatch?.size ?? batch.length;
    const part = from === 0 && size >= batch.length ? batch : batch.slice(from, from + size);
    const times = this.tracing === undefined ? undefined : new StepTimes(part.length);
    const started = this.now();
    const admitted = this.pipeline.admit(part, this.stage);
    const verdicts = this.claims === undefined ? undefined : this.judge(admitted, this.claims);
    return { admitted, end: from + part.length, admitMs: this.now() - started, verdicts, times };
  }

  private handOn(results: PipelineResult[]): void {
    for (const result of results) {
      switch (result.kind) {
        case 'decided':
          this.output.decided(result);
          break;
        case 'forward':
          this.output.forward(result);
          break;
        case 'dead_letter':
          this.output.deadLetter(result.letter, result.trace);
          break;
        case 'duplicate':
          this.output.duplicate(result.event_id, result.trace);
          break;
        case 'conflict':
          this.output.conflict(result.letter, result.trace);
          break;
      }
    }
  }

  /**
   * The claims' verdicts on a micro-batch's valid records, in one round trip: the first record of
   * each event id asks, then every record is judged against the holder of its id — itself
   * (decide), the same body (duplicate) or another (conflict). So a re-send loses to the first of
   * its batch, and across partitions and processors to whichever record claimed the id first.
   */
  private async judge(admitted: AdmittedBatch, claims: EventClaims): Promise<(ClaimVerdict | undefined)[]> {
    const { records, events } = admitted;
    const hashes: (string | undefined)[] = new Array(records.length);
    const requests: ClaimRequest[] = [];
    const asked = new Set<string>();
    for (let i = 0; i < records.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      const record = records[i]!;
      const hash = (hashes[i] = record.validated?.bodyHash ?? bodyHash(record.value as object));
      if (asked.has(event.event_id)) continue;
      asked.add(event.event_id);
      requests.push({ event_id: event.event_id, body_hash: hash, position: { partition: record.partition, offset: record.offset } });
    }
    const holders = await claims.claim(requests);
    const holderOf = new Map(requests.map((r, k) => [r.event_id, holders[k]!]));
    return records.map((record, i): ClaimVerdict | undefined => {
      const event = events[i];
      if (event === undefined) return undefined;
      const holder = holderOf.get(event.event_id)!;
      const hash = hashes[i]!;
      if (holder.position?.partition === record.partition && holder.position.offset === record.offset) return { kind: 'decide', body_hash: hash };
      if (holder.body_hash === null || holder.body_hash === hash) return DUPLICATE;
      return { kind: 'conflict', decided_hash: holder.body_hash, body_hash: hash };
    });
  }

  /** A partition seen for the first time, or again after others processed it, gets its state back first. */
  private async restoreStale(batch: LogRecord[]): Promise<void> {
    // Where each partition's state must stand: past a transaction marker the record's offset is
    // beyond it (a later stage's input is written in transactions), though nothing was missed.
    const first = new Map<number, number>();
    for (const r of batch) if (!first.has(r.partition)) first.set(r.partition, r.follows ?? r.offset);
    for (const [partition, offset] of first) {
      if (!this.pipeline.needsRestore(partition, offset, this.stage)) continue;
      const started = performance.now();
      const history = await this.history!.load(partition, offset);
      this.history!.onRestored?.(partition, this.pipeline.restore(partition, history, offset, this.stage), performance.now() - started);
    }
  }
}
