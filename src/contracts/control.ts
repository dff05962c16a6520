// Records of the control topic (`<prefix>control`): announcements every process reads, as plain JSON.
import { parseJsonOrUndefined } from './json.ts';

/** A model version was activated (or rolled back to): followers should read the registry now. */
export interface ModelActivated {
  kind: 'model_activated';
  version: string;
  /** RFC 3339. */
  at: string;
}

/** Another version scores in shadow beside the active one (null: none does): followers should read the registry now. */
export interface ChallengerChanged {
  kind: 'challenger_changed';
  version: string | null;
  /** RFC 3339. */
  at: string;
}

/** The control records RTDS understands; others (a newer release's, a stray tool's) are no record to a reader. */
export type ControlRecord = ModelActivated | ChallengerChanged;

export function modelActivated(version: string, at = new Date()): ModelActivated {
  return { kind: 'model_activated', version, at: at.toISOString() };
}

export function challengerChanged(version: string | null, at = new Date()): ChallengerChanged {
  return { kind: 'challenger_changed', version, at: at.toISOString() };
}

/** A control record read back from its JSON, or undefined when the text is not one. */
export function parseControlRecord(text: string): ControlRecord | undefined {
  const r = parseJsonOrUndefined(text) as Partial<ModelActivated> | Partial<ChallengerChanged> | null | undefined;
  if (typeof r !== 'object' || r === null || typeof r.at !== 'string') return undefined;
  if (r.kind === 'model_activated' && typeof r.version === 'string') return { kind: r.kind, version: r.version, at: r.at };
  if (r.kind === 'challenger_changed' && (typeof r.version === 'string' || r.version === null)) return { kind: r.kind, version: r.version, at: r.at };
  return undefined;
}
