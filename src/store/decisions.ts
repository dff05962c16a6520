// Repository of the `decisions` table: idempotent batched inserts and cursor-paginated reads.
import type { Decision, Outcome } from '../contracts/index.ts';
import type { Database } from './database.ts';

type Queryable = Pick<Database, 'query'>;

/** A decision with the features it was made from, as stored. */
export interface DecisionRecord extends Decision {
  features?: Record<string, number>;
}

/** Insert decisions; a decision id already stored is kept, so a re-sent event has one decision. */
export async function insertDecisions(db: Queryable, decisions: readonly DecisionRecord[]): Promise<number> {
  if (decisions.length === 0) return 0;
  const rows = await db.query<{ n: number }>(
    `WITH ins AS (
       INSERT INTO decisions (decision_id, event_id, decision, risk_score, reason, reasons, features, timestamp, processing_time_ms, model_version, rules_version, late, degraded)
       SELECT decision_id, event_id, decision, risk_score, reason, reasons, features, timestamp, processing_time_ms, model_version, rules_version, late, degraded
       FROM jsonb_to_recordset($1::jsonb) AS r(decision_id text, event_id text, decision text, risk_score double precision, reason text, reasons jsonb,
            features jsonb, timestamp timestamptz, processing_time_ms double precision, model_version text, rules_version text, late boolean, degraded text)
       ON CONFLICT DO NOTHING
       RETURNING 1)
     SELECT count(*)::int AS n FROM ins`,
    [JSON.stringify(decisions)],
  );
  return rows[0]?.n ?? 0;
}

interface DecisionRow extends Omit<DecisionRecord, 'timestamp'> {
  timestamp: Date;
  created_at: Date;
  event_type?: string;
  user_id?: string;
}

function toRecord(row: DecisionRow): DecisionRecord & { event_type?: string; user_id?: string } {
  const { created_at: _created, features, ...rest } = row;
  const out = { ...rest, timestamp: row.timestamp.toISOString() };
  return features === null || features === undefined ? out : { ...out, features };
}

export async function findDecision(db: Queryable, eventId: string): Promise<DecisionRecord | undefined> {
  const [row] = await db.query<DecisionRow>('SELECT * FROM decisions WHERE event_id = $1', [eventId]);
  return row === undefined ? undefined : toRecord(row);
}

export interface DecisionQuery {
  decision?: Outcome | undefined;
  event_type?: string | undefined;
  user_id?: string | undefined;
  min_score?: number | undefined;
  /** RFC 3339 bounds on the decision time. */
  since?: string | undefined;
  until?: string | undefined;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
}

export class CursorError extends Error {
  constructor(readonly cursor: string) {
    super(`invalid cursor "${cursor}"`);
    this.name = 'CursorError';
  }
}

const encodeCursor = (timestamp: string, id: string): string => Buffer.from(`${timestamp}|${id}`).toString('base64url');
function decodeCursor(cursor: string): [string, string] {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (ts === undefined || id === undefined || Number.isNaN(Date.parse(ts))) throw new CursorError(cursor);
  return [ts, id];
}

/** Newest first, keyset-paginated on (timestamp, decision_id) so pages stay stable under inserts. */
export async function listDecisions(db: Queryable, q: DecisionQuery): Promise<{ items: (DecisionRecord & { event_type?: string; user_id?: string })[]; next_cursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown): void => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (q.decision !== undefined) add('d.decision = ?', q.decision);
  if (q.event_type !== undefined) add('e.event_type = ?', q.event_type);
  if (q.user_id !== undefined) add('e.user_id = ?', q.user_id);
  if (q.min_score !== undefined) add('d.risk_score >= ?', q.min_score);
  if (q.since !== undefined) add('d.timestamp >= ?::timestamptz', q.since);
  if (q.until !== undefined) add('d.timestamp < ?::timestamptz', q.until);
  if (q.cursor !== undefined) {
    const [ts, id] = decodeCursor(q.cursor);
    params.push(ts, id);
    where.push(`(d.timestamp, d.decision_id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(q.limit + 1);
  const rows = await db.query<DecisionRow>(
    `SELECT d.*, e.event_type, e.user_id FROM decisions d LEFT JOIN events e ON e.event_id = d.event_id
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY d.timestamp DESC, d.decision_id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, q.limit).map(toRecord);
  const last = page[page.length - 1];
  return { items: page, next_cursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.timestamp, last.decision_id) : null };
}
