// The event contract: the JSON a producer sends, its schema, and validation that names every bad field.
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { METADATA_MAX_DEPTH, quoted, unstorable } from './json-limits.ts';
import { currentSchema } from './schemas.ts';

export const BUILT_IN_EVENT_TYPES = ['transaction', 'transfer', 'withdrawal', 'login', 'signup', 'password_change'] as const;
/** Event types that move money: `amount` is required for them. */
export const MONEY_MOVING_TYPES = ['transaction', 'transfer', 'withdrawal'] as const;
export const METADATA_MAX_BYTES = 16 * 1024;

/**
 * An event as it arrives. `timestamp` is event time: RFC 3339 text or epoch milliseconds; when
 * absent, the time RTDS received the event stands in for it.
 */
export interface EventInput {
  event_id: string;
  event_type: string;
  timestamp?: string | number;
  user_id: string;
  session_id?: string;
  ip_address?: string;
  country?: string;
  channel?: string;
  amount?: number;
  currency?: string;
  merchant_id?: string;
  device_id?: string;
  metadata?: Record<string, unknown>;
}

/** Where an event's time came from: its own `timestamp`, or the time RTDS received it. */
export const EVENT_TIME_SOURCES = ['event', 'received'] as const;
export type EventTimeSource = (typeof EVENT_TIME_SOURCES)[number];

/** A validated event; `event_time` is the timestamp (or the time received) normalised to epoch milliseconds. */
export interface RtdsEvent extends EventInput {
  event_time: number;
  event_time_source: EventTimeSource;
}

export interface FieldError {
  field: string;
  reason: string;
}

export type Validation = { ok: true; event: RtdsEvent } | { ok: false; errors: FieldError[]; event_id?: string };

/**
 * How far event time may lie from the clock. Far-off times are refused: they are typos or attacks,
 * and one of them would move a partition's watermark by years.
 */
export interface EventTimeBounds {
  maxAgeMs: number;
  maxAheadMs: number;
}

/** Event times any path accepts, live or history: epoch 0 to the end of year 9999 (PostgreSQL's timestamptz holds these). */
export const EVENT_TIME_MIN = 0;
export const EVENT_TIME_MAX = Date.parse('9999-12-31T23:59:59.999Z');

export interface ValidationOptions {
  eventTypes?: ReadonlySet<string> | undefined;
  /** Live edges (HTTP, the log) bound event time around `now`; history files only by EVENT_TIME_MIN/MAX. */
  timeBounds?: EventTimeBounds | undefined;
  now?: number;
  /**
   * When RTDS received the event (epoch ms): its event time when it has no `timestamp`. Without
   * it such an event is refused — a history file has no time of receipt to stand in.
   */
  receivedAt?: number | undefined;
}

/** The string fields a client sends free text in (the others are patterns, formats or numbers). */
const FREE_TEXT_FIELDS = ['event_id', 'user_id', 'session_id', 'merchant_id', 'device_id'] as const;

/** JSON Schema of the event at its current version (schemas/event.v<n>.json): what the HTTP API documents and this module validates with. */
export const eventJsonSchema = currentSchema('event');

const addFormats = addFormatsModule as unknown as (ajv: Ajv, options: { mode: 'fast' | 'full'; formats: string[] }) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
// 'fast' formats: simpler regexes at half the cost; Date.parse below still rejects impossible dates.
addFormats(ajv, { mode: 'fast', formats: ['date-time', 'ipv4', 'ipv6'] });
const checkSchema = ajv.compile<EventInput>(eventJsonSchema);
const checkTimestamp = ajv.compile<string | number>(eventJsonSchema.properties.timestamp);

/** A timestamp's epoch ms when the contract reads it as one (RFC 3339 text or epoch ms), else undefined. */
export function readTimestamp(value: unknown): number | undefined {
  if (!checkTimestamp(value)) return undefined;
  const t = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

const READABLE: Record<string, string> = {
  required: 'is required',
  additionalProperties: 'is not a field of the event contract',
};

/** Ajv reports one error per failed keyword; collapse them to one readable reason per field. */
function fieldErrors(errors: ErrorObject[]): FieldError[] {
  const byField = new Map<string, string>();
  for (const e of errors) {
    let field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    let reason: string;
    if (e.keyword === 'required') {
      field = String((e.params as { missingProperty: string }).missingProperty);
      reason = READABLE.required!;
    } else if (e.keyword === 'additionalProperties') {
      field = String((e.params as { additionalProperty: string }).additionalProperty);
      reason = READABLE.additionalProperties!;
    } else if (e.keyword === 'anyOf') {
      continue; // the branch errors already say what is wrong
    } else {
      reason = describe(field, e);
    }
    if (!byField.has(field)) byField.set(field, reason);
  }
  return [...byField].map(([field, reason]) => ({ field, reason }));
}

function describe(field: string, e: ErrorObject): string {
  switch (field) {
    case 'timestamp':
      return 'must be an RFC 3339 date-time string or non-negative epoch milliseconds';
    case 'ip_address':
      return 'must be an IPv4 or IPv6 address';
    case 'country':
      return 'must be an ISO 3166-1 alpha-2 code in upper case (e.g. "DE")';
    case 'currency':
      return 'must be an ISO 4217 code in upper case (e.g. "EUR")';
    case 'amount':
      return e.keyword === 'type' ? 'must be a finite number' : 'must be ≥ 0';
    case 'event_type':
    case 'channel':
      return e.keyword === 'pattern' ? 'must be lower-case letters, digits and underscores' : `${e.message ?? 'is invalid'}`;
    default:
      return e.message ?? 'is invalid';
  }
}

/**
 * Validate one decoded event. Never throws: every problem is returned with its field, so a
 * dead letter can say exactly what was wrong.
 */
export function validateEvent(input: unknown, options: ValidationOptions = {}): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '(root)', reason: 'must be a JSON object' }] };
  }
  const eventTypes = options.eventTypes ?? DEFAULT_EVENT_TYPES;
  const raw = input as Record<string, unknown>;
  const event_id = typeof raw.event_id === 'string' ? raw.event_id : undefined;
  const errors = checkSchema(raw) ? [] : fieldErrors(checkSchema.errors ?? []);
  // The checks below skip a field the schema already refused: one reason per field.
  const failed = errors.length === 0 ? NO_FIELDS : new Set(errors.map((e) => e.field));

  for (const field of FREE_TEXT_FIELDS) {
    const value = raw[field];
    const problem = typeof value === 'string' && !failed.has(field) ? unstorable(value) : undefined;
    if (problem !== undefined) errors.push({ field, reason: problem });
  }
  if (!failed.has('event_type') && typeof raw.event_type === 'string' && !eventTypes.has(raw.event_type)) {
    errors.push({ field: 'event_type', reason: `unknown event type ${quoted(raw.event_type)}; known: ${[...eventTypes].join(', ')}` });
  }
  if (!failed.has('amount') && typeof raw.amount === 'number' && !Number.isFinite(raw.amount)) {
    errors.push({ field: 'amount', reason: 'must be a finite number' });
  }
  if (raw.amount === undefined && typeof raw.event_type === 'string' && MONEY_MOVING.has(raw.event_type)) {
    errors.push({ field: 'amount', reason: `is required for ${raw.event_type} events` });
  }
  if (!failed.has('metadata') && raw.metadata !== undefined) {
    const problem = metadataProblem(raw.metadata as Record<string, unknown>);
    if (problem !== undefined) errors.push(problem);
  }
  const event_time_source: EventTimeSource = raw.timestamp === undefined ? 'received' : 'event';
  let event_time = NaN;
  if (event_time_source === 'received') event_time = boundedTime('received', NaN, options, errors);
  else if (!failed.has('timestamp')) event_time = boundedTime('event', typeof raw.timestamp === 'number' ? raw.timestamp : Date.parse(raw.timestamp as string), options, errors);
  if (errors.length > 0) return event_id === undefined ? { ok: false, errors } : { ok: false, errors, event_id };
  // A copy: the caller's object stays the contract JSON it was, e.g. for the log.
  return { ok: true, event: { ...(raw as unknown as EventInput), event_time, event_time_source } };
}

/**
 * An event validated where it was received, judged where its record is read (the embedded log's
 * processor, for a record its edge validated): the body against the contract does not change, so
 * only its time is judged again, as validateEvent would judge it with `options` — bounded against
 * the clock now, and, without a timestamp, taken from `options.receivedAt`. The event itself when
 * its time stands (never copied then), else a copy with the time received, or the refusal.
 */
export function validateTimeAgain(event: RtdsEvent, options: ValidationOptions): Validation {
  const errors: FieldError[] = [];
  const event_time = boundedTime(event.event_time_source, event.event_time, options, errors);
  if (errors.length > 0) return { ok: false, errors, event_id: event.event_id };
  return { ok: true, event: event_time === event.event_time ? event : { ...event, event_time } };
}

/**
 * An event's time, its problem pushed to `errors`: its timestamp's (`parsed`, epoch ms), or
 * without one the time received.
 */
function boundedTime(source: EventTimeSource, parsed: number, options: ValidationOptions, errors: FieldError[]): number {
  if (source === 'event') {
    const problem = timeProblem(parsed, options);
    if (problem !== undefined) errors.push({ field: 'timestamp', reason: problem });
    return parsed;
  }
  if (options.receivedAt === undefined) {
    errors.push({ field: 'timestamp', reason: READABLE.required! });
    return NaN;
  }
  // Whole milliseconds, as every timestamp is: the store and a restore then read back the very same time.
  const received = Math.floor(options.receivedAt);
  // A Kafka record's time is its producer's to set, so it is bounded like any timestamp.
  const problem = timeProblem(received, options);
  if (problem !== undefined) errors.push({ field: 'timestamp', reason: `is absent, and the time received ${problem}` });
  return received;
}

/** Why an event (or label) time is refused, or undefined. */
export function timeProblem(t: number, options: Pick<ValidationOptions, 'timeBounds' | 'now'>): string | undefined {
  if (!Number.isFinite(t)) return 'is not a real date';
  if (t < EVENT_TIME_MIN || t > EVENT_TIME_MAX) return 'must lie between 1970-01-01 and 9999-12-31';
  const bounds = options.timeBounds;
  if (bounds === undefined) return undefined;
  const now = options.now ?? Date.now();
  if (t < now - bounds.maxAgeMs) return `is more than ${describeSpan(bounds.maxAgeMs)} in the past (RTDS_MAX_EVENT_AGE_MS)`;
  if (t > now + bounds.maxAheadMs) return `is more than ${describeSpan(bounds.maxAheadMs)} in the future (RTDS_MAX_EVENT_AHEAD_MS)`;
  return undefined;
}

/** A span for people: "40 s", "2.5 h", "4.5 days", "12 years". */
export function describeSpan(ms: number): string {
  const hour = 3_600_000;
  const day = 24 * hour;
  if (ms >= 365 * day) return `${Math.round((ms / (365.25 * day)) * 10) / 10} years`;
  if (ms >= day) return `${Math.round((ms / day) * 10) / 10} days`;
  if (ms >= hour) return `${Math.round((ms / hour) * 10) / 10} h`;
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Metadata is stored as JSONB: every key and string storable, nesting bounded (walked without
 * recursion, so a deep object cannot overflow the stack), and its serialisation within the size limit.
 */
function metadataProblem(metadata: Record<string, unknown>): FieldError | undefined {
  const stack: [value: unknown, path: string, depth: number][] = [[metadata, 'metadata', 1]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = unstorable(value);
      if (problem !== undefined) return { field: path, reason: problem };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > METADATA_MAX_DEPTH) return { field: 'metadata', reason: `must nest at most ${METADATA_MAX_DEPTH} levels deep` };
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    for (const [key, child] of entries) {
      const problem = unstorable(key);
      if (problem !== undefined) return { field: path, reason: `has a key that ${problem}` };
      stack.push([child, `${path}.${key.length <= 64 ? key : `${key.slice(0, 64)}…`}`, depth + 1]);
    }
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) return { field: 'metadata', reason: `must serialise to at most ${METADATA_MAX_BYTES} bytes` };
  return undefined;
}

export const DEFAULT_EVENT_TYPES: ReadonlySet<string> = new Set(BUILT_IN_EVENT_TYPES);
const MONEY_MOVING: ReadonlySet<string> = new Set(MONEY_MOVING_TYPES);
const NO_FIELDS: ReadonlySet<string> = new Set();
