// Decisions over time from the store: counts, outcomes and latency per time bucket, optionally split by event type or channel, and the usual flag and reject rates.
import type { Database } from './database.ts';
import { LATENCY_BUCKETS, latencyPercentiles, type LatencyPercentiles } from './latency-histogram.ts';

type Queryable = Pick<Database, 'query'>;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The ranges a history covers, each with a bucket size giving 60–170 points, and what it is read
 * from: the decisions themselves for a quarter of an hour (few rows, exact percentiles), else
 * their per-minute rollup (decision_minutes), whatever the number of decisions.
 */
export const HISTORY_RANGES = {
  '15m': { ms: 15 * MINUTE, bucketMs: 15 * SECOND, byMinute: false },
  '1h': { ms: HOUR, bucketMs: MINUTE, byMinute: true },
  '24h': { ms: DAY, bucketMs: 15 * MINUTE, byMinute: true },
  '7d': { ms: 7 * DAY, bucketMs: HOUR, byMinute: true },
} as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;

/** The event fields a history can be split by (columns of `events`). */
export const HISTORY_SPLITS = ['none', 'event_type', 'channel'] as const;
export type HistorySplit = (typeof HISTORY_SPLITS)[number];

/** What the usual level is measured over: the last week, or what of it holds decisions. */
export const USUAL_LEVEL_MS = 7 * DAY;

/**
 * Split values are lower-case identifiers (the event contract's pattern), so these labels in
 * brackets never collide with one: events without the field, and the values past the largest few.
 */
export const NO_VALUE = '(none)';
export const OTHER_VALUES = '(other)';
/** Values of a split shown apart; the rest are summed as OTHER_VALUES, so a chart stays readable. */
export const MAX_SPLIT_VALUES = 8;

export interface OutcomeCounts {
  decisions: number;
  approved: number;
  flagged: number;
  rejected: number;
}

export interface HistoryBucket extends OutcomeCounts {
  /** Start of the bucket (RFC 3339); it covers `bucket_seconds` from there, the last one only up to `until`. */
  at: string;
  late: number;
  degraded: number;
  /**
   * Percentiles of `processing_time_ms` (milliseconds); null in a bucket without decisions. Exact
   * from the decisions, estimated from the rollup's histogram (latency-histogram.ts bounds them).
   */
  latency_ms: LatencyPercentiles | null;
  /** Counts per value of the split (only values with decisions in this bucket); absent without a split. */
  by?: Record<string, OutcomeCounts>;
}

export interface DecisionHistory {
  range: HistoryRange;
  by: HistorySplit;
  bucket_seconds: number;
  /** Where the first bucket starts: a whole minute for ranges read from the rollup. */
  from: string;
  /** The time asked at: the last bucket ends here. */
  until: string;
  /** Every bucket of the range, oldest first, empty ones included. */
  buckets: HistoryBucket[];
  /** The split's values, largest first, with their totals over the range; empty without a split. */
  values: ({ value: string } & OutcomeCounts)[];
  totals: OutcomeCounts & { late: number; degraded: number };
}

export interface UsualLevel {
  /** The minute of the oldest decision of the last week (null when there is none): the level's base begins there. */
  since: string | null;
  until: string;
  decisions: number;
  /** Shares of all decisions; null without decisions. */
  flag_rate: number | null;
  reject_rate: number | null;
}

const COUNTS = `count(*)::int AS decisions,
       count(*) FILTER (WHERE d.decision = 'approved')::int AS approved,
       count(*) FILTER (WHERE d.decision = 'flagged')::int AS flagged,
       count(*) FILTER (WHERE d.decision = 'rejected')::int AS rejected`;

/** Sums of the rollup's counts, as float8: exact to 2^53, where a week of decisions may pass an integer's 2^31. */
const SUMS = `sum(m.decisions)::float8 AS decisions, sum(m.approved)::float8 AS approved, sum(m.flagged)::float8 AS flagged, sum(m.rejected)::float8 AS rejected`;
/** The rollup's latency histograms added bucket by bucket (a subscript per bucket sums far faster than unnesting the arrays). */
const LATENCY_SUMS = `ARRAY[${Array.from({ length: LATENCY_BUCKETS }, (_, i) => `sum(m.latency_counts[${i + 1}])`).join(', ')}]::float8[] AS latency_counts,
       min(m.latency_min_ms) AS latency_min_ms, max(m.latency_max_ms) AS latency_max_ms`;

const emptyCounts = (): OutcomeCounts => ({ decisions: 0, approved: 0, flagged: 0, rejected: 0 });
/** Add `counts` to the tally under `key` (a Map: a value may be any identifier, "constructor" too). */
function tally(to: Map<string, OutcomeCounts>, key: string, counts: OutcomeCounts): void {
  let sum = to.get(key);
  if (sum === undefined) to.set(key, (sum = emptyCounts()));
  sum.decisions += counts.decisions;
  sum.approved += counts.approved;
  sum.flagged += counts.flagged;
  sum.rejected += counts.rejected;
}

interface BucketRow extends OutcomeCounts {
  bucket: Date;
  late: number;
  degraded: number;
  latency: LatencyPercentiles | null;
}

interface SplitRow extends OutcomeCounts {
  bucket: Date;
  value: string;
}

/** What a history is assembled from: each bucket's decisions, and with a split each value's in each bucket. */
interface Counted {
  rows: BucketRow[];
  splitRows: SplitRow[];
}

/** Buckets of `bucketMs` from `from` (epoch ms); what is counted lies before `to`. */
interface Window {
  from: number;
  to: number;
  bucketMs: number;
}

const windowParams = ({ from, to, bucketMs }: Window): string[] => [`${bucketMs / SECOND} seconds`, new Date(from).toISOString(), new Date(to).toISOString()];

/** Count the decisions themselves, through their time index; a split joins each decision's event. */
async function countDecisions(db: Queryable, window: Window, by: HistorySplit): Promise<Counted> {
  const params = windowParams(window);
  const bucketOf = `date_bin($1::interval, d.timestamp, $2::timestamptz)`;
  const inRange = `d.timestamp >= $2::timestamptz AND d.timestamp < $3::timestamptz`;
  const [rows, splitRows] = await Promise.all([
    db.query<Omit<BucketRow, 'latency'> & { latency: [number, number, number] }>(
      `SELECT ${bucketOf} AS bucket, ${COUNTS},
              count(*) FILTER (WHERE d.late)::int AS late,
              count(*) FILTER (WHERE d.degraded <> 'none')::int AS degraded,
              -- One sort of the bucket's latencies for all three: a quarter faster than three calls.
              percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY d.processing_time_ms) AS latency
         FROM decisions d WHERE ${inRange} GROUP BY 1`,
      params,
    ),
    by === 'none'
      ? Promise.resolve([])
      : db.query<SplitRow>(
          // The column is one of HISTORY_SPLITS, never text from a request.
          `SELECT ${bucketOf} AS bucket, coalesce(e.${by}, '${NO_VALUE}') AS value, ${COUNTS}
             FROM decisions d LEFT JOIN events e ON e.event_id = d.event_id WHERE ${inRange} GROUP BY 1, 2`,
          params,
        ),
  ]);
  return { rows: rows.map(({ latency: [p50, p95, p99], ...row }) => ({ ...row, latency: { p50, p95, p99 } })), splitRows };
}

/** Sum the per-minute rollup over its writers: the minutes' totals (split none), and with a split its values' rows. */
async function countMinutes(db: Queryable, window: Window, by: HistorySplit): Promise<Counted> {
  const params = windowParams(window);
  const bucketOf = `date_bin($1::interval, m.minute, $2::timestamptz)`;
  const inRange = `m.minute >= $2::timestamptz AND m.minute < $3::timestamptz`;
  const [rows, splitRows] = await Promise.all([
    db.query<Omit<BucketRow, 'latency'> & { latency_counts: number[]; latency_min_ms: number; latency_max_ms: number }>(
      `SELECT ${bucketOf} AS bucket, ${SUMS}, sum(m.late)::float8 AS late, sum(m.degraded)::float8 AS degraded, ${LATENCY_SUMS}
         FROM decision_minutes m WHERE m.split = 'none' AND ${inRange} GROUP BY 1`,
      params,
    ),
    by === 'none'
      ? Promise.resolve([])
      : db.query<SplitRow>(
          `SELECT ${bucketOf} AS bucket, coalesce(nullif(m.value, ''), '${NO_VALUE}') AS value, ${SUMS}
             FROM decision_minutes m WHERE m.split = $4 AND ${inRange} GROUP BY 1, 2`,
          [...params, by],
        ),
  ]);
  return {
    rows: rows.map(({ latency_counts: counts, latency_min_ms: minMs, latency_max_ms: maxMs, ...row }) => ({ ...row, latency: latencyPercentiles({ counts, minMs, maxMs }) ?? null })),
    splitRows,
  };
}

/**
 * The decisions made in the `range` before `until`, bucketed by decision time. A quarter of an
 * hour is counted from the decisions, its buckets ending at `until`, so the latest one is whole
 * rather than a fraction of a bucket that reads as a drop. Longer ranges are summed from the
 * per-minute rollup: their buckets are whole minutes ending with the minute under way at `until`,
 * so the last one holds the decisions up to `until` (and covers a minute less at most).
 */
export async function decisionHistory(db: Queryable, options: { range: HistoryRange; by: HistorySplit; until: Date }): Promise<DecisionHistory> {
  const { ms, bucketMs, byMinute } = HISTORY_RANGES[options.range];
  const until = options.until.getTime();
  const to = byMinute ? Math.ceil(until / MINUTE) * MINUTE : until;
  const from = to - ms;
  const { rows, splitRows } = await (byMinute ? countMinutes : countDecisions)(db, { from, to, bucketMs }, options.by);

  const buckets: HistoryBucket[] = Array.from({ length: ms / bucketMs }, (_, i) => ({ at: new Date(from + i * bucketMs).toISOString(), ...emptyCounts(), late: 0, degraded: 0, latency_ms: null }));
  const indexOf = (at: Date): number => Math.floor((at.getTime() - from) / bucketMs);
  const totals = { ...emptyCounts(), late: 0, degraded: 0 };
  for (const { bucket: at, latency, ...counts } of rows) {
    Object.assign(buckets[indexOf(at)]!, counts, { latency_ms: latency });
    for (const key of ['decisions', 'approved', 'flagged', 'rejected', 'late', 'degraded'] as const) totals[key] += counts[key];
  }

  const byValue = new Map<string, OutcomeCounts>();
  for (const row of splitRows) tally(byValue, row.value, row);
  const ranked = [...byValue].sort(([a, x], [b, y]) => y.decisions - x.decisions || a.localeCompare(b));
  const shown = new Set(ranked.slice(0, ranked.length > MAX_SPLIT_VALUES ? MAX_SPLIT_VALUES - 1 : MAX_SPLIT_VALUES).map(([value]) => value));
  const nameOf = (value: string): string => (shown.has(value) ? value : OTHER_VALUES);
  const values = new Map<string, OutcomeCounts>();
  for (const [value, counts] of ranked) tally(values, nameOf(value), counts);
  if (options.by !== 'none') {
    const perBucket = buckets.map(() => new Map<string, OutcomeCounts>());
    for (const row of splitRows) tally(perBucket[indexOf(row.bucket)]!, nameOf(row.value), row);
    buckets.forEach((bucket, i) => (bucket.by = Object.fromEntries(perBucket[i]!)));
  }

  return {
    range: options.range,
    by: options.by,
    bucket_seconds: bucketMs / SECOND,
    from: new Date(from).toISOString(),
    until: new Date(until).toISOString(),
    buckets,
    values: [...values].map(([value, counts]) => ({ value, ...counts })),
    totals,
  };
}

/**
 * The flag and reject rates over the last week before `until` (or the part of it with decisions):
 * the level the current rates are read against. Summed from the per-minute rollup, the minute
 * under way at `until` included.
 */
export async function usualLevel(db: Queryable, until: Date): Promise<UsualLevel> {
  const to = Math.ceil(until.getTime() / MINUTE) * MINUTE;
  const [row] = await db.query<OutcomeCounts & { since: Date | null }>(
    `SELECT min(m.minute) AS since, coalesce(sum(m.decisions), 0)::float8 AS decisions, coalesce(sum(m.flagged), 0)::float8 AS flagged, coalesce(sum(m.rejected), 0)::float8 AS rejected
       FROM decision_minutes m WHERE m.split = 'none' AND m.minute >= $1::timestamptz AND m.minute < $2::timestamptz`,
    [new Date(to - USUAL_LEVEL_MS).toISOString(), new Date(to).toISOString()],
  );
  const { since, decisions, flagged, rejected } = row!;
  return {
    since: since === null ? null : since.toISOString(),
    until: until.toISOString(),
    decisions,
    flag_rate: decisions === 0 ? null : flagged / decisions,
    reject_rate: decisions === 0 ? null : rejected / decisions,
  };
}
