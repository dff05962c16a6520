// The per-minute rollup of decisions (`decision_minutes`): counted in the transaction that stores them, so history reads sum minutes, not decisions.
import type { Decision, RtdsEvent } from '../contracts/index.ts';
import { HISTORY_SPLITS, type HistorySplit } from './history.ts';
import { LATENCY_BUCKETS, LATENCY_EDGES_SQL, latencyBucket } from './latency-histogram.ts';
import type { SqlStatement } from './statement.ts';

const MINUTE = 60_000;

/**
 * Each decision is counted in one row per split: its minute's `none` row (with the latency
 * histogram, which only that row keeps), and the rows of its event's type and channel. A split's
 * value is '' for an event without the field (never a value: values are identifiers).
 */
const COUNT_COLUMNS = ['decisions', 'approved', 'flagged', 'rejected', 'late', 'degraded'] as const;
const LATENCY_COLUMNS = ['latency_counts', 'latency_min_ms', 'latency_max_ms'] as const;
const COLUMNS = ['minute', 'split', 'value', 'writer', ...COUNT_COLUMNS, ...LATENCY_COLUMNS];

/**
 * A write adds its counts to the rows its writer (a sink) holds for the minute: writers never
 * wait for each other's row locks. A sink's concurrent writes do, and they all take the locks in
 * this order (rows are upserted in it), whatever collation the database has, so two of them never
 * deadlock.
 */
const rowOrder = (table: string): string => `${table}.split COLLATE "C", ${table}.minute, ${table}.value COLLATE "C"`;

const ADD_TO_STORED = `ON CONFLICT (split, minute, value, writer) DO UPDATE SET
  ${COUNT_COLUMNS.map((c) => `${c} = decision_minutes.${c} + excluded.${c}`).join(', ')},
  latency_counts = (SELECT array_agg(a + b ORDER BY i) FROM unnest(decision_minutes.latency_counts, excluded.latency_counts) WITH ORDINALITY AS t(a, b, i)),
  latency_min_ms = least(decision_minutes.latency_min_ms, excluded.latency_min_ms),
  latency_max_ms = greatest(decision_minutes.latency_max_ms, excluded.latency_max_ms)`;

type Counts = Record<(typeof COUNT_COLUMNS)[number], number>;
interface MinuteRow extends Counts {
  minute: string;
  split: HistorySplit;
  value: string;
  latency_counts: number[] | null;
  latency_min_ms: number | null;
  latency_max_ms: number | null;
}

function emptyRow(minute: string, split: HistorySplit, value: string): MinuteRow {
  const latency = split === 'none';
  const counts: Counts = { decisions: 0, approved: 0, flagged: 0, rejected: 0, late: 0, degraded: 0 };
  return { minute, split, value, ...counts, latency_counts: latency ? new Array<number>(LATENCY_BUCKETS).fill(0) : null, latency_min_ms: latency ? Infinity : null, latency_max_ms: latency ? -Infinity : null };
}

/**
 * Add decisions that are all new (just COPYed in the same transaction) to the rollup: counted
 * here, from the events the sink holds, and added to the writer's stored rows.
 */
export function countNewDecisions(decided: readonly { event: Pick<RtdsEvent, 'event_type' | 'channel'>; decision: Decision }[], writer: string): SqlStatement {
  // A minute's rows by split and value; a batch spans a minute or two, so this stays small.
  const minutes = new Map<number, Map<string, MinuteRow>[]>();
  // A micro-batch's decisions share their time: parsed once for each run of equal times.
  let parsed = '';
  let minuteMs = NaN;
  for (const { event, decision: d } of decided) {
    if (d.timestamp !== parsed) {
      parsed = d.timestamp;
      minuteMs = Math.floor(Date.parse(parsed) / MINUTE) * MINUTE;
    }
    let splits = minutes.get(minuteMs);
    if (splits === undefined) minutes.set(minuteMs, (splits = HISTORY_SPLITS.map(() => new Map())));
    for (let s = 0; s < HISTORY_SPLITS.length; s++) {
      const split = HISTORY_SPLITS[s]!;
      const value = split === 'none' ? '' : (event[split] ?? '');
      let row = splits[s]!.get(value);
      if (row === undefined) splits[s]!.set(value, (row = emptyRow(new Date(minuteMs).toISOString(), split, value)));
      row.decisions++;
      row[d.decision]++;
      if (d.late) row.late++;
      if (d.degraded !== 'none') row.degraded++;
      if (row.latency_counts !== null) {
        row.latency_counts[latencyBucket(d.processing_time_ms)]!++;
        row.latency_min_ms = Math.min(row.latency_min_ms!, d.processing_time_ms);
        row.latency_max_ms = Math.max(row.latency_max_ms!, d.processing_time_ms);
      }
    }
  }
  const rows = [...minutes.values()].flatMap((splits) => splits.flatMap((values) => [...values.values()]));
  return {
    sql: `INSERT INTO decision_minutes (${COLUMNS.join(', ')})
       SELECT minute, split, value, $2, ${[...COUNT_COLUMNS, ...LATENCY_COLUMNS].join(', ')}
       FROM jsonb_to_recordset($1::jsonb) AS r(minute timestamptz, split text, value text, ${COUNT_COLUMNS.map((c) => `${c} integer`).join(', ')},
            latency_counts integer[], latency_min_ms double precision, latency_max_ms double precision)
       ORDER BY ${rowOrder('r')}
       ${ADD_TO_STORED}`,
    params: [JSON.stringify(rows), writer],
  };
}

/**
 * SQL adding the decisions that `source` selects (timestamp, event_type, channel, decision, late,
 * degraded, processing_time_ms) to the rollup, counted by the database: for rows whose insertion
 * only the database knows (a replayed batch), and for decisions stored before the rollup was.
 * `ctes` go first in the WITH (a data-modifying one must), `writer` is an SQL expression.
 */
export function countDecisionsOf(options: { ctes?: string[]; source: string; writer: string }): string {
  const bySplit = HISTORY_SPLITS.map((split) => `('${split}', ${split === 'none' ? "''" : `coalesce(s.${split}, '')`})`).join(', ');
  const minute = `date_bin('1 minute', s.timestamp, TIMESTAMPTZ 'epoch')`;
  return `WITH ${[...(options.ctes ?? []), `source AS (${options.source})`].join(', ')},
    counted AS (
      SELECT ${minute} AS minute, k.split, k.value,
             count(*)::int AS decisions,
             count(*) FILTER (WHERE s.decision = 'approved')::int AS approved,
             count(*) FILTER (WHERE s.decision = 'flagged')::int AS flagged,
             count(*) FILTER (WHERE s.decision = 'rejected')::int AS rejected,
             count(*) FILTER (WHERE s.late)::int AS late,
             count(*) FILTER (WHERE s.degraded <> 'none')::int AS degraded
        FROM source s CROSS JOIN LATERAL (VALUES ${bySplit}) AS k(split, value)
       GROUP BY 1, 2, 3),
    per_bucket AS (
      SELECT ${minute} AS minute, width_bucket(s.processing_time_ms, ${LATENCY_EDGES_SQL}) AS bucket,
             count(*)::int AS n, min(s.processing_time_ms) AS min_ms, max(s.processing_time_ms) AS max_ms
        FROM source s GROUP BY 1, 2),
    latency AS (
      -- Every bucket of each minute, the empty ones as 0.
      SELECT m.minute, array_agg(coalesce(p.n, 0) ORDER BY b.bucket) AS latency_counts, min(p.min_ms) AS latency_min_ms, max(p.max_ms) AS latency_max_ms
        FROM (SELECT DISTINCT minute FROM per_bucket) m CROSS JOIN generate_series(0, ${LATENCY_BUCKETS - 1}) AS b(bucket)
        LEFT JOIN per_bucket p ON p.minute = m.minute AND p.bucket = b.bucket
       GROUP BY m.minute)
    INSERT INTO decision_minutes (${COLUMNS.join(', ')})
    SELECT c.minute, c.split, c.value, ${options.writer}, ${COUNT_COLUMNS.map((col) => `c.${col}`).join(', ')}, ${LATENCY_COLUMNS.map((col) => `l.${col}`).join(', ')}
      FROM counted c LEFT JOIN latency l ON c.split = 'none' AND l.minute = c.minute
     ORDER BY ${rowOrder('c')}
    ${ADD_TO_STORED}`;
}
