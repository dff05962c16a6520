import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { decisionIdFor, validateEvent } from '../../src/contracts/index.ts';
import { claimedBodies, claimEvents, DecisionSink, findDecision, migrate, openDatabase, releaseLostClaims, StoreClaims, type ClaimRequest, type Database } from '../../src/store/index.ts';
import { createTestDatabase, onBothStores, openedStore, type TestDatabase } from '../support/postgres.ts';

const LOG = 'test.events';
const request = (id: string, hash: string, partition: number, offset: number): ClaimRequest => ({ event_id: id, body_hash: hash, position: { partition, offset } });

function decided(id: string): Parameters<DecisionSink['write']>[0] {
  const v = validateEvent({ event_id: id, event_type: 'login', timestamp: Date.UTC(2026, 10, 26), user_id: 'u' });
  assert.ok(v.ok);
  const decision = { decision_id: decisionIdFor(id), event_id: id, decision: 'approved' as const, risk_score: 0.1, reason: 'r', reasons: [], timestamp: new Date().toISOString(), processing_time_ms: 1, model_version: null, rules_version: 'r1', late: false, history: 'complete' as const, degraded: 'none' as const, event_time_source: 'event' as const };
  return { event: v.event, decision };
}

onBothStores((kind, open, cleanup) => {
  describe(`event claims on ${kind}`, () => {
    const store = openedStore(open, cleanup);

    it('claims a free id for its record, finds it its own when that record comes again, and names the holder to any other', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const first = await claimEvents(store.db!.claims, LOG, [request('a', 'h1', 0, 10), request('b', 'h2', 1, 5)]);
      assert.deepEqual(first, [
        { body_hash: 'h1', position: { partition: 0, offset: 10 } },
        { body_hash: 'h2', position: { partition: 1, offset: 5 } },
      ]);
      // Redelivered after a crash or a rebalance: the same position holds it.
      assert.deepEqual(await claimEvents(store.db!.claims, LOG, [request('a', 'h1', 0, 10)]), [{ body_hash: 'h1', position: { partition: 0, offset: 10 } }]);
      // Another record of the id, same body or not, in this log or another: the holder stays.
      const others = await claimEvents(store.db!.claims, LOG, [request('a', 'h9', 3, 7), request('c', 'h3', 2, 1)]);
      assert.deepEqual(others, [
        { body_hash: 'h1', position: { partition: 0, offset: 10 } },
        { body_hash: 'h3', position: { partition: 2, offset: 1 } },
      ]);
      assert.deepEqual(await claimEvents(store.db!.claims, 'other.events', [request('b', 'h2', 1, 5)]), [{ body_hash: 'h2', position: null }], 'a position in another log is not this record');
      assert.deepEqual(await claimedBodies(store.db!.claims, ['a', 'b', 'nope', 'c']), new Map([['a', 'h1'], ['b', 'h2'], ['c', 'h3']]));
    });

    it('shares one statement among the claims asked in one turn, and one among those asked while it runs; a re-send asked at once in another partition learns the first holder', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      let statements = 0;
      const counted = { query: <T,>(sql: string, params?: unknown[]): Promise<T[]> => (statements++, store.db!.claims.query<T>(sql, params)) };
      const claims = new StoreClaims(counted, { log: LOG });
      const oneTurn = [claims.claim([request('s1', 'h1', 0, 0)]), claims.claim([request('s2', 'h2', 1, 0), request('s3', 'h3', 1, 1)]), claims.claim([request('s2', 'h9', 2, 0)])];
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(statements, 1, 'the claims of one turn: one statement');
      const meanwhile = [claims.claim([request('s4', 'h4', 3, 0)]), claims.claim([request('s5', 'h5', 4, 0)])];
      const answers = await Promise.all([...oneTurn, ...meanwhile]);
      assert.equal(statements, 2, 'then the two asked meanwhile');
      assert.deepEqual(answers, [
        [{ body_hash: 'h1', position: { partition: 0, offset: 0 } }],
        [{ body_hash: 'h2', position: { partition: 1, offset: 0 } }, { body_hash: 'h3', position: { partition: 1, offset: 1 } }],
        [{ body_hash: 'h2', position: { partition: 1, offset: 0 } }],
        [{ body_hash: 'h4', position: { partition: 3, offset: 0 } }],
        [{ body_hash: 'h5', position: { partition: 4, offset: 0 } }],
      ]);
    });

    it('looks claims up through their primary key, not a scan of a table that holds every event id ever claimed', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      for (let from = 0; from < 20_000; from += 2000) await claimEvents(store.db!.claims, LOG, Array.from({ length: 2000 }, (_, i) => request(`many-${from + i}`, 'h', 5, from + i)));
      const sent: [string, unknown[] | undefined][] = [];
      const recorded = { query: <T,>(sql: string, params?: unknown[]): Promise<T[]> => (sent.push([sql, params]), store.db!.claims.query<T>(sql, params)) };
      assert.deepEqual(await claimedBodies(recorded, ['many-7', 'many-19999', 'nope']), new Map([['many-7', 'h'], ['many-19999', 'h']]));
      const [[sql, params]] = sent as [[string, unknown[]]];
      const plan = (await store.db!.claims.query<Record<string, string>>(`EXPLAIN ${sql}`, params)).map((row) => Object.values(row)[0]).join('\n');
      assert.match(plan, /event_claims_pkey/, plan);
      assert.doesNotMatch(plan, /Seq Scan on event_claims/, plan);
    });

    it('releases, at an embedded start, only the claims of earlier embedded logs whose events were never stored', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      // More than one page of candidates (5000), the stored one past the first.
      const lost = Array.from({ length: 6000 }, (_, i) => request(`lost-${String(i).padStart(4, '0')}`, 'h', 1, i));
      await claimEvents(store.db!.claims, 'embedded@old', [...lost, request('lost', 'h', 0, 0), request('m-kept', 'h', 0, 1)]);
      await claimEvents(store.db!.claims, 'embedded@now', [request('live', 'h', 0, 0)]);
      const sink = new DecisionSink(store.db!, { batchSize: 10, flushMs: 1, concurrency: 1, log: 'embedded@old' });
      sink.write({ ...decided('m-kept'), position: { partition: 0, offset: 1 } });
      await sink.close();
      assert.equal(await releaseLostClaims(store.db!, 'embedded@now'), 6001);
      assert.deepEqual([...(await claimedBodies(store.db!.claims, ['lost', 'lost-0000', 'lost-5999', 'm-kept', 'live', 'a'])).keys()].sort(), ['a', 'live', 'm-kept']);
      assert.equal((await findDecision(store.db!, 'm-kept'))?.body_hash, 'h', 'a stored decision reads with the hash of its body');
    });

    it('gives every event decided before claims were kept a claim of unknown body when the migration runs', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 10, flushMs: 1, concurrency: 1, log: LOG });
      sink.write({ ...decided('before-claims'), position: { partition: 4, offset: 2 } });
      await sink.close();
      await store.db!.batch([{ sql: 'DROP TABLE event_claims', params: [] }, { sql: 'DELETE FROM schema_migrations WHERE version = 11', params: [] }]);
      assert.deepEqual(await migrate(store.db!), [11]);
      assert.deepEqual(await claimEvents(store.db!.claims, LOG, [request('before-claims', 'h5', 0, 0)]), [{ body_hash: null, position: { partition: 4, offset: 2 } }]);
    });
  });
});

describe('claims racing on PostgreSQL (read committed)', () => {
  let created: TestDatabase | { skip: string };
  let db: Database | undefined;
  before(async () => {
    created = await createTestDatabase();
    if (!('skip' in created)) db = await openDatabase({ databaseUrl: created.url, dataDir: '/nonexistent' });
  });
  after(async () => {
    await db?.close();
    if (!('skip' in created)) await created.drop();
  });

  it('finds the holder of an id claimed by a transaction that committed while this claim waited on it', async (t) => {
    if ('skip' in created) return t.skip(created.skip);
    const rival = new pg.Client({ connectionString: created.url });
    await rival.connect();
    try {
      await rival.query('BEGIN');
      await rival.query(`INSERT INTO event_claims (event_id, body_hash, log_topic, log_partition, log_offset) VALUES ('raced', 'rival', $1, 9, 9)`, [LOG]);
      const claiming = claimEvents(db!, LOG, [request('raced', 'mine', 0, 0), request('free', 'mine', 0, 1)]);
      // Until the claim's insert waits on the rival's row lock: a condition, polled.
      for (;;) {
        const { rows } = await rival.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (rows[0]!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await rival.query('COMMIT');
      assert.deepEqual(await claiming, [
        { body_hash: 'rival', position: { partition: 9, offset: 9 } },
        { body_hash: 'mine', position: { partition: 0, offset: 1 } },
      ]);
    } finally {
      await rival.end();
    }
  });

  it('retries a claim while the store is away, and gives up without settling when closed', async (t) => {
    if ('skip' in created) return t.skip(created.skip);
    const failures: string[] = [];
    let calls = 0;
    const flaky = {
      query: <T,>(sql: string, params?: unknown[]): Promise<T[]> => (++calls <= 2 ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : db!.query<T>(sql, params)),
    };
    const claims = new StoreClaims(flaky, { log: LOG, retry: { firstMs: 1, maxMs: 2 }, onError: (_err, failure) => void failures.push(failure) });
    assert.deepEqual(await claims.claim([request('after-outage', 'h', 0, 0)]), [{ body_hash: 'h', position: { partition: 0, offset: 0 } }]);
    assert.deepEqual(failures, ['connectivity', 'connectivity']);

    const down = new StoreClaims({ query: () => Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNREFUSED' })) }, { log: LOG, retry: { firstMs: 1, maxMs: 1 } });
    let settled = false;
    void down.claim([request('never', 'h', 0, 0)]).finally(() => (settled = true));
    down.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'nothing is decided unclaimed');
  });
});

describe('embedded claims in a database of their own', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-claims-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('settles a claim while a transaction of the store still runs: claims never queue behind the sink', async () => {
    const db = await openDatabase({ dataDir });
    try {
      const settled: string[] = [];
      // A sink transaction that takes long: the store's one connection is busy until it ends.
      const writing = db.batch([{ sql: 'SELECT pg_sleep(2)', params: [] }]).then(() => void settled.push('store transaction'));
      const claiming = claimEvents(db.claims, LOG, [request('while-writing', 'h', 0, 0)]).then(() => void settled.push('claim'));
      await Promise.all([writing, claiming]);
      assert.deepEqual(settled, ['claim', 'store transaction']);
    } finally {
      await db.close();
    }
  });

  it('moves the claims an embedded store kept before (in its own database) into the claims database when opened, finishing a move stopped half way', async () => {
    const old = (i: number): string => `old-${String(i).padStart(5, '0')}`;
    let db = await openDatabase({ dataDir });
    try {
      // As a store made before claims moved holds them: in its own event_claims (more than one page: 5000).
      await db.query(
        `INSERT INTO event_claims (event_id, body_hash, log_topic, log_partition, log_offset)
         SELECT 'old-' || lpad(i::text, 5, '0'), 'h-' || i, $1, i % 4, i FROM generate_series(0, 11999) AS i`,
        [LOG],
      );
      // A move stopped half way: a claim copied already, not yet deleted from the store.
      await claimEvents(db.claims, LOG, [request(old(7), 'h-7', 7 % 4, 7)]);
    } finally {
      await db.close();
    }
    db = await openDatabase({ dataDir });
    try {
      assert.deepEqual(await db.query('SELECT event_id FROM event_claims'), [], 'the store keeps no claim');
      const holders = await claimEvents(db.claims, LOG, [request(old(0), 'other', 9, 9), request(old(7), 'h-7', 3, 7), request(old(11999), 'h-11999', 11999 % 4, 11999)]);
      assert.deepEqual(holders, [
        { body_hash: 'h-0', position: { partition: 0, offset: 0 } },
        { body_hash: 'h-7', position: { partition: 3, offset: 7 } },
        { body_hash: 'h-11999', position: { partition: 3, offset: 11999 } },
      ]);
      assert.deepEqual(await db.claims.query("SELECT count(*)::int AS n FROM event_claims WHERE event_id LIKE 'old-%'"), [{ n: 12000 }]);
    } finally {
      await db.close();
    }
  });

  it('frees the folder when the claims database cannot be opened', async () => {
    const broken = mkdtempSync(path.join(tmpdir(), 'rtds-claims-broken-'));
    try {
      mkdirSync(path.join(broken, 'claims'));
      writeFileSync(path.join(broken, 'claims', 'PG_VERSION'), '99\n');
      await assert.rejects(openDatabase({ dataDir: broken }), { name: 'DatabaseError' });
      assert.equal(existsSync(path.join(broken, 'pg.lock')), false, 'the lock is released');
      rmSync(path.join(broken, 'claims'), { recursive: true });
      await (await openDatabase({ dataDir: broken })).close();
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
