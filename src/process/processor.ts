// The processor runtime: pulls batches from a record source, runs the pipeline, hands results on.
import type { DeadLetter } from '../store/index.ts';
import type { HandledBatch, LogRecord, RecordSource } from '../transport/log.ts';
import type { Decided, DecisionPipeline, PartitionHistory, PipelineResult } from './decision-pipeline.ts';
import type { MicroBatchSize } from './micro-batch-size.ts';

/** Where the processor's results go: the store's sink, the live feeds, the metrics. */
export interface ProcessorOutput {
  decided(result: Decided): void;
  deadLetter(letter: DeadLetter): void;
  duplicate(eventId: string): void;
  /** Resolves when the output can take more (backpressure from the store). */
  ready(): Promise<void>;
  /**
   * Resolves when everything handed over before the call is durable. The source commits a batch's
   * offsets only after, so a crash replays rather than loses. Absent: a batch commits once handled.
   */
  durable?: () => Promise<void>;
}

/**
 * Reads a partition's decided history before `beforeOffset`, in offset order, with its fraud
 * verdicts: how state follows a partition to another instance (see README, "On Kafka and PostgreSQL").
 */
export type LoadPartitionHistory = (partition: number, beforeOffset: number) => Promise<PartitionHistory>;

export interface ProcessorOptions {
  /** Where a partition's state comes back from when it arrives from elsewhere (Kafka); absent when the process restores all up front. */
  history?: { load: LoadPartitionHistory; onRestored?: (partition: number, events: number, ms: number) => void } | undefined;
  /** How a large batch is cut into micro-batches; absent: each batch runs whole. */
  microBatch?: MicroBatchSize | undefined;
  /** Clock for the micro-batch timing, ms; default performance.now. */
  now?: () => number;
}

/** Lets queued I/O (HTTP requests, store writes) run between two micro-batches. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Processor {
  private readonly history: ProcessorOptions['history'];
  private readonly microBatch: MicroBatchSize | undefined;
  private readonly now: () => number;

  constructor(
    private readonly source: RecordSource,
    private readonly pipeline: DecisionPipeline,
    private readonly output: ProcessorOutput,
    options: ProcessorOptions = {},
  ) {
    this.history = options.history;
    this.microBatch = options.microBatch;
    this.now = options.now ?? (() => performance.now());
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

  private async handle(batch: LogRecord[]): Promise<HandledBatch> {
    await this.output.ready();
    if (this.history !== undefined) await this.restoreStale(batch);
    // Each partition's records stay in offset order: micro-batches are consecutive slices.
    for (let from = 0; from < batch.length; ) {
      const size = this.microBatch?.size ?? batch.length;
      const part = from === 0 && size >= batch.length ? batch : batch.slice(from, from + size);
      if (from > 0) {
        await yieldToEventLoop();
        await this.output.ready();
      }
      const started = this.now();
      const results = this.pipeline.processBatch(part);
      this.microBatch?.observe(part.length, this.now() - started);
      this.handOn(results);
      from += part.length;
    }
    return { durable: this.output.durable?.() ?? Promise.resolve() };
  }

  private handOn(results: PipelineResult[]): void {
    for (const result of results) {
      switch (result.kind) {
        case 'decided':
          this.output.decided(result);
          break;
        case 'dead_letter':
          this.output.deadLetter(result.letter);
          break;
        case 'duplicate':
          this.output.duplicate(result.event_id);
          break;
      }
    }
  }

  /** A partition seen for the first time, or again after others processed it, gets its state back first. */
  private async restoreStale(batch: LogRecord[]): Promise<void> {
    const first = new Map<number, number>();
    for (const r of batch) if (!first.has(r.partition)) first.set(r.partition, r.offset);
    for (const [partition, offset] of first) {
      if (!this.pipeline.needsRestore(partition, offset)) continue;
      const started = performance.now();
      const history = await this.history!.load(partition, offset);
      this.history!.onRestored?.(partition, this.pipeline.restore(partition, history, offset), performance.now() - started);
    }
  }
}
