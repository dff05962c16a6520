// GET /api/v1/history: decisions over time from the store (what the metrics page charts beyond the live feed, so a restart loses nothing) and the usual flag and reject rates.
import type { FastifyInstance } from 'fastify';
import { decisionHistory, HISTORY_RANGES, HISTORY_SPLITS, LATENCY_ABSOLUTE_BOUND_MS, LATENCY_EDGES_MS, LATENCY_RELATIVE_BOUND, MAX_SPLIT_VALUES, NO_VALUE, OTHER_VALUES, USUAL_LEVEL_MS, usualLevel, type Database, type HistoryRange, type HistorySplit, type UsualLevel } from '../store/index.ts';

/** The usual level moves over days while reading it scans a week of decisions: one read serves every request for a minute. */
const USUAL_LEVEL_REUSE_MS = 60_000;

const count = { type: 'integer', minimum: 0 } as const;
const outcomeCounts = { decisions: count, approved: count, flagged: count, rejected: count } as const;
const countsSchema = { type: 'object', properties: outcomeCounts } as const;
const rate = { type: ['number', 'null'], minimum: 0, maximum: 1 } as const;
const time = { type: 'string', format: 'date-time' } as const;

const exactRanges = Object.entries(HISTORY_RANGES).filter(([, r]) => !r.byMinute).map(([range]) => range).join(', ');
const LATENCY_ESTIMATES = `exact (percentile_cont) for ${exactRanges}; for longer ranges estimated from a histogram of the decisions of each minute, within ${(100 * LATENCY_RELATIVE_BOUND).toFixed(1)} % of the exact value (± ${LATENCY_ABSOLUTE_BOUND_MS} ms below ${LATENCY_EDGES_MS[0]} ms, and between ${Math.round(LATENCY_EDGES_MS.at(-1)! / 1000)} s and the highest latency from there on)`;

const historySchema = {
  type: 'object',
  properties: {
    range: { enum: Object.keys(HISTORY_RANGES) },
    by: { enum: [...HISTORY_SPLITS] },
    bucket_seconds: { type: 'integer', description: 'each bucket covers this long from its `at`, the last one only up to `until`' },
    from: { ...time, description: 'where the first bucket starts: a whole minute for ranges counted by the minute' },
    until: { ...time, description: 'the time asked at; the last bucket ends here (for ranges counted by the minute it is the minute under way, so it may cover less than bucket_seconds)' },
    buckets: {
      type: 'array',
      description: 'every bucket of the range, oldest first, empty ones included',
      items: {
        type: 'object',
        properties: {
          at: time,
          ...outcomeCounts,
          late: count,
          degraded: { ...count, description: 'decisions made below the main model (fallback model, rules only, safe default)' },
          latency_ms: { type: ['object', 'null'], description: `percentiles of processing_time_ms, ${LATENCY_ESTIMATES}; null without decisions`, properties: { p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' } } },
          by: { type: 'object', description: 'counts per value of the split in this bucket (values without decisions left out); only with a split', additionalProperties: countsSchema },
        },
      },
    },
    values: {
      type: 'array',
      description: `the split's values, most decisions first, with their totals; past the ${MAX_SPLIT_VALUES - 1} largest they are summed as "${OTHER_VALUES}", events without the field are "${NO_VALUE}"`,
      items: { type: 'object', properties: { value: { type: 'string' }, ...outcomeCounts } },
    },
    totals: { type: 'object', properties: { ...outcomeCounts, late: count, degraded: count } },
    usual: {
      type: 'object',
      description: `flag and reject rates over the ${USUAL_LEVEL_MS / 86_400_000} days before its until (read at most once a minute, the minute under way included), or the part of them with decisions (since: the minute of the oldest): the level the current rates are read against`,
      properties: { since: { type: ['string', 'null'], format: 'date-time' }, until: time, decisions: count, flag_rate: rate, reject_rate: rate },
    },
  },
} as const;

export function registerHistoryRoutes(app: FastifyInstance, db: Database): void {
  let usual: { at: number; level: Promise<UsualLevel> } | undefined;
  const usualAt = (until: Date): Promise<UsualLevel> => {
    if (usual === undefined || until.getTime() - usual.at > USUAL_LEVEL_REUSE_MS) {
      const level = usualLevel(db, until);
      usual = { at: until.getTime(), level };
      // A failed read is not reused: the next request reads again.
      level.catch(() => {
        if (usual?.level === level) usual = undefined;
      });
    }
    return usual.level;
  };
  app.get(
    '/api/v1/history',
    {
      schema: {
        tags: ['decisions'],
        summary: `Decisions over time, from the store: per bucket the count, outcomes, late and degraded decisions and latency percentiles, optionally split by event type or channel; with the usual flag and reject rates. ${exactRanges} is counted from the decisions; longer ranges from the decisions counted per minute as they are stored, so they answer as fast on weeks of decisions, with latency percentiles estimated (${LATENCY_ESTIMATES}).`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            range: { enum: Object.keys(HISTORY_RANGES), default: '1h', description: `the range before now, and its buckets: ${Object.entries(HISTORY_RANGES).map(([range, { bucketMs, byMinute }]) => `${range} in ${bucketMs / 1000} s${byMinute ? ' (counted by the minute)' : ''}`).join(', ')}` },
            by: { enum: [...HISTORY_SPLITS], default: 'none', description: 'split the counts by the event’s type or channel' },
          },
        },
        response: { 200: historySchema },
      },
    },
    async (req) => {
      const { range, by } = req.query as { range: HistoryRange; by: HistorySplit };
      const until = new Date();
      const [history, level] = await Promise.all([decisionHistory(db, { range, by, until }), usualAt(until)]);
      return { ...history, usual: level };
    },
  );
}
