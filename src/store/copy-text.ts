// PostgreSQL's COPY text format: one line per row, tab-separated, \N for null, backslash escapes.

export type CopyValue = string | number | boolean | null | undefined;

const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function field(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  return SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : v;
}

/** One row as a line of COPY text (newline included). */
export function copyLine(values: readonly CopyValue[]): string {
  let line = field(values[0]);
  for (let i = 1; i < values.length; i++) line += '\t' + field(values[i]);
  return line + '\n';
}
