// An event on its way between two stages of the topology: itself, its features so far, and what the decision will need.
import type { RtdsEvent } from '../contracts/index.ts';
import type { LogPosition } from '../transport/log.ts';

/**
 * What a repartition record carries: the event as validated by the user stage (never validated
 * again: only RTDS writes these topics), the features computed so far (later stages fill theirs),
 * and what its decision keeps from the log it was read from.
 */
export interface CarriedEvent {
  event: RtdsEvent;
  /** The vector so far; entries of later stages are placeholders. */
  vector: Float64Array;
  /** Too late for the windows of a stage it has passed. */
  late: boolean;
  behindMs: number;
  /** Some feature so far read history no longer held. */
  unknown: boolean;
  /** The body hash its claim holds, when claimed. */
  body_hash: string | undefined;
  /** Its position in the events log: the decision's position, and the claim's. */
  position: LogPosition;
  /** When the events log accepted it: decision latency counts from there. */
  acceptedAt: number;
}

/** Version of the record layout: a processor refuses records of a layout it does not know. */
const LAYOUT = 1;

/**
 * The record's JSON, written out directly: no object and no array of boxed numbers per record
 * (4× faster than stringifying them; the same text). JSON has no NaN: an unknown feature travels as null.
 */
export function encodeCarried(c: CarriedEvent): string {
  let features = '[';
  for (let i = 0; i < c.vector.length; i++) {
    const x = c.vector[i]!;
    // As JSON.stringify writes a number: non-finite ones as null.
    features += `${i === 0 ? '' : ','}${Number.isFinite(x) ? String(x) : 'null'}`;
  }
  const json = JSON.stringify;
  return `{"v":${LAYOUT},"event":${json(c.event)},"features":${features}],"late":${c.late},"behind_ms":${json(c.behindMs)},"unknown":${c.unknown},"body_hash":${json(c.body_hash ?? null)},"position":{"partition":${json(c.position.partition)},"offset":${json(c.position.offset)}},"accepted_at":${json(c.acceptedAt)}}`;
}

export class CarriedEventError extends Error {
  override name = 'CarriedEventError';
}

/**
 * A repartition record's event, checked for the layout and the fields the stages read: a record
 * that fails (a foreign producer, a future layout) is dead-lettered with the reason, never decided
 * on half-read values.
 */
export function decodeCarried(value: unknown, features: number): CarriedEvent {
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new CarriedEventError('not a JSON object');
  if (o.v !== LAYOUT) throw new CarriedEventError(`layout ${JSON.stringify(o.v)} is not ${LAYOUT}: written by another version of RTDS`);
  const event = o.event as RtdsEvent | null;
  if (typeof event !== 'object' || event === null || typeof event.event_id !== 'string' || typeof event.user_id !== 'string' || typeof event.event_time !== 'number') {
    throw new CarriedEventError('event: expected the validated event with event_id, user_id and event_time');
  }
  const list = o.features;
  if (!Array.isArray(list) || list.length !== features) throw new CarriedEventError(`features: expected ${features} values (this feature set's), got ${Array.isArray(list) ? list.length : typeof list}`);
  const vector = new Float64Array(features);
  for (let i = 0; i < features; i++) {
    const x = list[i] as unknown;
    if (x !== null && typeof x !== 'number') throw new CarriedEventError(`features[${i}]: expected a number or null`);
    vector[i] = x === null ? NaN : x;
  }
  const position = o.position as LogPosition | null;
  if (typeof position !== 'object' || position === null || !Number.isInteger(position.partition) || !Number.isInteger(position.offset)) throw new CarriedEventError('position: expected {partition, offset}');
  return {
    event,
    vector,
    late: o.late === true,
    behindMs: typeof o.behind_ms === 'number' ? o.behind_ms : 0,
    unknown: o.unknown === true,
    body_hash: typeof o.body_hash === 'string' ? o.body_hash : undefined,
    position: { partition: position.partition, offset: position.offset },
    acceptedAt: typeof o.accepted_at === 'number' ? o.accepted_at : 0,
  };
}
