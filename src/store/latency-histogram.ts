// Decision latencies counted in fixed, log-spaced buckets, and percentiles estimated from the counts within a stated bound.

/**
 * Bucket edges in milliseconds: 10 µs × 2^(k/4) for k = 0…92, four to a doubling, up to 84 s.
 * Counts are kept per bucket: [0, edge 0), [edge 0, edge 1), …, [edge 92, ∞) — the buckets of
 * PostgreSQL's `width_bucket(ms, edges)`, which the store's SQL uses with the same numbers, so JS
 * and SQL put a latency on an edge in the same bucket. Changing them needs a migration rebuilding
 * the stored counts.
 */
export const LATENCY_EDGES_MS: readonly number[] = Array.from({ length: 93 }, (_, k) => 0.01 * 2 ** (k / 4));

/** Counts per bucket: one more than the edges (below the first, between each two, from the last on). */
export const LATENCY_BUCKETS = LATENCY_EDGES_MS.length + 1;

/**
 * How far an estimate may lie from PostgreSQL's exact `percentile_cont`: within this share of
 * the exact value (2^(1/8) − 1, half a bucket's width in log terms) while the latencies around
 * the percentile lie between the first and the last edge, plus at most LATENCY_ABSOLUTE_BOUND_MS
 * below the first edge. From the last edge on the estimate only lies between it and the highest
 * latency counted.
 */
export const LATENCY_RELATIVE_BOUND = 2 ** (1 / 8) - 1;
export const LATENCY_ABSOLUTE_BOUND_MS = LATENCY_EDGES_MS[0]! / 2;

/** The edges as a PostgreSQL array literal: each number printed so that it reads back as the same double. */
export const LATENCY_EDGES_SQL = `'{${LATENCY_EDGES_MS.join(',')}}'::float8[]`;

/** The bucket of a latency: how many edges lie at or below it (as `width_bucket`). */
export function latencyBucket(ms: number): number {
  let lo = 0;
  let hi = LATENCY_EDGES_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (LATENCY_EDGES_MS[mid]! <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Latencies counted together: counts per bucket, and the lowest and highest, which narrow the end buckets. */
export interface LatencyCounts {
  counts: readonly number[];
  minMs: number;
  maxMs: number;
}

export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
}

/**
 * p50, p95 and p99 as PostgreSQL's `percentile_cont` reads them (linear between the two closest
 * ranks), each rank's latency estimated by the middle of its bucket narrowed to the lowest and
 * highest counted: geometric between edges, so the estimate is within LATENCY_RELATIVE_BOUND of
 * any latency in the bucket, and arithmetic below the first edge (within LATENCY_ABSOLUTE_BOUND_MS). Undefined without latencies.
 */
export function latencyPercentiles({ counts, minMs, maxMs }: LatencyCounts): LatencyPercentiles | undefined {
  const total = counts.reduce((n, c) => n + c, 0);
  if (total === 0) return undefined;
  /** The estimated latency at rank `rank` (0-based) of the sorted latencies. */
  const atRank = (rank: number): number => {
    let bucket = 0;
    for (let below = counts[0]!; below <= rank; below += counts[++bucket]!);
    const lo = Math.max(bucket === 0 ? 0 : LATENCY_EDGES_MS[bucket - 1]!, minMs);
    const hi = Math.min(LATENCY_EDGES_MS[bucket] ?? Infinity, maxMs);
    return bucket === 0 ? (lo + hi) / 2 : Math.sqrt(lo * hi);
  };
  const percentile = (p: number): number => {
    const position = p * (total - 1);
    const below = Math.floor(position);
    const low = atRank(below);
    return below === position ? low : low + (position - below) * (atRank(below + 1) - low);
  };
  return { p50: percentile(0.5), p95: percentile(0.95), p99: percentile(0.99) };
}
