// Bounds what clients sent before it reaches a log line: a refused 1 MiB event_id must not make a 1 MiB line.
import type { FieldError } from '../contracts/index.ts';

/** Characters of a client's id or value kept in a log line; the rest is counted, not written. */
export const CLIENT_TEXT_MAX = 128;
/** Field errors of one refused input written to its log line; the store keeps them all. */
const LOGGED_ERRORS_MAX = 10;

/** `text` itself when short; else its first `max` characters and how long it was. */
export function clip(text: string, max?: number): string;
export function clip(text: string | undefined, max?: number): string | undefined;
export function clip(text: string | undefined, max = CLIENT_TEXT_MAX): string | undefined {
  if (text === undefined || text.length <= max) return text;
  // Never cut a surrogate pair in two: half a character is not valid UTF-8 in the log file.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…(${text.length} chars)`;
}

/** A refusal's field errors for a log line: each clipped (a reason may quote the input), at most ten. */
export function clipErrors(errors: readonly FieldError[]): FieldError[] {
  const kept = errors.slice(0, LOGGED_ERRORS_MAX).map((e) => ({ field: clip(e.field), reason: clip(e.reason, 2 * CLIENT_TEXT_MAX) }));
  if (errors.length > LOGGED_ERRORS_MAX) kept.push({ field: '…', reason: `${errors.length - LOGGED_ERRORS_MAX} more errors` });
  return kept;
}
