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

/**
 * Version of the record layout written: a processor refuses records of a layout it does not know.
 * Layout 1 wrote the features as JSON numbers; 2 writes them as their float64 bytes (base64).
 * Both are read: a later stage restores from its input topic, which may hold records written by
 * the previous version.
 */
const LAYOUT = 2;

/** The features' bytes as written: float64 little-endian, whatever the platform's byte order. Grown as needed; one record at a time. */
let featureBytes = Buffer.alloc(64 * 8);

/** A vector as layout 2 writes it: its float64 bytes, exactly (NaN, ±Infinity and -0 too), in base64. */
function featuresText(vector: Float64Array): string {
  const n = vector.length * 8;
  if (featureBytes.length < n) featureBytes = Buffer.alloc(n);
  for (let i = 0; i < vector.length; i++) featureBytes.writeDoubleLE(vector[i]!, i * 8);
  return featureBytes.toString('base64', 0, n);
}

/**
 * The record's JSON, written out directly: no object per record. The features go as their bytes
 * (layout 2), not as JSON numbers: formatting and parsing a feature set's doubles (44 in the
 * default one) cost more than the rest of the record (docs/benchmarks.md), and bytes carry every
 * value exactly.
 */
export function encodeCarried(c: CarriedEvent): string {
  const json = JSON.stringify;
  return `{"v":${LAYOUT},"event":${json(c.event)},"features":"${featuresText(c.vector)}","late":${c.late},"behind_ms":${json(c.behindMs)},"unknown":${c.unknown},"body_hash":${json(c.body_hash ?? null)},"position":{"partition":${json(c.position.partition)},"offset":${json(c.position.offset)}},"accepted_at":${json(c.acceptedAt)}}`;
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
  if (o.v !== 1 && o.v !== LAYOUT) throw new CarriedEventError(`layout ${JSON.stringify(o.v)} is not 1 or ${LAYOUT}: written by another version of RTDS`);
  const event = o.event as RtdsEvent | null;
  if (typeof event !== 'object' || event === null || typeof event.event_id !== 'string' || typeof event.user_id !== 'string' || typeof event.event_time !== 'number') {
    throw new CarriedEventError('event: expected the validated event with event_id, user_id and event_time');
  }
  const vector = o.v === 1 ? numbersOf(o.features, features) : bytesOf(o.features, features);
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

/** Layout 1's features: JSON numbers, an unknown one as null. */
function numbersOf(list: unknown, features: number): Float64Array {
  if (!Array.isArray(list) || list.length !== features) throw new CarriedEventError(`features: expected ${features} values (this feature set's), got ${Array.isArray(list) ? list.length : typeof list}`);
  const vector = new Float64Array(features);
  for (let i = 0; i < features; i++) {
    const x = list[i] as unknown;
    if (x !== null && typeof x !== 'number') throw new CarriedEventError(`features[${i}]: expected a number or null`);
    vector[i] = x === null ? NaN : x;
  }
  return vector;
}

/** Layout 2's features: base64 of float64 little-endian bytes, exactly as many as the feature set has. */
function bytesOf(text: unknown, features: number): Float64Array {
  // Base64 of 8n bytes has exactly this many characters; Buffer.from skips a character that is not
  // base64, and one skipped leaves fewer bytes than that.
  const bytes = typeof text === 'string' && text.length === 4 * Math.ceil((features * 8) / 3) ? Buffer.from(text, 'base64') : undefined;
  if (bytes?.length !== features * 8) {
    throw new CarriedEventError(`features: expected ${features} float64 values (this feature set's) as ${features * 8} bytes of base64, got ${typeof text === 'string' ? `${text.length} characters` : typeof text}`);
  }
  const vector = new Float64Array(features);
  for (let i = 0; i < features; i++) vector[i] = bytes.readDoubleLE(i * 8);
  return vector;
}
