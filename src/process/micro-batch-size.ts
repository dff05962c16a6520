// How many records the processor runs through the pipeline at once: as many as fit the latency budget.

export interface MicroBatchOptions {
  /** Target time for one micro-batch (features, scoring, decisions), ms. */
  budgetMs: number;
  /** Bounds on the size; the size starts at `max`, so a quiet stream is never split. */
  min: number;
  max: number;
  /** Weight of the newest observation in the cost estimate; default 0.3. */
  smoothing?: number;
}

/**
 * A large batch (a backlog, or a busy Kafka poll) is cut into micro-batches so that each takes
 * about `budgetMs`: the first decisions of the batch leave without waiting for the last, and the
 * event loop (HTTP, store writes) gets a turn between micro-batches. The size follows the measured
 * cost per record (a moving average), so it shrinks when the model or the features get slower
 * and grows back when they recover. Larger micro-batches amortise the per-batch work of the
 * scorer; the budget is where that stops paying.
 */
export class MicroBatchSize {
  private msPerRecord: number | undefined;
  private current: number;
  private readonly smoothing: number;

  constructor(private readonly options: MicroBatchOptions) {
    if (!(options.budgetMs > 0) || !(options.min >= 1) || !(options.max >= options.min)) throw new RangeError(`micro-batch bounds must satisfy budget > 0 and 1 ≤ min ≤ max; got ${JSON.stringify(options)}`);
    this.smoothing = options.smoothing ?? 0.3;
    this.current = options.max;
  }

  /** Records to take for the next micro-batch. */
  get size(): number {
    return this.current;
  }

  /** The cost per record the size is based on (undefined before the first observation), ms. */
  get costMs(): number | undefined {
    return this.msPerRecord;
  }

  /** A micro-batch of `records` took `ms`. */
  observe(records: number, ms: number): void {
    if (records <= 0 || !(ms >= 0)) return;
    const cost = ms / records;
    this.msPerRecord = this.msPerRecord === undefined ? cost : this.msPerRecord + this.smoothing * (cost - this.msPerRecord);
    const fits = this.msPerRecord > 0 ? Math.floor(this.options.budgetMs / this.msPerRecord) : this.options.max;
    this.current = Math.min(this.options.max, Math.max(this.options.min, fits));
  }
}
