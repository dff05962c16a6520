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

/** Longest event id kept with a dead letter: the column is indexed, and a btree row must fit a page. */
export const DEAD_LETTER_ID_CHARS = 256;
/** Longest field name or reason kept: an error message quoting a huge input must not become one. */
const REASON_CHARS = 2000;

/** NUL and unpaired UTF-16 surrogates: text PostgreSQL refuses (in text and in jsonb). */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const escapeUnstorable = (s: string): string => s.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const hasUnstorable = (s: string): boolean => s.search(UNSTORABLE) !== -1;

/**
 * The letter as the database can hold it, whatever was refused: NUL and unpaired surrogates
 * written as `\uXXXX` (a note in `errors` says so, since a payload may hold that text itself),
 * the event id cut to `DEAD_LETTER_ID_CHARS`. A dead letter is where bad input goes, so it must
 * never be bad input itself.
 */
export function storableDeadLetter(letter: DeadLetter): DeadLetter {
  const errors = letter.errors.map((e) => ({ field: escapeUnstorable(e.field.slice(0, REASON_CHARS)), reason: escapeUnstorable(e.reason.slice(0, REASON_CHARS)) }));
  let eventId = letter.event_id;
  if (eventId !== undefined && (eventId.length > DEAD_LETTER_ID_CHARS || hasUnstorable(eventId))) {
    if (eventId.length > DEAD_LETTER_ID_CHARS) errors.push({ field: 'event_id', reason: `cut to its first ${DEAD_LETTER_ID_CHARS} characters of ${eventId.length} for storage` });
    eventId = escapeUnstorable(eventId.slice(0, DEAD_LETTER_ID_CHARS));
  }
  let payload = letter.payload;
  if (hasUnstorable(payload)) {
    payload = escapeUnstorable(payload);
    errors.push({ field: 'payload', reason: 'stored with NUL bytes and unpaired surrogates written as \\uXXXX' });
  }
  return { source: escapeUnstorable(letter.source), event_id: eventId, payload, errors };
}

/** Insert dead letters, each made storable first. */
export function insertDeadLetters(letters: readonly DeadLetter[]): Statement {
  return {
    sql: `INSERT INTO dead_letters (source, event_id, payload, errors)
          SELECT source, event_id, payload, errors FROM jsonb_to_recordset($1::jsonb) AS r(source text, event_id text, payload text, errors jsonb)`,
    params: [JSON.stringify(letters.map(storableDeadLetter))],
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

/** Dead letters of one source: all of them, and those received within the recent span. */
export interface DeadLetterCount {
  source: string;
  recent: number;
  total: number;
}

/** Dead letters per source, in total and received in the last `recentMs` (the database's clock); one scan of the table. */
export async function countDeadLetters(db: Queryable, recentMs: number): Promise<DeadLetterCount[]> {
  return db.query<DeadLetterCount>(
    `SELECT source, count(*) FILTER (WHERE received_at > now() - $1 * interval '1 millisecond')::int AS recent, count(*)::int AS total
       FROM dead_letters GROUP BY source ORDER BY source`,
    [recentMs],
  );
}
