// What a batch of writes is made of: SQL with parameters, or rows to COPY. Free of drivers, so the PGlite worker can share it.

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** Where a COPY loads its rows: the table and its columns, in the rows' order. */
export interface CopyTarget {
  copyInto: string;
  columns: readonly string[];
}

/**
 * Rows loaded by COPY: the fastest way in, and all-or-nothing; in the binary format
 * (copy-binary.ts), which the server reads without parsing numbers, timestamps and bytes.
 */
export type CopyStatement = CopyTarget & { binary: Uint8Array<ArrayBuffer> };

export type Statement = SqlStatement | CopyStatement;

/** The SQL of a COPY; PGlite reads the rows from an attached blob, PostgreSQL from the connection. */
export const copySql = (s: CopyTarget, from: 'STDIN' | "'/dev/blob'"): string => `COPY ${s.copyInto} (${s.columns.join(', ')}) FROM ${from} WITH (FORMAT binary)`;

/** A unique key was already taken (SQLSTATE 23505): a COPY met a row stored before. */
export const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown }).code === '23505';

/**
 * A row could not be encoded for the database on the JS side (say, an event time outside what a
 * Date can print): as much a property of the row as a data exception from the server.
 */
export class RowEncodingError extends Error {
  override name = 'RowEncodingError';
  constructor(
    readonly eventId: string | undefined,
    readonly field: string,
    cause: unknown,
  ) {
    super(`cannot encode ${field}${eventId === undefined ? '' : ` of event ${JSON.stringify(eventId.slice(0, 64))}`}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Why a write failed, which says what to do about it:
 * - `data`: the rows themselves (a NUL byte, a date out of range, an index row too long, a
 *   constraint) — writing them again fails again, so the sink isolates and dead-letters them;
 * - `connectivity`: the store is away or overloaded — the same rows will land later, so retry;
 * - `other`: anything else (a bug, a lock timeout): retried too, since dropping rows on an error
 *   nobody understands is worse than waiting, and readiness reports it.
 */
export type StoreFailure = 'data' | 'connectivity' | 'other';

const NODE_CONNECTIVITY = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EADDRNOTAVAIL']);
/** pg reports a lost or unobtainable connection with messages, not codes. */
const PG_CONNECTIVITY = /connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|connection error|embedded database worker exited/i;

export function classifyStoreError(err: unknown): StoreFailure {
  if (err instanceof RowEncodingError) return 'data';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (NODE_CONNECTIVITY.has(code)) return 'connectivity';
    // SQLSTATE: 08 connection exception, 57P01–57P03 admin shutdown / crash / cannot connect now,
    // 53 insufficient resources (disk full, too many connections).
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('53')) return 'connectivity';
    // 22 data exception (invalid byte sequence, datetime out of range, bad JSON), 23 integrity
    // constraint (the handled unique violation never reaches here), 54000 program limit (index row size).
    if (code.startsWith('22') || code.startsWith('23') || code.startsWith('54')) return 'data';
  }
  if (err instanceof AggregateError && err.errors.some((e) => classifyStoreError(e) === 'connectivity')) return 'connectivity';
  if (err instanceof Error && PG_CONNECTIVITY.test(err.message)) return 'connectivity';
  return 'other';
}

/** The store cannot be reached (or refuses connections for now): worth a 503 and a later retry, not a 500. */
export const isStoreUnavailable = (err: unknown): boolean => classifyStoreError(err) === 'connectivity';
