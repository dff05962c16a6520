// The database seam: PostgreSQL over the network (pg) or embedded PGlite in a worker thread, one interface.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DatabaseUnreachableError, withoutPassword } from './database-errors.ts';
import { lockEmbeddedDatabase, type EmbeddedLock } from './embedded-lock.ts';
import type { CopyBytes, WorkerRequest, WorkerResponse } from './embedded-worker.ts';
import { migrate } from './migrations.ts';
import { classifyStoreError, copySql, type SqlStatement, type Statement } from './statement.ts';

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Where `event_claims` live, and every read of them goes: a claim is asked before each
   * micro-batch is decided, so it must not wait for the sink's transactions. On PostgreSQL this
   * database (its pool already gives a claim a connection of its own); embedded, a second PGlite
   * in a worker of its own, as one PGlite connection runs one request at a time.
   */
  readonly claims: ClaimsDatabase;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run statements in order inside one transaction; each statement's rows (none for a COPY), in order. */
  batch(statements: Statement[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** The database holding `event_claims`: queries and transactions, opened and closed with the store. */
export type ClaimsDatabase = Pick<Database, 'query' | 'batch'>;

export class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly detail: string | undefined,
  ) {
    super(message);
    this.name = 'DatabaseError';
  }
}

class PostgresDatabase implements Database {
  readonly kind = 'postgres';
  readonly claims: ClaimsDatabase = this;
  constructor(private readonly pool: pg.Pool) {
    // An idle pooled connection the server closes (a restart, a terminated backend) is dropped
    // by the pool and the next query opens another; without a listener the event would crash
    // the process.
    pool.on('error', () => undefined);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }

  async batch(statements: Statement[]): Promise<unknown[][]> {
    const client = await this.pool.connect();
    // A connection lost while checked out (the server stopping) is emitted as an event besides
    // failing the query: without a listener it would crash the process. The query's failure is
    // what the caller acts on.
    const lost = (): void => undefined;
    client.on('error', lost);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const results: unknown[][] = [];
      for (const s of statements) {
        if ('copyInto' in s) {
          await pipeline(Readable.from([s.binary]), client.query(copyFrom(copySql(s, 'STDIN'))));
          results.push([]);
        } else {
          results.push((await client.query(s.sql, s.params)).rows);
        }
      }
      await client.query('COMMIT');
      return results;
    } catch (err) {
      // On a lost connection the rollback fails too; the first error says why, and the pool drops the client.
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => void (broken = rollbackErr as Error));
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** One PGlite database behind a worker thread: requests are messages, answered in order. */
class PGliteWorker implements ClaimsDatabase {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Set once the worker is gone: a request sent after it (the close after a crash while opening) would never be answered. */
  private exited: DatabaseError | undefined;

  constructor() {
    // The worker is TypeScript too: it registers tsx's loader before importing its module, which
    // works however this process got the loader (--import, the bin's register(), node:test).
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./embedded-worker.ts', import.meta.url).href;
    this.worker = new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
    this.worker.on('message', (response: WorkerResponse) => {
      const call = this.pending.get(response.id);
      if (call === undefined) return;
      this.pending.delete(response.id);
      if (response.ok) call.resolve(response.result);
      else call.reject(new DatabaseError(response.error.message, response.error.code, response.error.detail));
    });
    const failAll = (err: Error): void => {
      for (const call of this.pending.values()) call.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => {
      this.exited = new DatabaseError(`embedded database worker exited (code ${code})`, undefined, undefined);
      failAll(this.exited);
    });
  }

  private call(request: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Open the database in `dir` with PostgreSQL `settings` (name → value) on top of PGlite's. */
  async open(dir: string, settings: Record<string, string> = {}): Promise<void> {
    await this.call({ op: 'open', dir, settings });
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.call({ op: 'query', sql, params })) as T[];
  }

  /**
   * A COPY's rows cross to the worker as bytes it takes over: handing the buffer over costs this
   * thread about a third of cloning the rows (docs/benchmarks.md, issue 18).
   */
  async batch(statements: Statement[]): Promise<unknown[][]> {
    const transfer: ArrayBuffer[] = [];
    const sent = statements.map((s): SqlStatement | CopyBytes => {
      if (!('copyInto' in s)) return s;
      transfer.push(s.binary.buffer);
      return { copyInto: s.copyInto, columns: s.columns, bytes: s.binary };
    });
    return (await this.call({ op: 'batch', statements: sent }, transfer)) as unknown[][];
  }

  async close(): Promise<void> {
    try {
      await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}

/**
 * The embedded store: `<dataDir>/pg` and its claims in `<dataDir>/claims`, each a PGlite in a worker
 * of its own, both under the one lock. Two workers, so that a claim — asked before every
 * micro-batch is decided — never queues behind the sink's transactions (26 ms each at p50, 66 ms
 * at p99: docs/benchmarks.md, 2026-12-01).
 */
/**
 * The claims database is one table read and written through its primary key: PGlite's default
 * 128 MB of shared buffers cost the process about 160 MiB more RSS than 16 MB, for the same speed
 * (400,000 claims inserted in 4.0 s either way, docs/benchmarks.md).
 */
const CLAIMS_SETTINGS = { shared_buffers: '16MB' };

class EmbeddedDatabase implements Database {
  readonly kind = 'pglite';

  private constructor(
    private readonly main: PGliteWorker,
    readonly claims: PGliteWorker,
    private readonly lock: EmbeddedLock,
  ) {}

  /** Both databases opened at once (creating a PGlite costs 2–3 s, reopening one 0.5 s); on any failure nothing stays open or locked. */
  static async open(dataDir: string): Promise<EmbeddedDatabase> {
    const dirs = ['pg', 'claims'].map((name) => path.resolve(dataDir, name));
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    const lock = lockEmbeddedDatabase(path.resolve(dataDir, 'pg.lock'));
    const workers: PGliteWorker[] = [];
    try {
      while (workers.length < dirs.length) workers.push(new PGliteWorker());
    } catch (err) {
      // No worker, no database: the folder is free again, for this process too.
      await Promise.allSettled(workers.map((w) => w.close()));
      lock.release();
      throw err;
    }
    const db = new EmbeddedDatabase(workers[0]!, workers[1]!, lock);
    const opened = await Promise.allSettled(workers.map((w, i) => w.open(dirs[i]!, i === 0 ? {} : CLAIMS_SETTINGS)));
    const failed = opened.find((o) => o.status === 'rejected');
    if (failed !== undefined) {
      await db.close().catch(() => undefined);
      throw failed.reason;
    }
    return db;
  }

  query<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.main.query<T>(sql, params);
  }

  batch(statements: Statement[]): Promise<unknown[][]> {
    return this.main.batch(statements);
  }

  /** Both closed, whichever fails, and then the lock released; the first failure is thrown. */
  async close(): Promise<void> {
    try {
      const closed = await Promise.allSettled([this.main.close(), this.claims.close()]);
      const failed = closed.find((c) => c.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    } finally {
      this.lock.release();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface DatabaseOptions {
  /** PostgreSQL URL; absent means embedded PGlite in `dataDir`. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Concurrent batched writes the pool must serve next to the API's reads. */
  sinkConcurrency?: number;
}

/**
 * Open the configured database and bring its schema up to date. The embedded one is locked to this
 * process (`<dataDir>/pg.lock`): a second opener gets a DatabaseLockedError naming the holder.
 * PostgreSQL that cannot be reached is a DatabaseUnreachableError.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let db: Database;
  if (options.databaseUrl !== undefined) {
    db = new PostgresDatabase(new pg.Pool({ connectionString: options.databaseUrl, max: (options.sinkConcurrency ?? 1) + 4 }));
  } else {
    db = await EmbeddedDatabase.open(options.dataDir);
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    if (options.databaseUrl !== undefined && refusedConnection(err)) throw new DatabaseUnreachableError(withoutPassword(options.databaseUrl), connectionProblem(err), { cause: err });
    throw err;
  }
  return db;
}

/** Not reached, or not let in: no server, a wrong password (SQLSTATE 28…), a database that does not exist (3D000). */
function refusedConnection(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return classifyStoreError(err) === 'connectivity' || (typeof code === 'string' && (code.startsWith('28') || code === '3D000'));
}

/** Why a connection failed, in a few words: pg and Node say it in messages and codes (one per address tried). */
function connectionProblem(err: unknown): string {
  const first = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  const { code, message } = first as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : 'no answer';
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}
