// Repository of the `labels` table: the latest verdict per event wins.
import type { Label, LabelledEvent, RtdsEvent } from '../contracts/index.ts';
import type { Database } from './database.ts';
import { eventFromRow, EVENT_SELECT, type EventRow } from './events.ts';
import type { Statement } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

export function upsertLabels(labels: readonly Label[], now = Date.now()): Statement {
  // One row per event: ON CONFLICT DO UPDATE cannot touch the same row twice in a statement.
  const latest = new Map(labels.map((l) => [l.event_id, l]));
  const rows = [...latest.values()].map((l) => ({ event_id: l.event_id, is_fraud: l.is_fraud, labeled_at: new Date(l.labeled_at === undefined ? now : l.labeled_at).toISOString() }));
  return {
    sql: `INSERT INTO labels (event_id, is_fraud, labeled_at)
          SELECT event_id, is_fraud, labeled_at FROM jsonb_to_recordset($1::jsonb) AS r(event_id text, is_fraud boolean, labeled_at timestamptz)
          ON CONFLICT (event_id) DO UPDATE SET is_fraud = EXCLUDED.is_fraud, labeled_at = EXCLUDED.labeled_at, received_at = now(),
            revised = labels.revised OR labels.is_fraud <> EXCLUDED.is_fraud`,
    params: [JSON.stringify(rows)],
  };
}

export async function findLabel(db: Queryable, eventId: string): Promise<{ is_fraud: boolean; labeled_at: string } | undefined> {
  const [row] = await db.query<{ is_fraud: boolean; labeled_at: Date }>('SELECT is_fraud, labeled_at FROM labels WHERE event_id = $1', [eventId]);
  return row === undefined ? undefined : { is_fraud: row.is_fraud, labeled_at: row.labeled_at.toISOString() };
}

/** A verdict joined to its stored event, and where that event was read from. */
export interface ReceivedLabel {
  labelled: LabelledEvent;
  received_at: Date;
  log_topic: string | null;
  log_partition: number | null;
}

/**
 * The verdicts received after `since` (the database's clock) that can change a fraud count: fraud,
 * or overturned; each joined to its event (a label whose event is not stored yet is left out).
 * `now` is the database's clock when the read began: the next read starts a little before it.
 */
/** The database's clock: label receipt times are stamped by it, so reads are cut by it too. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const [clock] = await db.query<{ now: Date }>('SELECT now() AS now');
  return clock!.now;
}

export async function labelsReceivedSince(db: Queryable, since: Date): Promise<{ now: Date; labels: ReceivedLabel[] }> {
  const now = await databaseNow(db);
  const rows = await db.query<EventRow & { is_fraud: boolean; labeled_ms: number; received_at: Date; log_topic: string | null; log_partition: number | null }>(
    `SELECT ${EVENT_SELECT}, l.is_fraud, (extract(epoch FROM l.labeled_at) * 1000)::float8 AS labeled_ms, l.received_at, e.log_topic, e.log_partition
       FROM labels l JOIN events e USING (event_id)
      WHERE l.received_at > $1 AND (l.is_fraud OR l.revised)
      ORDER BY l.received_at`,
    [since],
  );
  return {
    now,
    labels: rows.map((r) => ({ labelled: { event: eventFromRow(r), is_fraud: r.is_fraud, labeled_at: Math.round(r.labeled_ms) }, received_at: r.received_at, log_topic: r.log_topic, log_partition: r.log_partition })),
  };
}

/**
 * The fraud verdicts stored for `events` (in their order): what a stage restored from its input
 * topic, which carries events but no verdicts, counts again. A later "not fraud" has replaced a
 * verdict in the store, so only standing ones come back, as in a restore from the store.
 */
export async function fraudVerdictsOf(db: Queryable, events: readonly RtdsEvent[]): Promise<LabelledEvent[]> {
  if (events.length === 0) return [];
  const rows = await db.query<{ event_id: string; labeled_ms: number }>(
    'SELECT event_id, (extract(epoch FROM labeled_at) * 1000)::float8 AS labeled_ms FROM labels WHERE is_fraud AND event_id = ANY($1::text[])',
    [events.map((e) => e.event_id)],
  );
  const known = new Map(rows.map((r) => [r.event_id, Math.round(r.labeled_ms)]));
  const verdicts: LabelledEvent[] = [];
  for (const event of events) {
    const labeled_at = known.get(event.event_id);
    if (labeled_at !== undefined) verdicts.push({ event, is_fraud: true, labeled_at });
  }
  return verdicts;
}

/** How labels have been arriving: the latest received, and how many in the recent span. */
export interface LabelArrivals {
  /** When the latest label was received, and the time its verdict was given; null before any. */
  last_received_at: string | null;
  last_labeled_at: string | null;
  recent: number;
}

/** The latest label and the labels received in the last `recentMs` (the database's clock), read along labels_received. */
export async function labelArrivals(db: Queryable, recentMs: number): Promise<LabelArrivals> {
  const [row] = await db.query<{ received_at: Date | null; labeled_at: Date | null; recent: number }>(
    `SELECT latest.received_at, latest.labeled_at,
            (SELECT count(*)::int FROM labels WHERE received_at > now() - $1 * interval '1 millisecond') AS recent
       FROM (SELECT 1) one LEFT JOIN (SELECT received_at, labeled_at FROM labels ORDER BY received_at DESC LIMIT 1) latest ON true`,
    [recentMs],
  );
  return { last_received_at: row?.received_at?.toISOString() ?? null, last_labeled_at: row?.labeled_at?.toISOString() ?? null, recent: row?.recent ?? 0 };
}
