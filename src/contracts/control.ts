// Records of the control topic (`<prefix>control`): announcements every process reads, as plain JSON.
import { parseJsonOrUndefined } from './json.ts';

/** A model version was activated (or rolled back to): followers should read the registry now. */
export interface ModelActivated {
  kind: 'model_activated';
  version: string;
  /** RFC 3339. */
  at: string;
}

/** The control records RTDS understands; others (a newer release's, a stray tool's) are no record to a reader. */
export type ControlRecord = ModelActivated;

export function modelActivated(version: string, at = new Date()): ModelActivated {
  return { kind: 'model_activated', version, at: at.toISOString() };
}

/** A control record read back from its JSON, or undefined when the text is not one. */
export function parseControlRecord(text: string): ControlRecord | undefined {
  const r = parseJsonOrUndefined(text) as Partial<ModelActivated> | null | undefined;
  const ok = typeof r === 'object' && r !== null && r.kind === 'model_activated' && typeof r.version === 'string' && typeof r.at === 'string';
  return ok ? { kind: 'model_activated', version: r.version!, at: r.at! } : undefined;
}
