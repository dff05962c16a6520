// The embedded transport: a partitioned log with consumer-side offsets, read like Kafka; durable in a folder, or in memory only.
import type { LocalSpan } from '../../observe/tracing/index.ts';
import { epochMs, partitionFor, type BatchHandler, type EdgeValidated, type EventLogProducer, type LogRecord, type RecordSource, type SourceProgress } from '../log.ts';
import { LogFolder, LogFolderError, type LogFolderOptions } from './log-folder.ts';

class Partition {
  /** Records from `base` on; older ones were committed by every group and dropped. */
  records: LogRecord[] = [];
  base = 0;
  get end(): number {
    return this.base + this.records.length;
  }
}

/** Records appended together, written with one write and one fdatasync (group commit). */
interface AppendGroup {
  records: LogRecord[];
  written: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface DurableLogOptions extends Omit<LogFolderOptions, 'partitions'> {
  /** The name of a log created now; an existing folder keeps the name it was created with. */
  newName: () => string;
  /** Persisting committed offsets failed (retried at the next commit; a restart replays more meanwhile). */
  onCommitError?: (err: unknown) => void;
}

/** Committed offsets are persisted at most this often: a restart replays at most this much more, which the store recognises. */
const COMMIT_PERSIST_MS = 100;

/**
 * A topic of N partitions. Each consumer group keeps its own committed offset per partition;
 * records are released once every group has committed past them. Opened on a folder, an append
 * resolves once its record is written (and synced) there, and only then do consumers see it; a
 * reopened log delivers again every record its groups had not committed.
 */
export class PartitionedLog implements EventLogProducer {
  private readonly parts: Partition[];
  private readonly groups = new Map<string, number[]>();
  private readonly listeners = new Set<(partition: number) => void>();
  /** Appends waiting for the write in progress to finish. */
  private group: AppendGroup | undefined;
  private writer: Promise<void> | undefined;
  private persistTimer: NodeJS.Timeout | undefined;
  private persisted: Promise<void> = Promise.resolve();

  constructor(
    readonly partitions: number,
    private readonly folder?: LogFolder,
    /** The durable log's name; undefined in memory. */
    readonly name?: string,
    private readonly onCommitError?: (err: unknown) => void,
  ) {
    this.parts = Array.from({ length: partitions }, () => new Partition());
  }

  /** The log kept in `options.dir`: what its groups had not committed is read back and delivered again. */
  static async open(partitions: number, options: DurableLogOptions): Promise<PartitionedLog> {
    const { folder, contents } = await LogFolder.open({ ...options, partitions }, options.newName);
    const log = new PartitionedLog(partitions, folder, contents.name, options.onCommitError);
    for (const [group, offsets] of contents.committed) log.groups.set(group, Array.from({ length: partitions }, (_, p) => offsets[p] ?? 0));
    const committed = [...log.groups.values()];
    // Records every group committed stay out of memory; the rest are delivered again.
    const from = (p: number): number => (committed.length === 0 ? 0 : Math.min(...committed.map((offsets) => offsets[p]!)));
    for (const r of contents.records) {
      const part = log.parts[r.partition]!;
      if (part.records.length === 0) {
        part.base = r.offset + 1;
        if (r.offset < from(r.partition)) continue;
        part.base = r.offset;
      } else if (r.offset !== part.end) {
        throw new LogFolderError(options.dir, `partition ${r.partition} jumps from offset ${part.end - 1} to ${r.offset}: a segment is missing; move the folder aside`);
      }
      part.records.push(r);
    }
    // A group may have committed past what the segments still hold: appends continue after it.
    for (let p = 0; p < partitions; p++) {
      const part = log.parts[p]!;
      if (part.records.length === 0) part.base = Math.max(part.base, ...committed.map((offsets) => offsets[p]!));
    }
    return log;
  }

  /**
   * `trace` travels with the record in memory, holding its trace open until the processor takes
   * the record; so does `validated` (the files keep neither).
   */
  append(key: string, value: unknown, trace?: LocalSpan, validated?: EdgeValidated): Promise<void> | void {
    const p = partitionFor(key, this.partitions);
    trace?.hold();
    if (this.folder === undefined) {
      const part = this.parts[p]!;
      part.records.push({ partition: p, offset: part.end, key, value, acceptedAt: epochMs(), trace, validated });
      for (const l of this.listeners) l(p);
      return;
    }
    if (this.group === undefined) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const written = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.group = { records: [], written, resolve, reject };
      this.writer ??= this.writeGroups();
    }
    // The offset is given when the group is written: a failed write leaves no gap.
    this.group.records.push({ partition: p, offset: -1, key, value, acceptedAt: epochMs(), trace, validated });
    return this.group.written;
  }

  /**
   * Write groups one after the other until none waits; each becomes visible to consumers once
   * written. Appends made in this turn join the first group (the loop starts after a microtask);
   * later ones wait for its write and share the next.
   */
  private async writeGroups(): Promise<void> {
    await Promise.resolve();
    for (let group = this.group; group !== undefined; group = this.group) {
      this.group = undefined;
      const ends = this.parts.map((part) => part.end);
      for (const r of group.records) r.offset = ends[r.partition]!++;
      try {
        await this.folder!.write(group.records);
      } catch (err) {
        // Never appended: no processor will take up their traces.
        for (const r of group.records) if (r.trace !== undefined && 'release' in r.trace) r.trace.release();
        group.reject(err);
        continue;
      }
      const touched = new Set<number>();
      for (const r of group.records) {
        this.parts[r.partition]!.records.push(r);
        touched.add(r.partition);
      }
      for (const p of touched) for (const l of this.listeners) l(p);
      group.resolve();
    }
    this.writer = undefined;
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
    if (this.folder !== undefined) this.persistTimer ??= setTimeout(() => this.persistCommitted(), COMMIT_PERSIST_MS);
  }

  onAppend(listener: (partition: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Finish the writes under way, persist the committed offsets and close the folder. */
  async close(): Promise<void> {
    if (this.group !== undefined) this.writer ??= this.writeGroups();
    while (this.writer !== undefined) await this.writer;
    if (this.persistTimer !== undefined) this.persistCommitted();
    await this.persisted;
    await this.folder?.close();
  }

  /** Persist a copy of the offsets as they are now, after any persist under way. */
  private persistCommitted(): void {
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    const snapshot = new Map([...this.groups].map(([group, offsets]) => [group, [...offsets]]));
    this.persisted = this.persisted.then(() => this.folder!.commit(snapshot)).catch((err: unknown) => this.onCommitError?.(err));
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

/**
 * Records handled per partition ahead of their commits: the next batches are processed while the
 * store writes the previous ones, as the Kafka source does. Counted in records, not batches, so
 * that at a low rate (batches of a few records) decisions do not wait for the store.
 */
const MAX_RECORDS_AHEAD = 4096;

/** Delivers each partition's records in order, one batch in processing per partition, and commits each once durable. */
class EmbeddedConsumer implements RecordSource {
  private handler: BatchHandler | undefined;
  private readonly inFlight = new Set<number>();
  private readonly pending = new Set<number>();
  /** Next offset to deliver per partition; the committed offset until a batch is delivered. */
  private readonly next: number[];
  /** Records delivered and not yet committed, per partition; the commits of their batches are chained in order. */
  private readonly ahead: number[];
  private readonly commits: Promise<void>[];
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;
  private idle: (() => void) | undefined;
  private stopping = false;

  constructor(
    private readonly log: PartitionedLog,
    private readonly group: string,
    private readonly maxBatch: number,
  ) {
    this.next = Array.from({ length: log.partitions }, () => -1);
    this.ahead = new Array<number>(log.partitions).fill(0);
    this.commits = Array.from({ length: log.partitions }, () => Promise.resolve());
  }

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    this.unsubscribe = this.log.onAppend((p) => this.wake(p));
    for (let p = 0; p < this.log.partitions; p++) this.wake(p);
  }

  lag(): number {
    return this.progress().partitions.reduce((n, p) => n + (p.lag ?? 0), 0);
  }

  /** Every partition: the embedded log has one consumer per group. */
  progress(): SourceProgress {
    const partitions = Array.from({ length: this.log.partitions }, (_, partition) => {
      const committed = this.log.committed(this.group, partition);
      const end = this.log.endOffset(partition);
      return { partition, committed, end, lag: end - committed };
    });
    return { member: null, partitions, problem: null };
  }

  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.unsubscribe?.();
    if (options.drain === true) {
      for (let p = 0; p < this.log.partitions; p++) this.wake(p);
    } else {
      this.stopping = true;
      this.pending.clear();
    }
    if (!this.isIdle()) await new Promise<void>((resolve) => (this.idle = resolve));
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
      // A partition already processing, or far enough ahead of its commits, is woken again when that ends.
      if (this.inFlight.has(p) || this.ahead[p]! >= MAX_RECORDS_AHEAD) continue;
      this.pending.delete(p);
      if (this.next[p]! < 0) this.next[p] = this.log.committed(this.group, p);
      const batch = this.log.read(p, this.next[p]!, this.maxBatch);
      if (batch.length === 0) continue;
      this.inFlight.add(p);
      this.ahead[p]! += batch.length;
      const next = batch[batch.length - 1]!.offset + 1;
      this.next[p] = next;
      this.handler!(batch).then(
        (handled) => {
          this.inFlight.delete(p);
          this.commits[p] = this.commits[p]!.then(() => handled.durable).then(() => {
            this.log.commit(this.group, p, next);
            this.ahead[p]! -= batch.length;
            this.continue(p);
          });
          this.continue(p);
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

  /** More records, or a wake that came while the partition was busy (a draining stop): deliver again. */
  private continue(p: number): void {
    if (this.log.endOffset(p) > this.next[p]! || this.pending.has(p)) this.wake(p);
    this.settle();
  }

  private isIdle(): boolean {
    return this.inFlight.size === 0 && this.pending.size === 0 && !this.scheduled && this.ahead.every((n) => n === 0);
  }

  private settle(): void {
    if (this.idle !== undefined && this.isIdle()) {
      const resolve = this.idle;
      this.idle = undefined;
      resolve();
    }
  }
}
