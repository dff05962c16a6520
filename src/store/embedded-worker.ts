// Runs embedded PostgreSQL (PGlite) in a worker thread, so its work neither blocks decisions nor shares their core.
import { parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { copySql, type CopyTarget, type SqlStatement } from './statement.ts';

/** A COPY as sent to the worker: its rows' bytes, handed over (transferred) rather than copied. */
export interface CopyBytes extends CopyTarget {
  bytes: Uint8Array<ArrayBuffer>;
}

export type WorkerRequest =
  | { id: number; op: 'open'; dir: string; settings: Record<string, string> }
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'batch'; statements: (SqlStatement | CopyBytes)[] }
  | { id: number; op: 'close' };

export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string; code?: string; detail?: string } };

let db: PGlite | undefined;

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'open':
      db = await PGlite.create(request.dir, { startParams: [...PGlite.defaultStartParams, ...Object.entries(request.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])] });
      return null;
    case 'query':
      return (await open().query(request.sql, request.params)).rows;
    case 'batch':
      return open().transaction(async (tx) => {
        const results: unknown[][] = [];
        for (const s of request.statements) {
          if ('copyInto' in s) results.push((await tx.query(copySql(s, "'/dev/blob'"), [], { blob: new Blob([s.bytes]) })).rows);
          else results.push((await tx.query(s.sql, s.params)).rows);
        }
        return results;
      });
    case 'close':
      await db?.close();
      db = undefined;
      return null;
  }
}

function open(): PGlite {
  if (db === undefined) throw new Error('embedded database is not open');
  return db;
}

// Requests are handled one at a time, in order: PGlite is a single connection.
let queue = Promise.resolve();
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let response: WorkerResponse;
    try {
      response = { id: request.id, ok: true, result: await handle(request) };
    } catch (err) {
      const e = err as { message: string; code?: string; detail?: string };
      response = { id: request.id, ok: false, error: { message: e.message, ...(e.code === undefined ? {} : { code: e.code }), ...(e.detail === undefined ? {} : { detail: e.detail }) } };
    }
    parentPort!.postMessage(response);
  });
});
