// Random event streams and feature specs for the feature engine's property tests, and the stream runner they share.
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import type { FeatureSet } from '../../src/features/index.ts';
import { Watermark } from '../../src/process/index.ts';

export const T0 = Date.parse('2026-11-26T00:00:00Z');

/** A fraud verdict on event `i`, known from `labeledAt` on. */
export interface Verdict {
  fraud: boolean;
  labeledAt: number;
}

/**
 * Runs a stream through a feature set the way a partition task does: watermark, lateness, then
 * compute; an event's verdict is handed over once the event is processed, as online.
 */
export function stream(set: FeatureSet, events: readonly RtdsEvent[], outOfOrdernessMs: number, allowedLatenessMs: number, verdicts: readonly (Verdict | undefined)[] = [], lateHistoryMs = 0): Float64Array[] {
  const state = set.newState();
  const watermark = new Watermark(outOfOrdernessMs);
  return events.map((event, i) => {
    const tooLate = event.event_time < watermark.current - allowedLatenessMs;
    watermark.observe(event.event_time);
    const vector = set.compute(state, event, { tooLate, earliest: watermark.current - allowedLatenessMs - lateHistoryMs });
    const verdict = verdicts[i];
    if (verdict !== undefined) set.label(state, { event, is_fraud: verdict.fraud, labeled_at: verdict.labeledAt });
    return vector;
  });
}

// ---- Generators ----

export const arbEvent = fc.record({
  // Whole minutes half the time: events land exactly on window edges and exactly a gap apart.
  offsetS: fc.oneof(fc.integer({ min: 0, max: 3 * 3600 }), fc.integer({ min: 0, max: 180 }).map((m) => m * 60)),
  user: fc.constantFrom('ann', 'bob', 'cy'),
  merchant: fc.option(fc.constantFrom('m1', 'm2'), { nil: undefined }),
  type: fc.constantFrom('transaction', 'login'),
  channel: fc.constantFrom('web', 'pos'),
  amount: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
  device: fc.constantFrom('d1', 'd2', 'd3', 'd4'),
  country: fc.option(fc.constantFrom('DE', 'FR', 'US'), { nil: undefined }),
});

export type RawEvent = typeof arbEvent extends fc.Arbitrary<infer R> ? R : never;

export const toEvents = (raw: RawEvent[]): RtdsEvent[] =>
  raw.map((r, i) => {
    const e: RtdsEvent = { event_id: `e${i}`, event_type: r.type, timestamp: T0 + r.offsetS * 1000, event_time: T0 + r.offsetS * 1000, event_time_source: 'event', user_id: r.user, channel: r.channel, device_id: r.device };
    if (r.merchant !== undefined) e.merchant_id = r.merchant;
    if (r.amount !== undefined) e.amount = r.amount;
    if (r.country !== undefined) e.country = r.country;
    return e;
  });

export const arbWindow = fc.oneof(
  fc.record({ kind: fc.constant('tumbling'), size: fc.constantFrom('1m', '10m', '1h') }),
  fc.constantFrom({ kind: 'hopping', size: '10m', hop: '1m' }, { kind: 'hopping', size: '1h', hop: '10m' }, { kind: 'sliding', size: '30m', hop: '30m' }),
  fc.record({ kind: fc.constant('session'), gap: fc.constantFrom('30s', '5m', '20m') }),
);

export const specOver = (aggregates: readonly string[]) =>
  fc
  .record({
    entity: fc.constantFrom(['user_id'], ['merchant_id'], ['user_id', 'device_id'], 'channel'),
    filter: fc.option(fc.constantFrom({ event_type: ['transaction'] }, { channel: ['web', 'pos'] }, { event_type: 'login', channel: 'web' }), { nil: undefined }),
    window: arbWindow,
    aggregate: fc.constantFrom(...aggregates),
    distinctField: fc.constantFrom('device_id', 'country', 'amount'),
    default: fc.constantFrom(0, -1),
    labelDelay: fc.constantFrom(0, '10m', '30m'),
    delayed: fc.boolean(),
  })
  .map(({ distinctField, labelDelay, delayed, ...s }) => {
    const field = s.aggregate === 'distinct' ? distinctField : ['count', 'time_since_last', 'fraud_count', 'fraud_rate'].includes(s.aggregate) ? undefined : 'amount';
    // Fraud aggregations need a label delay and a tiled window; other tiled windows may have one too.
    const labelled = s.aggregate === 'fraud_count' || s.aggregate === 'fraud_rate';
    const window = labelled && s.window.kind === 'session' ? { kind: 'hopping', size: '1h', hop: '10m' } : s.window;
    const label_delay = labelled || (delayed && window.kind !== 'session') ? labelDelay : undefined;
    return { ...s, window, ...(field === undefined ? {} : { field }), ...(label_delay === undefined ? {} : { label_delay }), ...(s.filter === undefined ? { filter: undefined } : {}) };
  });

export const arbSpec = specOver(['count', 'sum', 'mean', 'min', 'max', 'std', 'distinct', 'last', 'time_since_last', 'fraud_count', 'fraud_rate']);
export const arbLabelSpec = specOver(['fraud_count', 'fraud_rate', 'count']);


/** Equal within 1e-9 relative (absolute below 1); NaN only to NaN. */
export function closeTo(actual: number, expected: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

