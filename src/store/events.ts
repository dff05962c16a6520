// Repository of the `events` table.
import type { EventInput, Label, LabelledEvent, RtdsEvent } from '../contracts/index.ts';
import type { LogPosition } from '../transport/log.ts';
import { BinaryCopyRows } from './copy-binary.ts';
import type { Database } from './database.ts';
import { RowEncodingError, type CopyStatement, type Statement } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

/** An event to store, with where it was read from the log (absent for events that never were). */
export interface LoggedEvent {
  event: RtdsEvent;
  position?: LogPosition | undefined;
}

/** The contract's fields, as columns; then where the event was read from. */
const CONTRACT_COLUMNS = ['event_id', 'event_type', 'timestamp', 'user_id', 'session_id', 'ip_address', 'country', 'channel', 'amount', 'currency', 'merchant_id', 'device_id', 'metadata'];
const EVENT_COLUMNS = [...CONTRACT_COLUMNS, 'log_topic', 'log_partition', 'log_offset'];
/** The contract's columns of `events` aliased `e`, with the event time in epoch ms: an event read back as the processor saw it. */
export const EVENT_SELECT = `${CONTRACT_COLUMNS.map((c) => `e.${c}`).join(', ')}, (extract(epoch FROM e.timestamp) * 1000)::float8 AS event_time`;

/**
 * Insert events in one statement; an event id already stored is left as it was. `log` names
 * the log (topic) the positions refer to.
 */
export function insertEvents(rows: readonly LoggedEvent[], log?: string): Statement {
  const json = rows.map(({ event, position }) => (position === undefined ? event : { ...event, log_topic: log, log_partition: position.partition, log_offset: position.offset }));
  return {
    sql: `INSERT INTO events (${EVENT_COLUMNS.join(', ')})
       SELECT event_id, event_type, to_timestamp(event_time / 1000.0), user_id, session_id, ip_address, country, channel, amount, currency, merchant_id, device_id, metadata, log_topic, log_partition, log_offset
       FROM jsonb_to_recordset($1::jsonb) AS r(event_id text, event_type text, event_time double precision, user_id text, session_id text, ip_address text,
            country text, channel text, amount double precision, currency text, merchant_id text, device_id text, metadata jsonb, log_topic text, log_partition integer, log_offset bigint)
       ON CONFLICT (event_id) DO NOTHING`,
    params: [JSON.stringify(json)],
  };
}

/**
 * The same rows as `insertEvents` by COPY, in the binary format: several times faster, but it
 * fails whole if one event id is already stored.
 */
export function copyEvents(rows: readonly LoggedEvent[], log?: string): CopyStatement {
  const out = new BinaryCopyRows();
  for (const { event: e, position } of rows) {
    out.row(EVENT_COLUMNS.length);
    out.text(e.event_id);
    out.text(e.event_type);
    out.timestamptz(eventTime(e));
    out.text(e.user_id);
    out.text(e.session_id);
    out.text(e.ip_address);
    out.text(e.country);
    out.text(e.channel);
    out.float8(e.amount);
    out.text(e.currency);
    out.text(e.merchant_id);
    out.text(e.device_id);
    out.jsonb(metadataJson(e));
    out.text(position === undefined ? null : log);
    out.int4(position?.partition);
    out.int8(position?.offset);
  }
  return { copyInto: 'events', columns: EVENT_COLUMNS, binary: out.finish() };
}

/**
 * The event time as stored: whole milliseconds, as a Date holds it (so as insertEvents stores it);
 * one a Date cannot hold (beyond ±8.64e15 ms) fails its row, not the process.
 */
function eventTime(e: RtdsEvent): number {
  const ms = new Date(e.event_time).getTime();
  if (Number.isNaN(ms)) throw new RowEncodingError(e.event_id, 'timestamp', `event time ${e.event_time} is outside the range of a date`);
  return ms;
}

/** The metadata as JSON text; one that cannot be written (nested past the stack) fails its row. */
function metadataJson(e: RtdsEvent): string | null {
  if (e.metadata === undefined) return null;
  try {
    return JSON.stringify(e.metadata);
  } catch (err) {
    throw new RowEncodingError(e.event_id, 'metadata', err);
  }
}

/** Name of the embedded log in `log_topic`, suffixed with `@` and the log's creation time (in memory: the run's start time). */
export const EMBEDDED_LOG = 'embedded';

/** A slice of history to rebuild state from: its events in log order, and the fraud verdicts stored for them. */
export interface History {
  events: RtdsEvent[];
  verdicts: LabelledEvent[];
}

/** How much history a restore reads: back `ms` from the latest event, and whether with its fraud verdicts. */
export interface HistoryReach {
  ms: number;
  verdicts: boolean;
}

/**
 * The events of one slice of the log (`where` over `e`, with `params`) whose event time is within
 * `reach.ms` of the latest among them — older ones no longer change any value — in `order`.
 */
async function recentHistory(db: Queryable, where: string, params: unknown[], reach: HistoryReach, order: string): Promise<History> {
  const rows = await db.query<EventRow & { fraud_known_ms?: number | null }>(
    `WITH slice AS (SELECT * FROM events e WHERE ${where})
     SELECT ${EVENT_SELECT}${reach.verdicts ? ', (extract(epoch FROM l.labeled_at) * 1000)::float8 AS fraud_known_ms' : ''}
       FROM slice e${reach.verdicts ? ' LEFT JOIN labels l ON l.event_id = e.event_id AND l.is_fraud' : ''}
      WHERE e.timestamp >= (SELECT max(timestamp) FROM slice) - $${params.length + 1}::float8 * interval '1 millisecond' ORDER BY ${order}`,
    [...params, reach.ms],
  );
  const history: History = { events: new Array<RtdsEvent>(rows.length), verdicts: [] };
  rows.forEach((row, i) => {
    const event = eventFromRow(row);
    history.events[i] = event;
    if (row.fraud_known_ms != null) history.verdicts.push({ event, is_fraud: true, labeled_at: Math.round(row.fraud_known_ms) });
  });
  return history;
}

/**
 * The events decided from one partition of `log` before `beforeOffset`, in offset order, as the
 * processor saw them, back as far as `reachMs` reaches. Stored before the offsets were committed,
 * so nothing decided is missing.
 */
export function loadPartitionHistory(db: Queryable, log: string, partition: number, beforeOffset: number, reach: HistoryReach): Promise<History> {
  return recentHistory(db, 'e.log_topic = $1 AND e.log_partition = $2 AND e.log_offset < $3', [log, partition, beforeOffset], reach, 'e.log_offset');
}

/**
 * The events stored from every run of the embedded log (topics `embedded@<start time>`), back as
 * far as `reachMs` reaches, in the order they were decided (then log order): how an embedded
 * processor rebuilds its state after a restart. The order matters to the stages keyed by other
 * entities than the user, which see events from every partition: replayed partition after
 * partition, one partition's early events would look late to a merchant's watermark that another
 * partition's later events had moved.
 */
export function loadEmbeddedHistory(db: Queryable, reach: HistoryReach): Promise<History> {
  // decision_id is 'dec_' || event_id: the decisions' primary key finds each event's decision time.
  const decided = "(SELECT d.timestamp FROM decisions d WHERE d.decision_id = 'dec_' || e.event_id)";
  return recentHistory(db, `e.log_topic LIKE '${EMBEDDED_LOG}@%'`, [], reach, `${decided}, e.log_topic, e.log_partition, e.log_offset`);
}

/**
 * The offsets of `log` the store holds from `from[partition]` on, per partition in ascending
 * order: records a restarted embedded log need not deliver again.
 */
export async function storedOffsetsFrom(db: Queryable, log: string, from: readonly number[]): Promise<Map<number, number[]>> {
  const rows = await db.query<{ partition: number; offset: number }>(
    `SELECT e.log_partition AS partition, e.log_offset::float8 AS offset
       FROM unnest($2::bigint[]) WITH ORDINALITY AS c(start, n)
       JOIN events e ON e.log_topic = $1 AND e.log_partition = c.n - 1 AND e.log_offset >= c.start
      ORDER BY 1, 2`,
    [log, from],
  );
  const offsets = new Map<number, number[]>();
  for (const { partition, offset } of rows) {
    let list = offsets.get(partition);
    if (list === undefined) offsets.set(partition, (list = []));
    list.push(offset);
  }
  return offsets;
}

/** Stored events with the verdict of each labelled one: what `rtds train --from-store` learns from. */
export interface StoredHistory {
  /** In event-time order (ties in log order). */
  events: RtdsEvent[];
  labels: Map<string, Label>;
}

/** Every stored event with an event time at or after `since` (all without), and the verdicts on them. */
export async function storedHistory(db: Queryable, since?: Date): Promise<StoredHistory> {
  const rows = await db.query<EventRow & { is_fraud: boolean | null; labeled_ms: number | null }>(
    `SELECT ${EVENT_SELECT}, l.is_fraud, (extract(epoch FROM l.labeled_at) * 1000)::float8 AS labeled_ms
       FROM events e LEFT JOIN labels l ON l.event_id = e.event_id
      ${since === undefined ? '' : 'WHERE e.timestamp >= $1::timestamptz'}
      ORDER BY e.timestamp, e.log_partition, e.log_offset, e.event_id`,
    since === undefined ? [] : [since.toISOString()],
  );
  const labels = new Map<string, Label>();
  const events = rows.map((row) => {
    if (row.is_fraud !== null) labels.set(row.event_id, { event_id: row.event_id, is_fraud: row.is_fraud, labeled_at: Math.round(row.labeled_ms!) });
    return eventFromRow(row);
  });
  return { events, labels };
}

/** A row as the contract writes it: absent fields instead of nulls, timestamps as RFC 3339. */
function fromRow(row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== null) out[k] = v instanceof Date ? v.toISOString() : v;
  return out;
}

/**
 * The event of a row read with `EVENT_SELECT` (other columns of the row are left out). The row's
 * timestamp is the event time the event was decided on, received or its own: from the store on it
 * is the event's time, so a restore computes the same features.
 */
export function eventFromRow(row: EventRow): RtdsEvent {
  const out: Record<string, unknown> = { event_time: Math.round(row.event_time!), event_time_source: 'event' };
  for (const c of CONTRACT_COLUMNS) {
    const v = row[c as keyof EventRow];
    if (v !== null) out[c] = v instanceof Date ? v.toISOString() : v;
  }
  return out as unknown as RtdsEvent;
}

export interface StoredEvent extends EventInput {
  created_at: string;
}

export interface EventRow {
  event_id: string;
  event_type: string;
  timestamp: Date;
  user_id: string;
  session_id: string | null;
  ip_address: string | null;
  country: string | null;
  channel: string | null;
  amount: number | null;
  currency: string | null;
  merchant_id: string | null;
  device_id: string | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  /** Epoch ms, where read with `EVENT_SELECT`. */
  event_time?: number;
}

export async function findEvent(db: Queryable, eventId: string): Promise<StoredEvent | undefined> {
  const [row] = await db.query<EventRow>('SELECT * FROM events WHERE event_id = $1', [eventId]);
  return row === undefined ? undefined : (fromRow(row) as unknown as StoredEvent);
}
