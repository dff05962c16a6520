// Batched, idempotent writer of events, decisions and dead letters: one transaction per flush.
import type { RtdsEvent } from '../contracts/index.ts';
import type { LogPosition } from '../transport/log.ts';
import type { Database } from './database.ts';
import { isUniqueViolation } from './statement.ts';
import { insertDeadLetters, type DeadLetter } from './dead-letters.ts';
import { copyDecisions, insertDecisions, type DecisionRecord } from './decisions.ts';
import { copyEvents, insertEvents } from './events.ts';

export interface DecidedEvent extends DecisionRecord {
  event: RtdsEvent;
  position?: LogPosition;
}

export interface SinkOptions {
  batchSize: number;
  flushMs: number;
  /** Batches written at once (each in its own transaction, on its own connection). */
  concurrency: number;
  /** Name of the log (topic) the events' positions refer to. */
  log?: string;
  /** Version of the feature set the decisions' vectors come from. */
  featureSet?: string;
  /** Called after each successful flush with the decided events and dead letters written. */
  onFlush?: (written: { rows: number; deadLetters: number; ms: number }) => void;
  onError?: (err: unknown) => void;
}

/** Rows sealed for one write: one transaction on one connection. */
interface Chunk {
  decided: DecidedEvent[];
  letters: DeadLetter[];
  written: Promise<void>;
}

/**
 * Buffers what the processor produces and writes it in batches. A batch is retried until it
 * lands, so nothing accepted is dropped; the primary keys make retries and re-sends harmless.
 */
export class DecisionSink {
  private decided: DecidedEvent[] = [];
  private deadLetters: DeadLetter[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Sealed chunks waiting for a connection, oldest first. */
  private readonly queue: { chunk: Chunk; done: () => void }[] = [];
  /** Sealed chunks not yet written (queued or on a connection), and their rows. */
  private readonly unwritten = new Set<Chunk>();
  private unwrittenRows = 0;
  private writing = 0;
  private drainWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly options: SinkOptions,
  ) {}

  /** Rows waiting to be written: the processor slows down when this grows. */
  get pending(): number {
    return this.decided.length + this.deadLetters.length + this.unwrittenRows;
  }

  write(item: DecidedEvent): void {
    this.decided.push(item);
    this.added();
  }

  writeDeadLetter(letter: DeadLetter): void {
    this.deadLetters.push(letter);
    this.added();
  }

  /** Resolves once pending rows fall to `threshold` or below. */
  async belowOrEqual(threshold: number): Promise<void> {
    while (this.pending > threshold) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Resolves when every row handed over before the call is written. Rows handed over later do
   * not hold it up, so a caller can wait for its batch while the next one is being produced.
   */
  async flush(): Promise<void> {
    this.seal();
    await Promise.all([...this.unwritten].map((c) => c.written));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private added(): void {
    // A full batch goes now; a partial one after a short wait for company.
    if (this.decided.length >= this.options.batchSize || this.deadLetters.length >= this.options.batchSize) this.seal();
    else if (this.timer === undefined && !this.closed) this.timer = setTimeout(() => this.seal(), this.options.flushMs);
  }

  /** Cut everything buffered into chunks and queue them for the connections. */
  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.decided.length > 0 || this.deadLetters.length > 0) {
      const decided = this.decided.splice(0, this.options.batchSize);
      const letters = this.deadLetters.splice(0, this.options.batchSize);
      let done!: () => void;
      const chunk: Chunk = { decided, letters, written: new Promise<void>((resolve) => (done = resolve)) };
      this.unwritten.add(chunk);
      this.unwrittenRows += decided.length + letters.length;
      this.queue.push({ chunk, done });
    }
    this.startWrites();
  }

  /** Write chunks while connections are free; rows are independent, so chunks may land in any order. */
  private startWrites(): void {
    while (this.writing < this.options.concurrency && this.queue.length > 0) {
      const { chunk, done } = this.queue.shift()!;
      this.writing++;
      void this.writeUntilStored(chunk).then(() => {
        this.writing--;
        this.unwritten.delete(chunk);
        this.unwrittenRows -= chunk.decided.length + chunk.letters.length;
        done();
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
        this.startWrites();
      });
    }
  }

  /** One transaction per chunk, retried after a pause until it lands: the store may be restarting. */
  private async writeUntilStored({ decided, letters }: Chunk): Promise<void> {
    for (;;) {
      const started = performance.now();
      try {
        const letterRows = letters.length === 0 ? [] : [insertDeadLetters(letters)];
        try {
          // COPY first: new rows are the rule. One stored before (a batch replayed after a failure)
          // fails the whole COPY, and the batch is written again skipping what exists.
          await this.db.batch([copyEvents(decided, this.options.log), copyDecisions(decided, this.options.featureSet), ...letterRows]);
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          await this.db.batch([insertEvents(decided, this.options.log), insertDecisions(decided, this.options.featureSet), ...letterRows]);
        }
        this.options.onFlush?.({ rows: decided.length, deadLetters: letters.length, ms: performance.now() - started });
        return;
      } catch (err) {
        this.options.onError?.(err);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
}
