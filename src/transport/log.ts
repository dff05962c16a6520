// The partitioned-log seam: what the processor reads and producers write, embedded or on Kafka.
import { MAX_JSON_DEPTH, nestedDeeperThan, type RtdsEvent } from '../contracts/index.ts';
import type { LocalSpan, TraceHeaders } from '../observe/tracing/index.ts';

/** Where a record sits in the log. */
export interface LogPosition {
  partition: number;
  offset: number;
}

/** One record of a partition, as a consumer sees it. */
export interface LogRecord {
  partition: number;
  offset: number;
  /**
   * The offset this record comes right after in the reading that delivered it: one past the record
   * read before it, or the committed offset a reading resumed from. It differs from `offset` where
   * the log holds records no reader gets — Kafka's transaction markers and aborted records — so a
   * partition's state that reached `follows` is current for this record. Absent: `offset`.
   */
  follows?: number | undefined;
  /** Partition key (user_id for events). */
  key: string;
  /** The decoded payload; untrusted until validated. */
  value: unknown;
  /** When the log accepted the record (epoch ms, sub-ms precision where the transport has it). */
  acceptedAt: number;
  /**
   * The trace its producer was in, when traced: a Kafka record's W3C headers, or on the embedded
   * log the appending span itself (in memory only: the log's files do not keep it).
   */
  trace?: LocalSpan | TraceHeaders | undefined;
  /**
   * On the embedded log, in memory only: the event as the edge that appended the record validated
   * it, so the processor does not validate the same body again (a record read back from the log's
   * files has none, nor has a Kafka record: those are validated by the processor).
   */
  validated?: EdgeValidated | undefined;
}

/** An event validated at the edge that appends its body: the validated event (as of the edge's clock) and the body's hash (contracts' bodyHash). */
export interface EdgeValidated {
  event: RtdsEvent;
  bodyHash: string;
}

/** A record whose bytes are not JSON: it still reaches the pipeline, which dead-letters it with this reason. */
export class UndecodableRecord {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {}
}

/**
 * A record's text as the pipeline receives it: its JSON value, or an UndecodableRecord saying why
 * not (over `maxBytes`, not JSON, nested too deep) — refused here, as at the HTTP edge, while the
 * record's own text is at hand for its dead letter.
 */
export function decodeRecordValue(text: string, maxBytes: number): unknown {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most records are judged by length alone.
  if (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes) return new UndecodableRecord(text, `value is ${Buffer.byteLength(text)} bytes, over the ${maxBytes}-byte limit of an event`);
  try {
    const value: unknown = JSON.parse(text);
    return nestedDeeperThan(value, MAX_JSON_DEPTH) ? new UndecodableRecord(text, `value nests deeper than ${MAX_JSON_DEPTH} levels`) : value;
  } catch (err) {
    return new UndecodableRecord(text, `value is not valid JSON: ${(err as Error).message}`);
  }
}

/** Producer side of the events log. */
export interface EventLogProducer {
  /**
   * Append a record; records with the same key keep their order. `trace`: the span appending it,
   * whose context the record carries. `validated`: the value's event as the appending edge
   * validated it (with the processor's validation options), kept with the record where the log
   * can (the embedded log, in memory).
   */
  append(key: string, value: unknown, trace?: LocalSpan, validated?: EdgeValidated): Promise<void> | void;
}

/**
 * Publish a record to a topic: from a batch's handler, in that batch's transaction when
 * exactly-once (else at least once); `partition`, when given, rather than the key's default.
 */
export type Publish = (topic: string, key: string, value: string, headers?: Record<string, string>, partition?: number) => void;

/** A batch the handler has processed: its results are decided, and durable once `durable` resolves. */
export interface HandledBatch {
  durable: Promise<void>;
}

/**
 * Resolves when the batch is processed. The source delivers the next batch then, while it waits
 * for `durable` to commit this one: processing overlaps the store and the commit.
 */
export type BatchHandler = (batch: LogRecord[]) => Promise<HandledBatch>;

/** One partition a consumer owns, as far as it knows: offsets are the next record's. */
export interface PartitionProgress {
  partition: number;
  /** Everything before it is processed and durable; null where the group has committed nothing yet. */
  committed: number | null;
  /** One past the last record appended; null until known. */
  end: number | null;
  /** Records appended and not yet committed; null until known. */
  lag: number | null;
}

/** What a consumer reads now: its place in the group and the partitions it owns. */
export interface SourceProgress {
  /** Kafka's member id and generation; null on the embedded log, or out of the group. */
  member: { id: string; generation: number } | null;
  partitions: PartitionProgress[];
  /** Why the consumer is not reading now (rejoining its group after a failure); null while it reads. */
  problem: string | null;
}

/**
 * Consumer side: delivers batches in offset order per partition to a handler, and commits a batch
 * once its results are durable. Work handled but not yet committed is bounded, which is how
 * backpressure reaches the log.
 */
export interface RecordSource {
  start(handler: BatchHandler): Promise<void>;
  /** Stop delivering, after delivering what was already in the log when `drain` is true. */
  stop(options?: { drain?: boolean }): Promise<void>;
  /** Records appended but not yet committed, over all partitions. */
  lag(): number;
  progress(): SourceProgress;
}

/** Epoch milliseconds with sub-millisecond precision: the clock of acceptedAt and of decision latency. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/**
 * The partition of a key as Kafka's Java client (and RTDS's producer) places it: murmur2 of the
 * key's UTF-8 bytes, top bit cleared, modulo the partition count. The embedded log, Kafka and
 * history replays (training) thereby group users alike. Written over 32-bit integers, since the
 * client's own murmur2 computes in BigInt and costs microseconds per key.
 */
export function partitionFor(key: string, partitions: number): number {
  // An ASCII key's UTF-8 bytes are its character codes, copied into a reused buffer: the encoder
  // is a call into the runtime and an object per key, more than the whole hash costs.
  const n = key.length;
  let i = 0;
  if (n <= KEY_SCRATCH.length) {
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) break;
      KEY_SCRATCH[i] = c;
    }
  }
  if (i === n) return (murmur2(KEY_SCRATCH, n) & 0x7fffffff) % partitions;
  // Encoded into the same buffer: no allocation per key (a key of up to 341 characters always fits).
  const bytes = n * 3 <= KEY_SCRATCH.length ? KEY_SCRATCH : new Uint8Array(n * 3);
  const { written } = UTF8.encodeInto(key, bytes);
  return (murmur2(bytes, written) & 0x7fffffff) % partitions;
}

const UTF8 = new TextEncoder();
const KEY_SCRATCH = new Uint8Array(1024);

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of the first `length` bytes. */
function murmur2(data: Uint8Array, length: number): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}
