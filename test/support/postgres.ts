// A throw-away database on the machine's PostgreSQL for one test file; skipped locally when none runs.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
