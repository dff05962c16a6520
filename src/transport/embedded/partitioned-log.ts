// The embedded transport: an in-process partitioned log with consumer-side offsets, read like Kafka.
import { epochMs, partitionFor, type BatchHandler, type EventLogProducer, type LogRecord, type RecordSource } from '../log.ts';

class Partition {
  /** Records from `base` on; older ones were committed by every group and dropped. */
  records: LogRecord[] = [];
  base = 0;
  get end(): number {
    return this.base + this.records.length;
  }
}

/**
 * A topic of N partitions held in memory. Each consumer group keeps its own committed offset per
 * partition; records are released once every group has committed past them.
 */
export class PartitionedLog implements EventLogProducer {
  private readonly parts: Partition[];
  private readonly groups = new Map<string, number[]>();
  private readonly listeners = new Set<(partition: number) => void>();

  constructor(readonly partitions: number) {
    this.parts = Array.from({ length: partitions }, () => new Partition());
  }

  append(key: string, value: unknown): void {
    const p = partitionFor(key, this.partitions);
    const part = this.parts[p]!;
    part.records.push({ partition: p, offset: part.end, key, value, acceptedAt: epochMs() });
    for (const l of this.listeners) l(p);
  }

  endOffset(partition: number): number {
    return this.parts[partition]!.end;
  }

  /** Up to `max` records of a partition from `offset`. */
  read(partition: number, offset: number, max: number): LogRecord[] {
    const part = this.parts[partition]!;
    const from = Math.max(offset, part.base) - part.base;
    return part.records.slice(from, from + max);
  }

  committed(group: string, partition: number): number {
    return this.groups.get(group)?.[partition] ?? 0;
  }

  commit(group: string, partition: number, offset: number): void {
    let offsets = this.groups.get(group);
    if (offsets === undefined) {
      offsets = new Array<number>(this.partitions).fill(0);
      this.groups.set(group, offsets);
    }
    offsets[partition] = offset;
    this.release(partition);
  }

  onAppend(listener: (partition: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drop records every group has committed, keeping memory bounded by the slowest group's lag. */
  private release(partition: number): void {
    let min = Infinity;
    for (const offsets of this.groups.values()) min = Math.min(min, offsets[partition]!);
    const part = this.parts[partition]!;
    const drop = min - part.base;
    // Compact in chunks: slicing an array on every commit would cost O(lag) each time.
    if (drop >= 4096 || (drop > 0 && drop === part.records.length)) {
      part.records = part.records.slice(drop);
      part.base = min;
    }
  }

  /** A consumer of this log in a consumer group, owning every partition. */
  consumer(group: string, maxBatch = 512): RecordSource {
    return new EmbeddedConsumer(this, group, maxBatch);
  }
}

/** Delivers each partition's records in order, one in-flight batch per partition. */
class EmbeddedConsumer implements RecordSource {
  private handler: BatchHandler | undefined;
  private readonly inFlight = new Set<number>();
  private readonly pending = new Set<number>();
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;
  private idle: (() => void) | undefined;
  private stopping = false;

  constructor(
    private readonly log: PartitionedLog,
    private readonly group: string,
    private readonly maxBatch: number,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    this.unsubscribe = this.log.onAppend((p) => this.wake(p));
    for (let p = 0; p < this.log.partitions; p++) this.wake(p);
  }

  lag(): number {
    let lag = 0;
    for (let p = 0; p < this.log.partitions; p++) lag += this.log.endOffset(p) - this.log.committed(this.group, p);
    return lag;
  }

  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.unsubscribe?.();
    if (options.drain === true) {
      for (let p = 0; p < this.log.partitions; p++) this.wake(p);
    } else {
      this.stopping = true;
      this.pending.clear();
    }
    if (this.inFlight.size > 0 || this.pending.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.stopping = true;
  }

  private wake(partition: number): void {
    if (this.stopping) return;
    this.pending.add(partition);
    if (!this.scheduled) {
      this.scheduled = true;
      // Appends in one tick are delivered together: batching without a timer.
      setImmediate(() => this.deliver());
    }
  }

  private deliver(): void {
    this.scheduled = false;
    for (const p of [...this.pending]) {
      if (this.inFlight.has(p)) continue;
      this.pending.delete(p);
      const offset = this.log.committed(this.group, p);
      const batch = this.log.read(p, offset, this.maxBatch);
      if (batch.length === 0) continue;
      this.inFlight.add(p);
      const next = batch[batch.length - 1]!.offset + 1;
      this.handler!(batch)
        .then((handled) => handled.durable)
        .then(
          () => {
            this.log.commit(this.group, p, next);
            this.inFlight.delete(p);
            // More records, or a wake that came while the batch was in flight (a draining stop): deliver again.
            if (this.log.endOffset(p) > next || this.pending.has(p)) this.wake(p);
            this.settle();
          },
          (err: unknown) => {
            // The handler owns error handling per record; a rejected batch is a bug, so surface it.
            this.inFlight.delete(p);
            this.settle();
            throw err;
          },
        );
    }
    this.settle();
  }

  private settle(): void {
    if (this.idle !== undefined && this.inFlight.size === 0 && this.pending.size === 0 && !this.scheduled) {
      const resolve = this.idle;
      this.idle = undefined;
      resolve();
    }
  }
}
