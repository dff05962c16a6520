// The store alone: the sink's batched writes of decided events, and history reads over a week of decisions — on PGlite, and on PostgreSQL when RTDS_DATABASE_URL names one.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { decisionIdFor, validateEvent } from '../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../src/features/index.ts';
import { seededRandom } from '../src/score/index.ts';
import { decisionHistory, DecisionSink, migrate, openDatabase, usualLevel, type Database, type DecidedEvent, type HistoryRange, type HistorySplit } from '../src/store/index.ts';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A store to measure on: a fresh PGlite folder, or a schema of its own in the given PostgreSQL database (dropped afterwards). */
interface BenchStore {
  label: string;
  db: Database;
  drop(): Promise<void>;
}

async function openBenchStore(kind: 'pglite' | 'postgres', databaseUrl: string | undefined, dir: string): Promise<BenchStore | undefined> {
  if (kind === 'pglite') {
    const db = await openDatabase({ dataDir: dir });
    return { label: 'PGlite', db, drop: () => db.close() };
  }
  if (databaseUrl === undefined) return undefined;
  const schema = `rtds_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir: dir, sinkConcurrency: 4 });
  return {
    label: 'PostgreSQL',
    db,
    async drop() {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** Decided events as the processor hands them over: decided at 50,000 a second from `start`, with a feature vector each. */
function decidedEvents(events: readonly unknown[], start: number): DecidedEvent[] {
  const random = seededRandom(5);
  const width = DEFAULT_FEATURE_SET.names.length;
  return events.map((input, i) => {
    const checked = validateEvent(input);
    if (!checked.ok) throw new Error(`bench store: a generated event is invalid: ${JSON.stringify(checked.errors)}`);
    const score = random();
    return {
      event: checked.event,
      features: Float64Array.from({ length: width }, () => random()),
      decision: {
        decision_id: decisionIdFor(checked.event.event_id),
        event_id: checked.event.event_id,
        decision: score >= 0.7 ? 'rejected' : score >= 0.5 ? 'flagged' : 'approved',
        risk_score: score,
        reason: 'Approved: bench.',
        reasons: [{ code: 'model_score', source: 'model', message: 'bench' }],
        timestamp: new Date(start + i / 50).toISOString(),
        processing_time_ms: 0.1 + 5 * random() ** 3,
        model_version: 'v1',
        rules_version: 'builtin-1',
        late: false,
        history: 'complete',
        degraded: 'none',
        event_time_source: 'event',
      },
    };
  });
}

/** Seconds for a sink to write `decided` and close: batches of 2,000 as the app writes them, 4 connections on PostgreSQL. */
async function timedWrite(db: Database, decided: readonly DecidedEvent[]): Promise<number> {
  const sink = new DecisionSink(db, { batchSize: 2000, flushMs: 50, concurrency: db.kind === 'pglite' ? 1 : 4, featureSet: DEFAULT_FEATURE_SET.version });
  const began = performance.now();
  for (const d of decided) sink.write(d);
  await sink.close();
  return (performance.now() - began) / 1000;
}

/** The sink alone: new decided events (COPY), then the same again (a replay: INSERT … ON CONFLICT). */
export async function benchStoreWrites(databaseUrl: string | undefined, scratch: string, events: readonly unknown[]): Promise<void> {
  for (const kind of ['pglite', 'postgres'] as const) {
    const store = await openBenchStore(kind, databaseUrl, path.join(scratch, `store-${kind}`));
    if (store === undefined) {
      console.log('store writes on PostgreSQL: skipped (set RTDS_DATABASE_URL; the bench writes in a schema of its own and drops it)');
      continue;
    }
    try {
      const decided = decidedEvents(events, Date.now());
      const fresh = await timedWrite(store.db, decided);
      const replayed = await timedWrite(store.db, decided);
      console.log(
        `store writes on ${store.label}: ${fmt(decided.length / fresh)} decided events/s new (COPY), ${fmt(decided.length / replayed)}/s replayed (INSERT … ON CONFLICT)  [DecisionSink alone, ${fmt(decided.length)} events with their decisions, batches of 2,000]`,
      );
    } finally {
      await store.drop();
    }
  }
}

/**
 * `count` thin decisions over the 7 days before `until`, written by SQL: six event types, five
 * channels and none, 90 / 7 / 3 % approved / flagged / rejected, latencies from 0.05 ms to 12 ms. Written as a store before migration 12 held them, then counted by that migration.
 */
async function weekOfDecisions(db: Database, count: number, until: Date): Promise<{ fillS: number; migrateS: number }> {
  await db.query('DROP TABLE decision_minutes');
  await db.query('DELETE FROM schema_migrations WHERE version = 12');
  const began = performance.now();
  const params = [count, until.toISOString()];
  await db.query(
    `INSERT INTO events (event_id, event_type, timestamp, user_id, channel)
     SELECT 'h' || i, (ARRAY['transaction', 'transfer', 'withdrawal', 'login', 'signup', 'password_change'])[1 + i % 6],
            $2::timestamptz - (i * interval '604800 seconds' / $1::int), 'u' || (i % 10000), (ARRAY['web', 'mobile', 'pos', 'atm', 'api', NULL])[1 + (i / 6) % 6]
       FROM generate_series(1, $1::int) AS i`,
    params,
  );
  await db.query(
    `INSERT INTO decisions (decision_id, event_id, decision, risk_score, reason, reasons, timestamp, processing_time_ms, rules_version, late, degraded)
     SELECT 'd' || i, 'h' || i, CASE WHEN i % 100 < 3 THEN 'rejected' WHEN i % 100 < 10 THEN 'flagged' ELSE 'approved' END, (i % 100) / 100.0, 'bench', '[]',
            $2::timestamptz - (i * interval '604800 seconds' / $1::int), 0.05 * exp((i::bigint * 7919 % 1000) / 1000.0 * 3.5 + (i % 3)), 'bench', i % 97 = 0, CASE WHEN i % 89 = 0 THEN 'rules_only' ELSE 'none' END
       FROM generate_series(1, $1::int) AS i`,
    params,
  );
  const filled = performance.now();
  await migrate(db);
  return { fillS: (filled - began) / 1000, migrateS: (performance.now() - filled) / 1000 };
}

/** Best and median of three timed calls, in milliseconds. */
async function timed(call: () => Promise<unknown>): Promise<string> {
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const began = performance.now();
    await call();
    ms.push(performance.now() - began);
  }
  ms.sort((a, b) => a - b);
  return `${fmt(ms[0]!)} ms (median ${fmt(ms[1]!)})`;
}

/** GET /api/v1/history's reads over a week of `count` decisions: each range and split, and the usual level. */
export async function benchHistory(databaseUrl: string | undefined, scratch: string, count: number): Promise<void> {
  const until = new Date(Date.UTC(2026, 0, 8));
  for (const kind of ['pglite', 'postgres'] as const) {
    const store = await openBenchStore(kind, databaseUrl, path.join(scratch, `history-${kind}`));
    if (store === undefined) {
      console.log('history reads on PostgreSQL: skipped (set RTDS_DATABASE_URL; the bench writes in a schema of its own and drops it)');
      continue;
    }
    try {
      const { fillS, migrateS } = await weekOfDecisions(store.db, count, until);
      const [{ rows }] = (await store.db.query<{ rows: number }>('SELECT count(*)::int AS rows FROM decision_minutes')) as [{ rows: number }];
      console.log(`history reads on ${store.label}: ${fmt(count)} decisions over 7 days written in ${fillS.toFixed(1)} s; migration 12 counted them into ${fmt(rows)} rows per minute in ${migrateS.toFixed(1)} s`);
      for (const range of ['15m', '1h', '24h', '7d'] as HistoryRange[]) {
        for (const by of ['none', 'event_type', 'channel'] as HistorySplit[]) console.log(`  ${range} by ${by}: ${await timed(() => decisionHistory(store.db, { range, by, until }))}`);
      }
      console.log(`  usual level (7 days): ${await timed(() => usualLevel(store.db, until))}`);
    } finally {
      await store.drop();
    }
  }
}
