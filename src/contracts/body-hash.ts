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

function canonicalEvent(body: Record<string, unknown>): string {
  const ts = body.timestamp;
  const time = typeof ts === 'string' ? Date.parse(ts) : ts;
  return canonical(typeof ts === 'string' && Number.isFinite(time) ? { ...body, timestamp: time } : body);
}

/** JSON with object keys in sorted order; nesting is bounded by the event contract (metadata ≤ 32 levels). */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonical(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(object).sort()) {
    const v = object[key];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonical(v)}`;
  }
  return `${out}}`;
}
