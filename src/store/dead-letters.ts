// Repository of the `dead_letters` table: every rejected input with the reasons it was refused.
import type { FieldError } from '../contracts/index.ts';
import type { Database } from './database.ts';
import type { Statement } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

export interface DeadLetter {
  /** Where the input came from: 'http', 'log', 'kafka', … */
  source: string;
  event_id?: string | undefined;
  /** The input as received (text), so it can be fixed and replayed. */
  payload: string;
  errors: FieldError[];
}

export function insertDeadLetters(letters: readonly DeadLetter[]): Statement {
  return {
    sql: `INSERT INTO dead_letters (source, event_id, payload, errors)
          SELECT source, event_id, payload, errors FROM jsonb_to_recordset($1::jsonb) AS r(source text, event_id text, payload text, errors jsonb)`,
    params: [JSON.stringify(letters)],
  };
}

export interface StoredDeadLetter extends DeadLetter {
  id: string;
  received_at: string;
}

export async function listDeadLetters(db: Queryable, limit: number, eventId?: string): Promise<StoredDeadLetter[]> {
  const rows = await db.query<StoredDeadLetter & { received_at: Date; event_id: string | null }>(
    `SELECT id::text, received_at, source, event_id, payload, errors FROM dead_letters ${eventId === undefined ? '' : 'WHERE event_id = $2'} ORDER BY id DESC LIMIT $1`,
    eventId === undefined ? [limit] : [limit, eventId],
  );
  return rows.map((r) => ({ ...r, event_id: r.event_id ?? undefined, received_at: r.received_at.toISOString() }));
}
