// The partitioned-log seam: what the processor reads and producers write, embedded or on Kafka.

/** Where a record sits in the log. */
export interface LogPosition {
  partition: number;
  offset: number;
}

/** One record of a partition, as a consumer sees it. */
export interface LogRecord {
  partition: number;
  offset: number;
  /** Partition key (user_id for events). */
  key: string;
  /** The decoded payload; untrusted until validated. */
  value: unknown;
  /** When the log accepted the record (epoch ms, sub-ms precision where the transport has it). */
  acceptedAt: number;
}

/** A record whose bytes are not JSON: it still reaches the pipeline, which dead-letters it with this reason. */
export class UndecodableRecord {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {}
}

/** Producer side of the events log. */
export interface EventLogProducer {
  /** Append a record; records with the same key keep their order. */
  append(key: string, value: unknown): Promise<void> | void;
}

/** A batch the handler has processed: its results are decided, and durable once `durable` resolves. */
export interface HandledBatch {
  durable: Promise<void>;
}

/**
 * Resolves when the batch is processed. The source delivers the next batch then, while it waits
 * for `durable` to commit this one: processing overlaps the store and the commit.
 */
export type BatchHandler = (batch: LogRecord[]) => Promise<HandledBatch>;

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
}

/** Epoch milliseconds with sub-millisecond precision: the clock of acceptedAt and of decision latency. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Stable partition for a key: FNV-1a over UTF-16 code units, the same in every process. */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
