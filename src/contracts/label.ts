// The label contract: late-arriving ground truth (chargebacks, analyst verdicts) for an event.
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FieldError, RtdsEvent } from './event.ts';

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

export const labelJsonSchema = {
  $id: 'rtds.label',
  type: 'object',
  required: ['event_id', 'is_fraud'],
  properties: {
    event_id: { type: 'string', minLength: 1, maxLength: 128 },
    is_fraud: { type: 'boolean' },
    labeled_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'integer', minimum: 0 }] },
  },
  additionalProperties: false,
} as const;

const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv, ['date-time']);
const check = ajv.compile<Label>(labelJsonSchema);

export function validateLabel(input: unknown): { ok: true; label: Label } | { ok: false; errors: FieldError[] } {
  if (check(input)) return { ok: true, label: input };
  const errors = (check.errors ?? [])
    .filter((e) => e.keyword !== 'anyOf')
    .map((e) => ({
      field: e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : e.instancePath.slice(1) || '(root)',
      reason: e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid'),
    }));
  return { ok: false, errors };
}
