// What RTDS can hold of client JSON: storable strings, bounded nesting, a serialisation that never throws.

/** Deepest nesting of a request body or log record (a batch array, an event, its metadata). */
export const MAX_JSON_DEPTH = 64;

/** Deepest nesting of an event's metadata: below the body's limit, so a refused event can always be serialised. */
export const METADATA_MAX_DEPTH = 32;

/** Longest client string repeated in a reason: a refusal explains, it does not echo a megabyte back. */
const QUOTED_MAX = 64;

/**
 * Why PostgreSQL (text, jsonb) could not store `s`, or undefined when it can: a NUL character
 * (`invalid byte sequence for encoding "UTF8": 0x00`) or a UTF-16 surrogate without its pair
 * (not Unicode, so not UTF-8). Checked on every string a client sends, so a bad byte is refused
 * at the edge with its field rather than failing a store write.
 */
export function unstorable(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (!(s as WellFormed).isWellFormed()) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** Node 20 has String.prototype.isWellFormed (ES2024); TypeScript's ES2023 lib does not declare it. */
type WellFormed = string & { isWellFormed(): boolean };

/**
 * Whether `value` nests arrays and objects deeper than `max`. `JSON.parse` builds any depth, and
 * recursive code over the result (JSON.stringify, schema checks) would overflow the stack; this
 * walk recurses too, but never more than `max` + 1 calls deep, and allocates nothing (it runs on
 * every record a processor reads).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestedDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const key in value) if (nestedDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true;
  return false;
}

/** A refused input as text for its dead letter: JSON where it serialises, a description where it cannot. */
export function payloadText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (err) {
    return `(not serialisable: ${(err as Error).message})`;
  }
}

/** A client string as a reason may quote it: bounded, with its full length said. */
export function quoted(s: string): string {
  return s.length <= QUOTED_MAX ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, QUOTED_MAX))}… (${s.length} characters)`;
}

/** The first string (key or value) PostgreSQL could not store, with its path, walked without recursion. */
export function findUnstorable(value: unknown): { path: string; reason: string } | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === 'string') {
      const reason = unstorable(node);
      if (reason !== undefined) return { path: path === '' ? '(body)' : path.slice(1), reason };
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Array.isArray(node) ? node.entries() : Object.entries(node)) {
        const name = String(key);
        const reason = unstorable(name);
        if (reason !== undefined) return { path: path === '' ? '(body)' : path.slice(1), reason: `has a key that ${reason}` };
        stack.push([child, `${path}.${name.length <= 64 ? name : `${name.slice(0, 64)}…`}`]);
      }
    }
  }
  return undefined;
}
