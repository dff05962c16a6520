import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, validateEvent, type Decision, type Outcome } from '../../src/contracts/index.ts';
import { seededRandom } from '../../src/score/index.ts';
import { decisionHistory, DecisionSink, migrate, type Database, type DecidedEvent, type Statement } from '../../src/store/index.ts';
import { copyDecisions } from '../../src/store/decisions.ts';
import { copyEvents } from '../../src/store/events.ts';
import { LATENCY_ABSOLUTE_BOUND_MS, LATENCY_BUCKETS, LATENCY_EDGES_MS, LATENCY_EDGES_SQL, LATENCY_RELATIVE_BOUND } from '../../src/store/latency-histogram.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

const MINUTE = 60_000;
const OUTCOMES: Outcome[] = ['approved', 'flagged', 'rejected'];
const TYPES = ['transaction', 'login', 'signup', 'withdrawal'];
const CHANNELS = ['web', 'mobile', 'pos', undefined];

/** A decided event as the processor hands it to the sink. */
function decided(id: string, at: number, shape: { type: string; channel: string | undefined; outcome: Outcome; ms: number; late?: boolean; degraded?: boolean }): DecidedEvent {
  const checked = validateEvent({ event_id: id, event_type: shape.type, timestamp: at, user_id: 'u1', amount: 5, ...(shape.channel === undefined ? {} : { channel: shape.channel }) });
  assert.ok(checked.ok, id);
  const decision: Decision = {
    decision_id: decisionIdFor(id),
    event_id: id,
    decision: shape.outcome,
    risk_score: 0.5,
    reason: 'test',
    reasons: [],
    timestamp: new Date(at).toISOString(),
    processing_time_ms: shape.ms,
    model_version: null,
    rules_version: 'test',
    late: shape.late ?? false,
    history: 'complete',
    degraded: shape.degraded === true ? 'fallback_model' : 'none',
    event_time_source: 'event',
  };
  return { event: checked.event, decision };
}

/**
 * Decisions spread over `minutes` minutes from `start`, of every type, channel and outcome, with
 * latencies from below the first histogram edge to past the last, some exactly on an edge, and
 * times on and just before minute boundaries.
 */
function spread(prefix: string, count: number, start: number, minutes: number, seed: number): DecidedEvent[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const at = i % 10 === 0 ? start + (i % minutes) * MINUTE : i % 10 === 1 ? start + ((i % minutes) + 1) * MINUTE - 1 : start + Math.floor(random() * minutes * MINUTE);
    const ms = i % 7 === 0 ? pick(LATENCY_EDGES_MS) : i % 13 === 0 ? 0.002 : i % 17 === 0 ? 120_000 : 0.005 * 10 ** (random() * 6);
    return decided(`${prefix}-${i}`, at, { type: pick(TYPES), channel: pick(CHANNELS), outcome: pick(OUTCOMES), ms, late: random() < 0.1, degraded: random() < 0.1 });
  });
}

interface Tally {
  decisions: number;
  approved: number;
  flagged: number;
  rejected: number;
  late: number;
  degraded: number;
  latency_counts: number[] | null;
  latency_min_ms: number | null;
  latency_max_ms: number | null;
}

/** The rollup summed over its writers, by minute, split and value. */
async function rollup(db: Database): Promise<Map<string, Tally>> {
  const rows = await db.query<Tally & { minute: Date; split: string; value: string; writer: string }>('SELECT * FROM decision_minutes');
  const out = new Map<string, Tally>();
  for (const { minute, split, value, writer: _summed, ...row } of rows) {
    const key = `${minute.toISOString()} ${split} ${value}`;
    const sum = out.get(key);
    if (sum === undefined) {
      out.set(key, { ...row });
      continue;
    }
    for (const c of ['decisions', 'approved', 'flagged', 'rejected', 'late', 'degraded'] as const) sum[c] += row[c];
    if (row.latency_counts !== null) {
      sum.latency_counts = sum.latency_counts!.map((n, i) => n + row.latency_counts![i]!);
      sum.latency_min_ms = Math.min(sum.latency_min_ms!, row.latency_min_ms!);
      sum.latency_max_ms = Math.max(sum.latency_max_ms!, row.latency_max_ms!);
    }
  }
  return out;
}

/** The same, grouped from the stored decisions and their events, each latency's bucket as PostgreSQL's width_bucket puts it. */
async function grouped(db: Database): Promise<Map<string, Tally>> {
  const rows = await db.query<{ minute: Date; event_type: string | null; channel: string | null; decision: Outcome; late: boolean; degraded: string; ms: number; bucket: number }>(
    `SELECT date_trunc('minute', d.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS minute, e.event_type, e.channel, d.decision, d.late, d.degraded,
            d.processing_time_ms AS ms, width_bucket(d.processing_time_ms, ${LATENCY_EDGES_SQL}) AS bucket
       FROM decisions d LEFT JOIN events e ON e.event_id = d.event_id`,
  );
  const out = new Map<string, Tally>();
  for (const r of rows) {
    for (const [split, value] of [['none', ''], ['event_type', r.event_type ?? ''], ['channel', r.channel ?? '']] as const) {
      const key = `${r.minute.toISOString()} ${split} ${value}`;
      let t = out.get(key);
      const latency = split === 'none';
      if (t === undefined) out.set(key, (t = { decisions: 0, approved: 0, flagged: 0, rejected: 0, late: 0, degraded: 0, latency_counts: latency ? new Array<number>(LATENCY_BUCKETS).fill(0) : null, latency_min_ms: latency ? r.ms : null, latency_max_ms: latency ? r.ms : null }));
      t.decisions++;
      t[r.decision]++;
      if (r.late) t.late++;
      if (r.degraded !== 'none') t.degraded++;
      if (latency) {
        t.latency_counts![r.bucket]!++;
        t.latency_min_ms = Math.min(t.latency_min_ms!, r.ms);
        t.latency_max_ms = Math.max(t.latency_max_ms!, r.ms);
      }
    }
  }
  return out;
}

async function assertRollupIsGrouped(db: Database, message: string): Promise<void> {
  const [counted, expected] = await Promise.all([rollup(db), grouped(db)]);
  assert.ok(expected.size > 0, 'decisions are stored');
  assert.deepEqual(new Map([...counted].sort()), new Map([...expected].sort()), message);
}

const decisionCount = async (db: Database): Promise<number> => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions'))[0]!.n;

/** A database whose first write of decisions runs every statement and then fails as a lost connection would, before the commit; later writes wait for `resume`. */
function crashingOnce(db: Database): { db: Database; crashed: Promise<void>; resume: () => void } {
  let crash!: () => void;
  let resume!: () => void;
  const crashed = new Promise<void>((resolve) => (crash = resolve));
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  let failed = false;
  const wrapped: Database = {
    kind: db.kind,
    claims: db.claims,
    query: (sql, params) => db.query(sql, params),
    close: () => db.close(),
    async batch(statements: Statement[]) {
      if (failed) {
        await resumed;
        return db.batch(statements);
      }
      failed = true;
      try {
        return await db.batch([...statements, { sql: `DO $$ BEGIN RAISE EXCEPTION 'connection lost before the commit' USING ERRCODE = '08006'; END $$`, params: [] }]);
      } finally {
        crash();
      }
    },
  };
  return { db: wrapped, crashed, resume };
}

function rollupSuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`decisions per minute on ${kind}`, () => {
    const store = openedStore(open, cleanup);
    const start = Date.UTC(2026, 6, 1, 9, 0);

    it('counts batches of new decisions (COPY) as a GROUP BY over the stored decisions does, latency buckets included', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 60, flushMs: 5, concurrency: 2 });
      for (const d of spread('new', 600, start, 5, 1)) sink.write(d);
      await sink.close();
      assert.equal(await decisionCount(store.db!), 600);
      await assertRollupIsGrouped(store.db!, 'after new batches');
      const [edges] = await store.db!.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision_minutes WHERE split = 'none' AND latency_counts[${LATENCY_BUCKETS}] > 0 AND latency_counts[1] > 0`);
      assert.ok(edges!.n > 0, 'latencies below the first edge and past the last one were counted');
    });

    it('adds nothing for a replayed batch (INSERT … ON CONFLICT), and only the new decisions of a batch mixing both', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const before = await rollup(store.db!);
      const sink = new DecisionSink(store.db!, { batchSize: 1000, flushMs: 5, concurrency: 1 });
      for (const d of spread('new', 600, start, 5, 1)) sink.write(d);
      await sink.flush();
      assert.equal(await decisionCount(store.db!), 600);
      assert.deepEqual(await rollup(store.db!), before, 'the same decisions again: counts unchanged');

      // Half stored before, half new, and a re-send of one of them within the batch: the COPY fails on the stored ones.
      const mixed = [...spread('new', 600, start, 5, 1).slice(0, 300), ...spread('mixed', 300, start + 2 * MINUTE, 4, 2)];
      for (const d of [...mixed, mixed.at(-1)!]) sink.write(d);
      await sink.close();
      assert.equal(await decisionCount(store.db!), 900);
      await assertRollupIsGrouped(store.db!, 'after a replayed and a mixed batch');
    });

    it('leaves the rollup as it was when a batch fails after writing it, and counts the batch once when it is written again', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const decisionsBefore = await decisionCount(store.db!);
      const rollupBefore = await rollup(store.db!);
      const crashing = crashingOnce(store.db!);
      const failures: string[] = [];
      const sink = new DecisionSink(crashing.db, { batchSize: 1000, flushMs: 5, concurrency: 1, retry: { firstMs: 1, maxMs: 1 }, onError: (_err, failure) => failures.push(failure) });
      for (const d of spread('crash', 200, start + MINUTE, 3, 3)) sink.write(d);
      await crashing.crashed;
      assert.equal(await decisionCount(store.db!), decisionsBefore, 'no decision of the failed batch is stored');
      assert.deepEqual(await rollup(store.db!), rollupBefore, 'and none is counted');
      crashing.resume();
      await sink.close();
      assert.deepEqual(failures, ['connectivity'], 'the failure was retried as a lost connection');
      assert.equal(await decisionCount(store.db!), decisionsBefore + 200);
      await assertRollupIsGrouped(store.db!, 'after the retried batch');
    });

    it('counts two sinks writing the same minutes at once, four connections each, in rows of their own: no deadlock, sums as grouped', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const failures: unknown[] = [];
      const sinks = [1, 2].map(() => new DecisionSink(store.db!, { batchSize: 25, flushMs: 1, concurrency: 4, onError: (err) => failures.push(err) }));
      const batches = sinks.map((_, s) => spread(`sink${s}`, 500, start + 10 * MINUTE, 2, 10 + s));
      await Promise.all(
        sinks.map(async (sink, s) => {
          for (const d of batches[s]!) sink.write(d);
          await sink.close();
        }),
      );
      assert.deepEqual(failures, [], 'no write failed (a deadlock between a sink’s connections would)');
      const writers = await store.db!.query<{ writer: string }>(`SELECT DISTINCT writer FROM decision_minutes WHERE minute >= $1::timestamptz`, [new Date(start + 10 * MINUTE).toISOString()]);
      assert.equal(writers.length, 2, `each sink counts in rows of its own: ${writers.map((w) => w.writer).join(', ')}`);
      await assertRollupIsGrouped(store.db!, 'after two concurrent sinks');
    });

    it('estimates latency percentiles within the histogram’s bound of PostgreSQL’s percentile_cont', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const minute = start + 30 * MINUTE;
      const random = seededRandom(7);
      // Log-uniform from 5 µs to 50 s, and a cluster around 1 ms as real latencies have.
      const rows = Array.from({ length: 3000 }, (_, i) => decided(`p-${i}`, minute + (i % 60) * 1000, { type: 'login', channel: 'web', outcome: 'approved', ms: i % 3 === 0 ? 0.8 + random() * 0.4 : 0.005 * 10 ** (random() * 7) }));
      const sink = new DecisionSink(store.db!, { batchSize: 500, flushMs: 5, concurrency: 2 });
      for (const d of rows) sink.write(d);
      await sink.close();
      const [exact] = await store.db!.query<{ latency: [number, number, number] }>(
        `SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY processing_time_ms) AS latency FROM decisions WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz`,
        [new Date(minute).toISOString(), new Date(minute + MINUTE).toISOString()],
      );
      const history = await decisionHistory(store.db!, { range: '1h', by: 'none', until: new Date(minute + MINUTE) });
      const bucket = history.buckets.find((b) => b.at === new Date(minute).toISOString())!;
      assert.equal(bucket.decisions, rows.length);
      (['p50', 'p95', 'p99'] as const).forEach((q, i) => {
        const value = exact!.latency[i]!;
        const bound = LATENCY_RELATIVE_BOUND * value + LATENCY_ABSOLUTE_BOUND_MS;
        assert.ok(Math.abs(bucket.latency_ms![q] - value) <= bound, `${q}: estimated ${bucket.latency_ms![q]}, exact ${value}, bound ±${bound}`);
      });
    });

    it('counts the decisions stored before the rollup existed when migrating, once', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      // The store as it was before migration 12, holding decisions of its own besides the ones above.
      await store.db!.query('DROP TABLE decision_minutes');
      await store.db!.query('DELETE FROM schema_migrations WHERE version = 12');
      const older = spread('older', 400, start + 60 * MINUTE, 6, 20);
      await store.db!.batch([copyEvents(older), copyDecisions(older)] as Statement[]);
      assert.deepEqual(await migrate(store.db!), [12]);
      await assertRollupIsGrouped(store.db!, 'after the migration');
      const [{ writers }] = (await store.db!.query<{ writers: string[] }>('SELECT array_agg(DISTINCT writer) AS writers FROM decision_minutes')) as [{ writers: string[] }];
      assert.deepEqual(writers, ['migration 12']);
      // And the sink counts on top of what the migration counted.
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 1 });
      for (const d of spread('after', 100, start + 62 * MINUTE, 2, 21)) sink.write(d);
      await sink.close();
      await assertRollupIsGrouped(store.db!, 'after writing on the migrated store');
    });
  });
}

onBothStores(rollupSuite);
