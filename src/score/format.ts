// Numbers as reason messages show them.

/** Short, readable number: 23.4, 0.0123, 1250. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}
