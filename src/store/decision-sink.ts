// Batched, idempotent writer of events, decisions and dead letters: one transaction per flush.
import { hostname } from 'node:os';
import { payloadText, type EventInput, type RtdsEvent } from '../contracts/index.ts';
import { settlesWithin } from '../observe/index.ts';
import type { LocalSpan } from '../observe/tracing/index.ts';
import type { LogPosition } from '../transport/log.ts';
import type { Database } from './database.ts';
import { Backoff, type RetryPace } from './backoff.ts';
import { classifyStoreError, isUniqueViolation, RowEncodingError, type Statement, type StoreFailure } from './statement.ts';
import { insertDeadLetters, type DeadLetter } from './dead-letters.ts';
import { copyDecisions, insertDecisions, type DecisionRecord } from './decisions.ts';
import { countNewDecisions } from './decision-minutes.ts';
import { copyEvents, insertEvents, type LoggedEvent } from './events.ts';

export interface DecidedEvent extends DecisionRecord {
  event: RtdsEvent;
  position?: LogPosition;
  /** Its event row was written already, by the stage that read it from the log (a topology of several stages on Kafka). */
  eventStored?: boolean;
  /** When traced: the span of its store write, ended once its row is written (or set aside). */
  storeSpan?: LocalSpan | undefined;
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
  /** Called after each failed write that will be retried: the failure's kind and the pause before the retry. */
  onError?: (err: unknown, failure: StoreFailure, retryInMs: number) => void;
  /** Called for each row the store refused for a data reason, once it is set aside. */
  onIsolated?: (row: IsolatedRow) => void;
  /** Pause before the first retry of a failed write, doubled on each further failure up to `maxMs`. */
  retry?: RetryPace;
}

/** A row the store refused for what it holds (a NUL byte, a date out of range, an over-long key). */
export interface IsolatedRow {
  /** Where it was going: an event with its decision, or a dead letter. */
  table: 'events' | 'dead_letters';
  event_id: string | undefined;
  /** The trace its decision was made in, when traced. */
  trace_id?: string | undefined;
  /** The SQLSTATE of the refusal, or `encoding` when the row could not even be encoded. */
  reason: string;
  /** The database's (or encoder's) message. */
  message: string;
  /**
   * An event: its dead letter is on its way (written like any other). A dead letter: false, it
   * could not be stored at all — the caller's structured log is all that remains of it.
   */
  deadLettered: boolean;
}

/** What readiness needs to know about the sink. */
export interface SinkHealth {
  pending: number;
  /** Epoch ms of the first write failure (not for data) since the last write that landed; undefined while writes land. */
  failingSince: number | undefined;
  /** The latest such failure. */
  lastError: string | undefined;
}

/** The dead-letter source of rows the store refused. */
export const STORE_SOURCE = 'store';

/** Sinks made in this process: the number in each one's writer name. */
let sinksMade = 0;


/** Rows written together: one transaction. `events`: events on their way to later stages, stored ahead of their decisions. */
interface Rows {
  decided: DecidedEvent[];
  letters: DeadLetter[];
  events: LoggedEvent[];
}

/** Rows sealed for one write, and when they are all stored (or set aside). */
interface Chunk extends Rows {
  written: Promise<void>;
}

/**
 * Buffers what the processor produces and writes it in batches. A write that fails because the
 * store is away is retried with backoff until it lands, so nothing accepted is dropped; the
 * primary keys make retries and re-sends harmless. A write that fails because of what some rows
 * hold is split in halves, down to single rows, so the good rows land and each bad one is
 * dead-lettered with the database's reason: one poisoned row never stops the store.
 */
export class DecisionSink {
  private decided: DecidedEvent[] = [];
  private deadLetters: DeadLetter[] = [];
  private events: LoggedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Sealed chunks waiting for a connection, oldest first. */
  private readonly queue: { chunk: Chunk; done: () => void }[] = [];
  /** Sealed chunks not yet written (queued or on a connection), and their rows. */
  private readonly unwritten = new Set<Chunk>();
  private unwrittenRows = 0;
  private writing = 0;
  private drainWaiters: (() => void)[] = [];
  /**
   * Someone flushes while rows are buffered: those rows are sealed as soon as a connection is free,
   * with whatever joins them until then (group commit), and this resolves once they are written.
   */
  private wanted: { written: Promise<void>; resolve: () => void } | undefined;
  private sealScheduled = false;
  private closed = false;
  /** Given up when close() stops waiting: retries stop, what is left is reported unwritten. */
  private readonly backoff: Backoff;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  /**
   * Whose rows of the per-minute rollup this sink adds its decisions to: rows of its own, so that
   * other sinks and processors never wait for its row locks (its own connections wait only from
   * the rollup's upsert to their commit, the last steps of a write).
   */
  private readonly writer = `${hostname()}/${process.pid}/${sinksMade++}`;

  constructor(
    private readonly db: Database,
    private readonly options: SinkOptions,
  ) {
    this.backoff = new Backoff(options.retry);
  }

  /** Rows waiting to be written: the processor slows down when this grows. */
  get pending(): number {
    return this.decided.length + this.deadLetters.length + this.events.length + this.unwrittenRows;
  }

  health(): SinkHealth {
    return { pending: this.pending, failingSince: this.failingSince, lastError: this.lastError };
  }

  write(item: DecidedEvent): void {
    this.decided.push(item);
    this.added();
  }

  /**
   * An event read from the log whose decision a later stage makes: its row is stored first, as
   * the user stage's changelog — what rebuilds that stage's state when its partition moves, with
   * the events still on their way to their decision among it.
   */
  writeEvent(item: LoggedEvent): void {
    this.events.push(item);
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
   * Resolves when every row handed over before the call is written (or, refused for its data,
   * dead-lettered). Rows handed over later join its transaction at most (those added until a
   * connection takes it), never a later one, so a caller can wait for its batch while the next one
   * is being produced.
   */
  async flush(): Promise<void> {
    const writes = [...this.unwritten].map((c) => c.written);
    if (this.decided.length + this.deadLetters.length + this.events.length > 0) writes.push(this.sealWanted());
    await Promise.all(writes);
  }

  /**
   * Write what is buffered and stop. Waits at most `timeoutMs` (the store may be down); past it,
   * retries stop and the rows not written are counted in the answer, for the caller to say so.
   */
  async close(timeoutMs = Infinity): Promise<{ unwrittenRows: number }> {
    this.closed = true;
    if (!(await settlesWithin(this.flush(), timeoutMs))) {
      const unwrittenRows = this.pending;
      this.backoff.giveUp();
      return { unwrittenRows };
    }
    return { unwrittenRows: 0 };
  }

  private added(): void {
    // A full batch goes now; a partial one after a short wait for company.
    if (this.decided.length >= this.options.batchSize || this.deadLetters.length >= this.options.batchSize || this.events.length >= this.options.batchSize) this.seal();
    else if (this.timer === undefined && !this.closed) this.timer = setTimeout(() => this.seal(), this.options.flushMs);
  }

  /**
   * The buffered rows, written as soon as a connection can take them: sealed at the end of this
   * turn of the event loop if one is free now (the rows of every caller flushing in it together),
   * else when a write ends — one transaction for every flush made meanwhile, not one each.
   */
  private sealWanted(): Promise<void> {
    if (this.wanted === undefined) {
      let resolve!: () => void;
      const written = new Promise<void>((r) => (resolve = r));
      this.wanted = { written, resolve };
    }
    if (!this.sealScheduled && this.writing + this.queue.length < this.options.concurrency) {
      this.sealScheduled = true;
      setImmediate(() => {
        this.sealScheduled = false;
        if (this.wanted !== undefined) this.seal();
      });
    }
    return this.wanted.written;
  }

  /** Cut everything buffered into chunks and queue them for the connections. */
  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const wanted = this.wanted;
    this.wanted = undefined;
    const sealed: Promise<void>[] = [];
    while (this.decided.length > 0 || this.deadLetters.length > 0 || this.events.length > 0) {
      const decided = this.decided.splice(0, this.options.batchSize);
      const letters = this.deadLetters.splice(0, this.options.batchSize);
      const events = this.events.splice(0, this.options.batchSize);
      let done!: () => void;
      const chunk: Chunk = { decided, letters, events, written: new Promise<void>((resolve) => (done = resolve)) };
      this.unwritten.add(chunk);
      this.unwrittenRows += rowCount(chunk);
      this.queue.push({ chunk, done });
      sealed.push(chunk.written);
    }
    if (wanted !== undefined) void Promise.all(sealed).then(wanted.resolve);
    this.startWrites();
  }

  /** Write chunks while connections are free; rows are independent, so chunks may land in any order. */
  private startWrites(): void {
    while (this.writing < this.options.concurrency && this.queue.length > 0) {
      const { chunk, done } = this.queue.shift()!;
      this.writing++;
      void this.store(chunk).then(() => {
        this.writing--;
        this.unwritten.delete(chunk);
        this.unwrittenRows -= rowCount(chunk);
        done();
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
        this.startWrites();
        // Rows someone waits for went unsealed while every connection was busy: they go now, together.
        if (this.wanted !== undefined && this.writing + this.queue.length < this.options.concurrency) this.seal();
      });
    }
  }

  /**
   * Store rows in one transaction. Away or failing store: pause and retry, the pause doubling up
   * to a cap. Refused data: write each half on its own, recursively, so only the rows at fault
   * are left — and those are dead-lettered. Never rejects.
   */
  private async store(rows: Rows): Promise<void> {
    for (let attempt = 0; !this.backoff.givenUp; attempt++) {
      const started = performance.now();
      try {
        await this.writeOnce(rows);
        for (const d of rows.decided) d.storeSpan?.set('db.operation.batch.size', rows.decided.length).end();
        this.failingSince = undefined;
        this.lastError = undefined;
        this.options.onFlush?.({ rows: rows.decided.length + rows.events.length, deadLetters: rows.letters.length, ms: performance.now() - started });
        return;
      } catch (err) {
        const failure = classifyStoreError(err);
        if (failure === 'data') return this.isolate(rows, err);
        this.failingSince ??= Date.now();
        this.lastError = err instanceof Error ? err.message : String(err);
        const pauseMs = this.backoff.delayMs(attempt);
        this.options.onError?.(err, failure, pauseMs);
        await this.backoff.pause(pauseMs);
      }
    }
  }

  private async isolate(rows: Rows, err: unknown): Promise<void> {
    const { decided, letters, events } = rows;
    if (rowCount(rows) > 1) {
      const half = (list: readonly unknown[]): number => Math.ceil(list.length / 2);
      await this.store({ decided: decided.slice(0, half(decided)), letters: letters.slice(0, half(letters)), events: events.slice(0, half(events)) });
      await this.store({ decided: decided.slice(half(decided)), letters: letters.slice(half(letters)), events: events.slice(half(events)) });
      return;
    }
    const reason = err instanceof RowEncodingError ? 'encoding' : String((err as { code?: unknown }).code);
    const message = storeMessage(err);
    const row = decided[0] ?? events[0];
    if (row === undefined) {
      this.options.onIsolated?.({ table: 'dead_letters', event_id: letters[0]!.event_id, reason, message, deadLettered: false });
      return;
    }
    const field = err instanceof RowEncodingError ? err.field : 'event';
    decided[0]?.storeSpan?.fail(`the store refused it: ${message}`).end();
    this.options.onIsolated?.({ table: 'events', event_id: row.event.event_id, trace_id: decided[0]?.trace_id, reason, message, deadLettered: true });
    await this.store({ decided: [], events: [], letters: [{ source: STORE_SOURCE, event_id: row.event.event_id, payload: payloadText(eventInput(row.event)), errors: [{ field, reason: `the store refused it: ${message}` }] }] });
  }

  /**
   * One attempt: COPY first, as new rows are the rule; rows stored before (a replayed batch) fail
   * a COPY whole, so then INSERT … ON CONFLICT DO NOTHING. Either way the decisions inserted are
   * counted in the per-minute rollup, in the same transaction.
   */
  private async writeOnce({ decided, letters, events }: Rows): Promise<void> {
    const letterRows = letters.length === 0 ? [] : [encoded(() => insertDeadLetters(letters))];
    const eventRows = [...events, ...decided.filter((d) => d.eventStored !== true)];
    if (decided.length === 0 && eventRows.length === 0) return void (await this.db.batch(letterRows));
    const statements = (copy: boolean): Statement[] => [
      ...(eventRows.length === 0 ? [] : [encoded(() => (copy ? copyEvents : insertEvents)(eventRows, this.options.log))]),
      ...(decided.length === 0
        ? []
        : copy
          ? [encoded(() => copyDecisions(decided, this.options.featureSet)), encoded(() => countNewDecisions(decided, this.writer))]
          : [encoded(() => insertDecisions(decided, { writer: this.writer, featureSet: this.options.featureSet }))]),
      ...letterRows,
    ];
    try {
      await this.db.batch(statements(true));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await this.db.batch(statements(false));
    }
  }
}

const rowCount = (rows: Rows): number => rows.decided.length + rows.letters.length + rows.events.length;

/** Building a statement runs over the rows' values: whatever it throws is about a row. */
function encoded(build: () => Statement): Statement {
  try {
    return build();
  } catch (err) {
    throw err instanceof RowEncodingError ? err : new RowEncodingError(undefined, 'row', err);
  }
}

/** The database's message with its detail and SQLSTATE, as a dead letter's reason. */
function storeMessage(err: unknown): string {
  const e = err as { message?: unknown; detail?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const detail = typeof e.detail === 'string' && e.detail !== '' ? ` (${e.detail})` : '';
  return err instanceof RowEncodingError || typeof e.code !== 'string' ? `${message}${detail}` : `${message}${detail} [SQLSTATE ${e.code}]`;
}

/** The event as its contract's JSON (without the normalised time and its source), to be fixed and replayed. */
function eventInput(event: RtdsEvent): EventInput {
  const { event_time: _normalised, event_time_source: _source, ...input } = event;
  return input;
}
