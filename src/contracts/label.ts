// The label contract: late-arriving ground truth (chargebacks, analyst verdicts) for an event.
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { timeProblem, type EventTimeBounds, type FieldError, type RtdsEvent } from './event.ts';
import { unstorable } from './json-limits.ts';
import { currentSchema } from './schemas.ts';

export interface Label {
  event_id: string;
  is_fraud: boolean;
  labeled_at?: string | number;
}

/** A label joined to the event it judges: where label-driven features find the event's entities and time. */
export interface LabelledEvent {
  event: RtdsEvent;
  is_fraud: boolean;
  /** When the verdict became known, epoch ms: it counts for events at or after this time. */
  labeled_at: number;
}

/** JSON Schema of the label at its current version (schemas/label.v<n>.json). */
export const labelJsonSchema = currentSchema('label');

const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv, ['date-time']);
const check = ajv.compile<Label>(labelJsonSchema);

/**
 * Validate one decoded label. `labeled_at` obeys the events' time bounds, except that a verdict
 * may come at any time after the event, so only its distance ahead of the clock is bounded live.
 */
export function validateLabel(input: unknown, options: { timeBounds?: EventTimeBounds | undefined; now?: number } = {}): { ok: true; label: Label } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!check(input)) {
    for (const e of check.errors ?? []) {
      if (e.keyword === 'anyOf') continue;
      errors.push({
        field: e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : e.instancePath.slice(1) || '(root)',
        reason: e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid'),
      });
    }
    return { ok: false, errors };
  }
  const idProblem = unstorable(input.event_id);
  if (idProblem !== undefined) errors.push({ field: 'event_id', reason: idProblem });
  if (input.labeled_at !== undefined) {
    const t = typeof input.labeled_at === 'number' ? input.labeled_at : Date.parse(input.labeled_at);
    const bounds = options.timeBounds === undefined ? undefined : { maxAgeMs: Number.POSITIVE_INFINITY, maxAheadMs: options.timeBounds.maxAheadMs };
    const problem = timeProblem(t, { timeBounds: bounds, ...(options.now === undefined ? {} : { now: options.now }) });
    if (problem !== undefined) errors.push({ field: 'labeled_at', reason: problem });
  }
  return errors.length === 0 ? { ok: true, label: input } : { ok: false, errors };
}
