// What a batch of writes is made of: SQL with parameters, or rows to COPY. Free of drivers, so the PGlite worker can share it.

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** Rows in PostgreSQL's COPY text format, loaded into `table`: the fastest way in, and all-or-nothing. */
export interface CopyStatement {
  copyInto: string;
  columns: readonly string[];
  /** One line per row (see copy-text.ts). */
  text: string;
}

export type Statement = SqlStatement | CopyStatement;

/** The SQL of a COPY; PGlite reads the rows from an attached blob, PostgreSQL from the connection. */
export const copySql = (s: CopyStatement, from: 'STDIN' | "'/dev/blob'"): string => `COPY ${s.copyInto} (${s.columns.join(', ')}) FROM ${from}`;

/** A unique key was already taken (SQLSTATE 23505): a COPY met a row stored before. */
export const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown }).code === '23505';
