// Repository of the block and allow lists: entries, and the version every change moves on.
import type { ListEntry } from '../decide/index.ts';
import type { Database } from './database.ts';

type Queryable = Pick<Database, 'query'>;

const BUMP = { sql: 'UPDATE lists_version SET version = version + 1 RETURNING version', params: [] };

/** Add entries (already listed ones stay) and move the version on; returns the new version. */
export async function addListEntries(db: Database, entries: readonly ListEntry[]): Promise<number> {
  const [, bumped] = await db.batch([
    {
      sql: `INSERT INTO list_entries (list, field, value)
            SELECT list, field, value FROM jsonb_to_recordset($1::jsonb) AS r(list text, field text, value text)
            ON CONFLICT DO NOTHING`,
      params: [JSON.stringify(entries)],
    },
    BUMP,
  ]);
  return Number((bumped as { version: string | number }[])[0]!.version);
}

/** Remove entries; returns the new version and how many were there. */
export async function removeListEntries(db: Database, entries: readonly ListEntry[]): Promise<{ version: number; removed: number }> {
  const [removed, bumped] = await db.batch([
    {
      sql: `DELETE FROM list_entries l USING jsonb_to_recordset($1::jsonb) AS r(list text, field text, value text)
             WHERE l.list = r.list AND l.field = r.field AND l.value = r.value RETURNING l.value`,
      params: [JSON.stringify(entries)],
    },
    BUMP,
  ]);
  return { version: Number((bumped as { version: string | number }[])[0]!.version), removed: removed!.length };
}

export async function listsVersion(db: Queryable): Promise<number> {
  const [row] = await db.query<{ version: string | number }>('SELECT version FROM lists_version');
  return Number(row?.version ?? 0);
}

/** Every entry with the version it belongs to, read in one statement so the two agree. */
export async function readLists(db: Queryable): Promise<{ version: number; entries: ListEntry[] }> {
  const rows = await db.query<{ version: string | number; list: ListEntry['list'] | null; field: ListEntry['field'] | null; value: string | null }>(
    'SELECT v.version, e.list, e.field, e.value FROM lists_version v LEFT JOIN list_entries e ON true ORDER BY e.list, e.field, e.value',
  );
  const entries = rows.filter((r) => r.list !== null).map((r) => ({ list: r.list!, field: r.field!, value: r.value! }));
  return { version: Number(rows[0]?.version ?? 0), entries };
}
