// A throw-away database on the machine's PostgreSQL for one test file; skipped locally when none runs.
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/index.ts';

const ADMIN_URL = process.env.RTDS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * Create a fresh database, or return a skip reason when PostgreSQL is not reachable. Under CI
 * (CI=true) a missing PostgreSQL is a failure, never a skip.
 */
export async function createTestDatabase(): Promise<TestDatabase | { skip: string }> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI: ${(err as Error).message}`);
    return { skip: `PostgreSQL not reachable at ${ADMIN_URL}: ${(err as Error).message}` };
  }
  const name = `rtds_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Inside a store suite's describe: the database opened before its tests and closed (then cleaned
 * up) after them; `skip` says why there is none.
 */
export function openedStore(open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): { readonly db: Database | undefined; readonly skip: string | undefined } {
  const store: { db: Database | undefined; skip: string | undefined } = { db: undefined, skip: undefined };
  before(async () => {
    const opened = await open();
    if ('skip' in opened) store.skip = opened.skip;
    else store.db = opened;
  });
  after(async () => {
    await store.db?.close();
    await cleanup();
  });
  return store;
}

/**
 * Run a store suite twice: on embedded PGlite in a folder of its own, and on a throw-away
 * PostgreSQL database (skipped when none runs, outside CI).
 */
export function onBothStores(suite: (kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-store-'));
  suite('PGlite', () => openDatabase({ dataDir: dir }), async () => rmSync(dir, { recursive: true, force: true }));
  let created: TestDatabase | undefined;
  suite(
    'PostgreSQL',
    async () => {
      const made = await createTestDatabase();
      if ('skip' in made) return made;
      created = made;
      return openDatabase({ databaseUrl: made.url, dataDir: dir });
    },
    async () => created?.drop(),
  );
}
