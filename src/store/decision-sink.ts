// Batched, idempotent writer of events, decisions and dead letters: one transaction per flush.
import type { RtdsEvent } from '../contracts/index.ts';
import type { LogPosition } from '../transport/log.ts';
import type { Database } from './database.ts';
import { isUniqueViolation } from './statement.ts';
import { insertDeadLetters, type DeadLetter } from './dead-letters.ts';
import { copyDecisions, insertDecisions, type DecisionRecord } from './decisions.ts';
import { copyEvents, insertEvents } from './events.ts';

export interface DecidedEvent {
  event: RtdsEvent;
  decision: DecisionRecord;
  position?: LogPosition;
}

export interface SinkOptions {
  batchSize: number;
  flushMs: number;
  /** Batches written at once (each in its own transaction, on its own connection). */
  concurrency: number;
  /** Name of the log (topic) the events' positions refer to. */
  log?: string;
  /** Called after each successful flush with the decided events and dead letters written. */
  onFlush?: (written: { rows: number; deadLetters: number; ms: number }) => void;
  onError?: (err: unknown) => void;
}

/**
 * Buffers what the processor produces and writes it in batches. A batch is retried until it
 * lands, so nothing accepted is dropped; the primary keys make retries and re-sends harmless.
 */
export class DecisionSink {
  private decided: DecidedEvent[] = [];
  private deadLetters: DeadLetter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();
  private drainWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly options: SinkOptions,
  ) {}

  /** Rows waiting to be written: the processor slows down when this grows. */
  get pending(): number {
    return this.decided.length + this.deadLetters.length;
  }

  write(item: DecidedEvent): void {
    this.decided.push(item);
    this.schedule();
  }

  writeDeadLetter(letter: DeadLetter): void {
    this.deadLetters.push(letter);
    this.schedule();
  }

  /** Resolves once pending rows fall to `threshold` or below. */
  async belowOrEqual(threshold: number): Promise<void> {
    while (this.pending > threshold) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Write everything buffered now. */
  async flush(): Promise<void> {
    while (this.writing.size > 0 || this.pending > 0) {
      this.startWrites();
      await Promise.race(this.writing);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.flush();
  }

  /** Start batches while connections are free; rows are independent, so batches may land in any order. */
  private startWrites(): void {
    while (this.writing.size < this.options.concurrency && this.pending > 0) {
      const write: Promise<void> = this.writeBatch().finally(() => {
        this.writing.delete(write);
        // Rows that gathered meanwhile: a full batch goes now, a partial one on the timer.
        if (this.pending > 0) this.schedule();
      });
      this.writing.add(write);
    }
  }

  private schedule(): void {
    if (this.pending >= this.options.batchSize) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.startWrites();
    } else if (this.writing.size > 0) {
      return; // the running write's completion picks the rest up
    } else if (this.timer === undefined && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.options.flushMs);
    }
  }

  private async writeBatch(): Promise<void> {
    const decided = this.decided.splice(0, this.options.batchSize);
    const letters = this.deadLetters.splice(0, this.options.batchSize);
    const started = performance.now();
    try {
      const letterRows = letters.length === 0 ? [] : [insertDeadLetters(letters)];
      try {
        // COPY first: new rows are the rule. One stored before (a batch replayed after a failure)
        // fails the whole COPY, and the batch is written again skipping what exists.
        await this.db.batch([copyEvents(decided, this.options.log), copyDecisions(decided.map((d) => d.decision)), ...letterRows]);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        await this.db.batch([insertEvents(decided, this.options.log), insertDecisions(decided.map((d) => d.decision)), ...letterRows]);
      }
      this.options.onFlush?.({ rows: decided.length, deadLetters: letters.length, ms: performance.now() - started });
    } catch (err) {
      // Put the batch back in front and retry after a pause: the store may be restarting.
      this.decided = decided.concat(this.decided);
      this.deadLetters = letters.concat(this.deadLetters);
      this.options.onError?.(err);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}
