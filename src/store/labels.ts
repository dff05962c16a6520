// Repository of the `labels` table: the latest verdict per event wins.
import type { Label } from '../contracts/index.ts';
import type { Database } from './database.ts';
import type { Statement } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

export function upsertLabels(labels: readonly Label[], now = Date.now()): Statement {
  // One row per event: ON CONFLICT DO UPDATE cannot touch the same row twice in a statement.
  const latest = new Map(labels.map((l) => [l.event_id, l]));
  const rows = [...latest.values()].map((l) => ({ event_id: l.event_id, is_fraud: l.is_fraud, labeled_at: new Date(l.labeled_at === undefined ? now : l.labeled_at).toISOString() }));
  return {
    sql: `INSERT INTO labels (event_id, is_fraud, labeled_at)
          SELECT event_id, is_fraud, labeled_at FROM jsonb_to_recordset($1::jsonb) AS r(event_id text, is_fraud boolean, labeled_at timestamptz)
          ON CONFLICT (event_id) DO UPDATE SET is_fraud = EXCLUDED.is_fraud, labeled_at = EXCLUDED.labeled_at, received_at = now()`,
    params: [JSON.stringify(rows)],
  };
}

export async function findLabel(db: Queryable, eventId: string): Promise<{ is_fraud: boolean; labeled_at: string } | undefined> {
  const [row] = await db.query<{ is_fraud: boolean; labeled_at: Date }>('SELECT is_fraud, labeled_at FROM labels WHERE event_id = $1', [eventId]);
  return row === undefined ? undefined : { is_fraud: row.is_fraud, labeled_at: row.labeled_at.toISOString() };
}
