// Measures the explorer's search: each filter's first page and a deep page over millions of stored decisions.
import pg from 'pg';
import { openDatabase, decisionPageQuery, listDecisions, type Database, type DecisionQuery } from '../src/store/index.ts';

/** Decisions per second of decision time in the filled store; two share each millisecond stamp, so the page order's tie-break on decision_id is exercised. */
const FILL_SPACING_MS = 173;
/** The newest filled decision's time. */
export const FILL_END = Date.UTC(2026, 11, 1);

/**
 * Fill `decisions` (and `labels`) with `rows` synthetic decisions in one transaction of set-based
 * SQL, then ANALYZE: the mix of a day of traffic — 2 % rejected, 5 % flagged; six event types and
 * five channels in unequal shares; about 20 decisions per user and a merchant on each transaction;
 * rule codes on a few percent (`atm_limit`, `velocity_1h`, `blocked_country`); 0.5 % late, 0.3 %
 * degraded; the oldest 80 % a third labelled, about 1 % of those fraud. Ids are `x<i>`, i = 1 the
 * oldest. Deterministic (seeded). Events are not written: searches read decisions only.
 */
export async function fillDecisions(db: Database, rows: number): Promise<void> {
  const users = Math.max(1, Math.floor(rows / 20));
  const labelledUpTo = Math.floor(rows * 0.8);
  // Loaded as PostgreSQL advises for bulk loads: the indexes dropped, then built again from their own definitions.
  const indexes = await db.query<{ name: string; definition: string }>(
    "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'decisions' AND indexname <> 'decisions_pkey'",
  );
  await db.batch([
    ...indexes.map(({ name }) => ({ sql: `DROP INDEX ${name}`, params: [] })),
    { sql: 'SELECT setseed(0.16)', params: [] },
    // Labels first: the decisions' insert trigger copies each verdict onto its decision, as in production.
    {
      sql: `INSERT INTO labels (event_id, is_fraud, labeled_at)
            SELECT 'x' || i, i % 99 = 0, to_timestamp($2::float8 / 1000.0) FROM generate_series(3, $1, 3) i`,
      params: [labelledUpTo, FILL_END],
    },
    {
      sql: `INSERT INTO decisions (decision_id, event_id, decision, risk_score, reason, reasons, timestamp, processing_time_ms, model_version, rules_version, late, degraded, event_type, user_id, channel, merchant_id)
            SELECT 'dec_x' || i, 'x' || i, outcome,
                   round((CASE outcome WHEN 'rejected' THEN 0.7 + 0.3 * r_score WHEN 'flagged' THEN 0.5 + 0.2 * r_score ELSE 0.5 * r_score * r_score END)::numeric, 4)::float8,
                   'filled for the explorer bench',
                   jsonb_build_array(jsonb_build_object('code', 'model_score', 'source', 'model', 'message', 'model v1 scored'))
                     || CASE WHEN channel = 'atm' AND r_rule < 0.3 THEN jsonb_build_array(jsonb_build_object('code', 'atm_limit', 'source', 'rule', 'message', 'amount exceeds the atm limit')) ELSE '[]' END
                     || CASE WHEN r_rule > 0.99 THEN jsonb_build_array(jsonb_build_object('code', 'velocity_1h', 'source', 'rule', 'message', 'many events in an hour')) ELSE '[]' END
                     || CASE WHEN r_rule BETWEEN 0.5 AND 0.502 THEN jsonb_build_array(jsonb_build_object('code', 'blocked_country', 'source', 'rule', 'message', 'country is blocked')) ELSE '[]' END,
                   to_timestamp(($3::float8 - (($1 - i) / 2) * $4) / 1000.0), 0.5, 'v1', 'bench-1',
                   r_flag < 0.005, CASE WHEN r_flag > 0.997 THEN 'fallback_model' ELSE 'none' END,
                   event_type, 'u' || floor(r_user * $2)::int, channel,
                   CASE WHEN event_type = 'transaction' THEN 'm' || floor(r_merchant * 5000)::int END
              FROM (SELECT i, r_score, r_rule, r_flag, r_user, r_merchant,
                           CASE WHEN r_outcome < 0.02 THEN 'rejected' WHEN r_outcome < 0.07 THEN 'flagged' ELSE 'approved' END AS outcome,
                           CASE WHEN r_type < 0.6 THEN 'transaction' WHEN r_type < 0.8 THEN 'login' WHEN r_type < 0.88 THEN 'transfer' WHEN r_type < 0.94 THEN 'withdrawal' WHEN r_type < 0.97 THEN 'signup' ELSE 'password_change' END AS event_type,
                           CASE WHEN r_channel < 0.4 THEN 'web' WHEN r_channel < 0.8 THEN 'mobile' WHEN r_channel < 0.9 THEN 'pos' WHEN r_channel < 0.95 THEN 'atm' ELSE 'api' END AS channel
                      FROM (SELECT i, random() AS r_outcome, random() AS r_score, random() AS r_type, random() AS r_channel, random() AS r_rule, random() AS r_flag, random() AS r_user, random() AS r_merchant
                              FROM generate_series(1, $1) i OFFSET 0) drawn OFFSET 0) g`,
      params: [rows, users, FILL_END, FILL_SPACING_MS],
    },
    ...indexes.map(({ definition }) => ({ sql: definition, params: [] })),
  ]);
  await db.query('ANALYZE decisions');
  await db.query('ANALYZE labels');
}

/** One search per filter, with values the filled store holds in the shares above (limit 50, the explorer's page). */
export const EXPLORER_FILTERS: readonly { name: string; query: Omit<DecisionQuery, 'limit' | 'cursor'> }[] = [
  { name: 'none', query: {} },
  { name: 'decision = rejected', query: { decision: 'rejected' } },
  { name: 'event_type = withdrawal', query: { event_type: 'withdrawal' } },
  { name: 'channel = atm', query: { channel: 'atm' } },
  { name: 'user_id', query: { user_id: 'u42' } },
  { name: 'merchant_id', query: { merchant_id: 'm42' } },
  { name: 'min_score = 0.9', query: { min_score: 0.9 } },
  { name: 'score in [0.6, 0.61]', query: { min_score: 0.6, max_score: 0.61 } },
  { name: 'since / until', query: { since: new Date(FILL_END - 30 * 86_400_000).toISOString(), until: new Date(FILL_END - 3_600_000).toISOString() } },
  { name: 'rule = velocity_1h', query: { rule: 'velocity_1h' } },
  { name: 'rule = blocked_country', query: { rule: 'blocked_country' } },
  { name: 'label = fraud', query: { label: 'fraud' } },
  { name: 'label = legit', query: { label: 'legit' } },
  { name: 'label = unlabelled', query: { label: 'unlabelled' } },
  { name: 'late', query: { late: true } },
  { name: 'degraded', query: { degraded: true } },
  { name: 'channel = atm, decision = rejected', query: { channel: 'atm', decision: 'rejected' } },
];

export const PAGE = 50;
/** How far back in time the deep page starts. */
const DEEP = 0.9;

/** The plan PostgreSQL picks for a page of `query`, as EXPLAIN's text. */
export async function explainPage(db: Database, query: DecisionQuery): Promise<string> {
  const { sql, params } = decisionPageQuery(query);
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** Median milliseconds of `runs` reads of one page. */
async function pageMs(db: Database, query: DecisionQuery, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const began = performance.now();
    await listDecisions(db, query);
    times.push(performance.now() - began);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

/**
 * The cursor a user paging through `query`'s results would hold about `depth` of the way back in
 * the filled store's time: the next cursor of the first match older than that time.
 */
async function cursorAtDepth(db: Database, query: Omit<DecisionQuery, 'limit' | 'cursor'>, rows: number, depth: number): Promise<string | null> {
  const until = new Date(FILL_END - depth * (rows / 2) * FILL_SPACING_MS).toISOString();
  return (await listDecisions(db, { ...query, until, limit: 1 })).next_cursor;
}

/** The bench's own schema in the database it is given: its tables never meet the ones RTDS runs on. */
const SCHEMA = 'rtds_explorer_bench';

/** Fill a schema of its own in `databaseUrl` with `rows` decisions, print each filter's first-page and deep-page times, and drop it. */
export async function benchExplorer(databaseUrl: string, rows: number, dataDir: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir });
  try {
    const began = performance.now();
    await fillDecisions(db, rows);
    console.log(`explorer: ${rows.toLocaleString('en-US')} decisions filled and analysed in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    for (const { name, query } of EXPLORER_FILTERS) {
      const first = await pageMs(db, { ...query, limit: PAGE }, 7);
      const deep = await cursorAtDepth(db, query, rows, DEEP);
      const deepMs = deep === null ? '(none that old)' : `${(await pageMs(db, { ...query, limit: PAGE, cursor: deep }, 7)).toFixed(2)} ms`;
      const plan = (await explainPage(db, { ...query, limit: PAGE })).split('\n').find((line) => /Scan/.test(line))?.trim() ?? '';
      console.log(`explorer: ${name.padEnd(36)} first page ${first.toFixed(2).padStart(8)} ms, a page ${100 * DEEP} % back ${deepMs.padStart(15)}  [${plan}]`);
    }
  } finally {
    await db.close();
    await admin.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
    await admin.end();
  }
}
