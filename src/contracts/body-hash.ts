// What makes two sends of one event id the same event: the hash of the body as sent, however its JSON was written.
import { hash } from 'node:crypto';
import type { FieldError } from './event.ts';

/**
 * The sha256 (first 128 bits, hex) of an event body as sent, in a canonical JSON: keys sorted at
 * every level, and `timestamp`, when present, as epoch milliseconds — so `"…T10:00:00Z"` and the
 * same instant in milliseconds or another offset hash alike. A body without a timestamp hashes
 * without one (not with the time it was received), so re-sends of it hash alike too. The HTTP
 * edge and the processor hash with this one function: what one calls the same body, so does the other.
 */
export function bodyHash(body: object): string {
  return hash('sha256', canonicalEvent(body as Record<string, unknown>)).slice(0, 32);
}

/** A re-send refused for its body: the field and reason of its 409 and dead letter, with both hashes. */
export function conflictError(decidedHash: string, thisHash: string): FieldError {
  return { field: 'event_id', reason: `already decided with another body (sha256 ${decidedHash}); this one is sha256 ${thisHash}` };
}

/**
 * The body's canonical JSON, written by one JSON.stringify: given every key of the body at any
 * depth, sorted, as its replacer, it writes each object's keys in that order (a spec rule, not an
 * engine's habit), so no text is built piece by piece: half the garbage of writing it key by key,
 * and a tenth to a fifth less time (docs/benchmarks.md).
 */
function canonicalEvent(body: Record<string, unknown>): string {
  const ts = body.timestamp;
  const time = typeof ts === 'string' ? Date.parse(ts) : ts;
  let value: unknown = typeof ts === 'string' && Number.isFinite(time) ? { ...body, timestamp: time } : body;
  const keys: string[] = [];
  if (!keysOf(value, keys)) {
    // A key named __proto__: JSON.stringify would read an object without that key of its own
    // through its prototype's accessor. Objects without a prototype have nothing to inherit.
    value = withoutPrototypes(value);
    keys.length = 0;
    keysOf(value, keys);
  }
  sortStrings(keys);
  return JSON.stringify(value, keys);
}

/** Push the keys of every object in `value` (repeats included) onto `keys`; false, unfinished, at a key `__proto__` of an object that inherits. */
function keysOf(value: unknown, keys: string[]): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!keysOf(value[i], keys)) return false;
    return true;
  }
  const inherits = Object.getPrototypeOf(value) !== null;
  for (const key in value) {
    if (key === '__proto__' && inherits) return false;
    keys.push(key);
    if (!keysOf((value as Record<string, unknown>)[key], keys)) return false;
  }
  return true;
}

function withoutPrototypes(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(withoutPrototypes);
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) copy[key] = withoutPrototypes((value as Record<string, unknown>)[key]);
  return copy;
}

/**
 * In place, by UTF-16 code units as Array.prototype.sort orders strings. Most bodies have a few
 * dozen keys: sorted by insertion, without the scratch room the built-in sort allocates; metadata
 * may hold thousands, which insertion would sort in quadratic time.
 */
function sortStrings(a: string[]): void {
  if (a.length > 64) return void a.sort();
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!;
    let j = i - 1;
    for (; j >= 0 && a[j]! > x; j--) a[j + 1] = a[j]!;
    a[j + 1] = x;
  }
}
