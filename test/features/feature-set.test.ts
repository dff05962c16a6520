import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { FeatureSet, FeatureSpecError, LABEL_AGGREGATIONS, parseFeatureSpecs, parseFeatureSpecText, type AggregateFeatureSpec, type FeatureSpec } from '../../src/features/index.ts';
import { Watermark } from '../../src/process/index.ts';
import { arbEvent, arbLabelSpec, arbSpec, closeTo, specOver, stream, T0, toEvents, type Verdict } from '../support/feature-streams.ts';

// ---- The oracle: every value computed from scratch over the events that arrived before. ----

function keyOf(e: RtdsEvent, fields: readonly string[]): string | undefined {
  const parts = fields.map((f) => e[f as keyof RtdsEvent]);
  return parts.some((p) => p === undefined) ? undefined : parts.join('\u001f');
}

function passes(e: RtdsEvent, spec: AggregateFeatureSpec): boolean {
  return Object.entries(spec.filter ?? {}).every(([f, values]) => values.includes(String(e[f as keyof RtdsEvent] ?? '\u0000')));
}

/** Members (by arrival index) of the window of event `i` at time t, among `members` (same entity, counted). */
function windowMembers(spec: AggregateFeatureSpec, events: readonly RtdsEvent[], members: number[], t: number, earliest: number): number[] {
  const w = spec.window;
  if (w.kind === 'session') {
    // Sessions: runs of the members less than gap apart; those no admitted event can reach are gone;
    // the window is the union of the remaining runs that t is less than gap from.
    const sorted = [...members].sort((a, b) => events[a]!.event_time - events[b]!.event_time || a - b);
    const runs: number[][] = [];
    for (const j of sorted) {
      const run = runs[runs.length - 1];
      if (run !== undefined && events[j]!.event_time - events[run[run.length - 1]!]!.event_time < w.gap) run.push(j);
      else runs.push([j]);
    }
    return runs
      .filter((run) => {
        const start = events[run[0]!]!.event_time;
        const end = events[run[run.length - 1]!]!.event_time;
        return end + w.gap > earliest && start - w.gap < t && t < end + w.gap;
      })
      .flat();
  }
  const hop = w.kind === 'tumbling' ? w.size : w.hop;
  const hops = w.kind === 'tumbling' ? 1 : w.size / w.hop;
  // With a label delay: the whole tiles that end at or before t − delay.
  const lastTile = (at: number): number => (spec.label_delay === undefined ? Math.floor(at / hop) : Math.floor((at - spec.label_delay) / hop) - 1);
  const last = lastTile(t);
  const first = Math.max(last, lastTile(earliest)) - hops + 1;
  return members.filter((j) => {
    const k = Math.floor(events[j]!.event_time / hop);
    return k >= first && k <= last;
  });
}

/** The aggregate over the window's events `chosen`; `frauds`: how many events of the window carry an applied fraud verdict. */
function oracleValue(spec: AggregateFeatureSpec, events: readonly RtdsEvent[], chosen: number[], t: number, frauds: number): number {
  const withValue = chosen.filter((j) => typeof events[j]![spec.field as keyof RtdsEvent] === 'number');
  const values = withValue.map((j) => events[j]![spec.field as keyof RtdsEvent] as number);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  switch (spec.aggregate) {
    case 'count':
      return chosen.length;
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'mean':
      return n === 0 ? spec.default : mean;
    case 'min':
      return n === 0 ? spec.default : Math.min(...values);
    case 'max':
      return n === 0 ? spec.default : Math.max(...values);
    case 'std':
      return n === 0 ? spec.default : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
    case 'distinct':
      return new Set(chosen.flatMap((j) => (events[j]![spec.field as keyof RtdsEvent] === undefined ? [] : [String(events[j]![spec.field as keyof RtdsEvent])]))).size;
    case 'last': {
      if (n === 0) return spec.default;
      const latest = withValue.reduce((a, b) => (events[b]!.event_time > events[a]!.event_time || (events[b]!.event_time === events[a]!.event_time && b > a) ? b : a));
      return events[latest]![spec.field as keyof RtdsEvent] as number;
    }
    case 'time_since_last': {
      if (chosen.length === 0) return spec.default;
      return Math.max(0, t - Math.max(...chosen.map((j) => events[j]!.event_time))) / 1000;
    }
    case 'fraud_count':
      return frauds;
    case 'fraud_rate':
      return chosen.length === 0 ? spec.default : Math.min(1, frauds / chosen.length);
  }
}

/**
 * Whether the window of an event at t is whole once the state forgets what no event at or after
 * `horizon` reads: otherwise a too-late event's features over it are unknown (NaN).
 */
function whole(spec: AggregateFeatureSpec, t: number, horizon: number): boolean {
  const w = spec.window;
  if (w.kind === 'session') return t >= horizon;
  const hop = w.kind === 'tumbling' ? w.size : w.hop;
  const lastTile = (at: number): number => (spec.label_delay === undefined ? Math.floor(at / hop) : Math.floor((at - spec.label_delay) / hop) - 1);
  return lastTile(t) >= lastTile(horizon);
}

function oracle(specs: readonly AggregateFeatureSpec[], events: readonly RtdsEvent[], outOfOrdernessMs: number, allowedLatenessMs: number, verdicts: readonly (Verdict | undefined)[] = [], lateHistoryMs = 0): number[][] {
  let max = -Infinity;
  const admitted: boolean[] = [];
  // A verdict on event j applies at the first later event whose time reaches its labeled_at.
  const appliedAt = verdicts.map((v, j) => (v === undefined ? Infinity : events.findIndex((e, i) => i > j && e.event_time >= v.labeledAt)));
  return events.map((e, i) => {
    const tooLate = e.event_time < max - outOfOrdernessMs - allowedLatenessMs;
    max = Math.max(max, e.event_time);
    admitted.push(!tooLate);
    const earliest = max - outOfOrdernessMs - allowedLatenessMs - lateHistoryMs;
    return specs.map((spec) => {
      const key = keyOf(e, spec.entity);
      if (key === undefined) return spec.default;
      if (tooLate && !whole(spec, e.event_time, earliest)) return NaN;
      const before: number[] = [];
      for (let j = 0; j < i; j++) if (admitted[j] && passes(events[j]!, spec) && keyOf(events[j]!, spec.entity) === key) before.push(j);
      const previousOnly = spec.aggregate === 'last' || spec.aggregate === 'time_since_last';
      // A too-late event reads its window as if it had joined it (and joins nothing).
      const members = !previousOnly && passes(e, spec) ? [...before, i] : before;
      // A fraud verdict counts once applied, in the tile of its event — which an event that came
      // too late joins only if another admitted event held the tile when the verdict applied.
      const hop = spec.window.kind === 'tumbling' ? spec.window.size : spec.window.kind === 'hopping' ? spec.window.hop : 1;
      const tileHeld = (j: number): boolean => before.some((m) => m < appliedAt[j]! && Math.floor(events[m]!.event_time / hop) === Math.floor(events[j]!.event_time / hop));
      const fraud = (j: number): boolean => verdicts[j]?.fraud === true && appliedAt[j]! >= 0 && appliedAt[j]! <= i && (admitted[j]! || tileHeld(j));
      const window = windowMembers(spec, events, members, e.event_time, earliest);
      // Verdicts on events too late to join count in their tile, but not as events of it.
      const late = LABEL_AGGREGATIONS.has(spec.aggregate) ? events.flatMap((x, j) => (j < i && !admitted[j] && passes(x, spec) && keyOf(x, spec.entity) === key && fraud(j) ? [j] : [])) : [];
      const frauds = window.filter(fraud).length + windowMembers(spec, events, late, e.event_time, earliest).length;
      return oracleValue(spec, events, window, e.event_time, frauds);
    });
  });
}

/** Streaming values equal the oracle's for random out-of-order streams, specs of `specs`, and verdicts. */
function equalsOracle(specs: fc.Arbitrary<Record<string, unknown>>, numRuns: number, minEvents = 1): void {
    fc.assert(
      fc.property(
        fc.array(arbEvent, { minLength: minEvents, maxLength: 60 }),
        fc.array(specs, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(0, 5000, 60_000),
        fc.constantFrom(0, 30_000, 600_000),
        fc.constantFrom(0, 0, 1_800_000),
        fc.array(fc.option(fc.record({ fraud: fc.boolean(), afterS: fc.integer({ min: 0, max: 7200 }) }), { nil: undefined }), { minLength: minEvents, maxLength: 60 }),
        (raw, rawSpecs, outOfOrdernessMs, allowedLatenessMs, lateHistoryMs, rawVerdicts) => {
          const specs = parseFeatureSpecs(rawSpecs.map((s, i) => ({ name: `f${i}`, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) }))) as AggregateFeatureSpec[];
          const events = toEvents(raw);
          // Verdicts on some events: fraud or not, known up to two hours after the event.
          const verdicts = events.map((e, i) => {
            const v = rawVerdicts[i];
            return v === undefined ? undefined : { fraud: v.fraud, labeledAt: e.event_time + v.afterS * 1000 };
          });
          const got = stream(new FeatureSet(specs), events, outOfOrdernessMs, allowedLatenessMs, verdicts, lateHistoryMs);
          const want = oracle(specs, events, outOfOrdernessMs, allowedLatenessMs, verdicts, lateHistoryMs);
          for (let i = 0; i < events.length; i++) {
            for (let f = 0; f < specs.length; f++) {
              if (!closeTo(got[i]![f]!, want[i]![f]!)) {
                throw new Error(`event ${i} (${JSON.stringify(events[i])}), feature ${JSON.stringify(specs[f])}: streamed ${got[i]![f]}, oracle ${want[i]![f]}`);
              }
            }
          }
        },
      ),
      { numRuns, seed: 42 },
    );
}

describe('declarative features against a brute-force oracle', () => {
  it('equal the oracle on random out-of-order streams and random specs', () => equalsOracle(arbSpec, 400));
  it('count fraud verdicts as the oracle does, whenever and in whatever order they become known', () => equalsOracle(arbLabelSpec, 200, 30));
  it('count several fields distinct in the window of the other aggregates over it, as the oracle does', () => {
    // One entity, no filter, one of three windows: specs meet in a group, its slots holding each
    // distinct field's values beside the numbers.
    const window = fc.constantFrom({ kind: 'hopping', size: '1h', hop: '10m' }, { kind: 'tumbling', size: '10m' }, { kind: 'session', gap: '5m' });
    const shared = fc.tuple(specOver(['count', 'sum', 'max', 'last', 'distinct', 'distinct', 'distinct']), window).map(([s, w]) => ({ ...s, entity: ['user_id'], filter: undefined, window: w, label_delay: undefined }));
    equalsOracle(shared, 300);
  });
});

const ev = (i: number, offsetS: number, extra: Partial<RtdsEvent> = {}): RtdsEvent => ({
  event_id: `x${i}`,
  event_type: 'transaction',
  timestamp: T0 + offsetS * 1000,
  event_time: T0 + offsetS * 1000,
  event_time_source: 'event',
  user_id: 'ann',
  amount: 10,
  ...extra,
});

describe('feature specs as data', () => {
  it('reads YAML and JSON alike, durations in units', () => {
    const yaml = parseFeatureSpecText(`
features:
  - name: tx_count_1h
    entity: user_id
    filter: { event_type: [transaction, transfer] }
    window: { kind: hopping, size: 1h, hop: 5m }
    aggregate: count
`);
    const json = parseFeatureSpecText(JSON.stringify([{ name: 'tx_count_1h', entity: ['user_id'], filter: { event_type: ['transaction', 'transfer'] }, window: { kind: 'hopping', size: 3_600_000, hop: '5m' }, aggregate: 'count' }]));
    assert.deepEqual(yaml, json);
    assert.deepEqual((yaml[0] as AggregateFeatureSpec).window, { kind: 'hopping', size: 3_600_000, hop: 300_000 });
  });

  const refuses = (value: unknown, path: string, reason: RegExp): void => {
    assert.throws(
      () => new FeatureSet(parseFeatureSpecs(value)),
      (err: unknown) => err instanceof FeatureSpecError && err.path === path && reason.test(err.reason),
      `${path} ${reason}`,
    );
  };
  const base = { name: 'f', entity: 'user_id', window: { kind: 'tumbling', size: '1h' }, aggregate: 'sum', field: 'amount' };

  it('names the offending path and the reason', () => {
    refuses([base, { ...base, window: { kind: 'hopping', size: '1h', hop: '7m' } }], 'features[1].window.hop', /whole number of hops/);
    refuses([{ ...base, entity: 'shoe_size' }], 'features[0].entity[0]', /expected an event field/);
    refuses([{ ...base, aggregate: 'median' }], 'features[0].aggregate', /expected one of/);
    refuses([{ ...base, field: 'country' }], 'features[0].field', /numeric field/);
    refuses([{ ...base, aggregate: 'count' }], 'features[0].field', /takes no field/);
    refuses([{ ...base, window: { kind: 'tumbling', size: '-3h' } }], 'features[0].window.size', /positive duration/);
    refuses([base, base], 'features[1].name', /declared twice/);
    refuses([{ ...base, colour: 'red' }], 'features[0].colour', /unknown key/);
    refuses([base, { name: 'g', expression: 'f / nope' }], 'features[1].expression', /"nope" is neither/);
    refuses([{ name: 'g', expression: 'f * 2' }, base], 'features[0].expression', /"f" is neither an earlier feature/);
    refuses([base, { name: 'g', expression: 'f +' }], 'features[1].expression', /Parse error/);
    refuses([{ ...base, aggregate: 'fraud_rate', field: undefined }], 'features[0].label_delay', /needs a label_delay/);
    refuses([{ ...base, window: { kind: 'session', gap: '5m' }, label_delay: '7d' }], 'features[0].label_delay', /tumbling or hopping/);
    refuses([{ ...base, label_delay: 'a week' }], 'features[0].label_delay', /positive duration/);
  });
});

describe('derived features', () => {
  const specs: FeatureSpec[] = parseFeatureSpecs([
    { name: 'mean_amount_30d', entity: 'user_id', window: { kind: 'hopping', size: '30d', hop: '1d' }, aggregate: 'mean', field: 'amount' },
    { name: 'amount_to_mean_30d', expression: 'amount / max(mean_amount_30d, 1)' },
    { name: 'night', expression: 'hour_of_day < 6 or hour_of_day >= 22' },
    { name: 'web_login', expression: 'event_type == "login" and channel == "web"' },
  ]);
  const set = new FeatureSet(specs);

  it('computes expressions over features and event fields, booleans as 1/0', () => {
    const out = stream(set, [ev(0, 3600, { amount: 100 }), ev(1, 12 * 3600, { amount: 300 }), ev(2, 23 * 3600, { amount: 50, event_type: 'login', channel: 'web' })], 5000, 0);
    assert.equal(out[0]![1], 1, 'the first amount against its own mean');
    assert.equal(out[1]![1], 300 / 200);
    assert.equal(out[0]![2], 1, '01:00 UTC is night');
    assert.equal(out[1]![2], 0);
    assert.equal(out[2]![2], 1, '23:00 UTC is night');
    assert.equal(out[2]![3], 1);
    assert.equal(out[1]![3], 0);
  });

  it('gives 0 where an expression has no finite value', () => {
    const zero = new FeatureSet(parseFeatureSpecs([{ name: 'inf', expression: 'amount / 0' }]));
    assert.equal(stream(zero, [ev(0, 0)], 0, 0)[0]![0], 0);
  });
});

describe('label-driven features', () => {
  const DAY = 86_400_000;
  const set = new FeatureSet(
    parseFeatureSpecs([
      { name: 'merchant_fraud_30d', entity: 'merchant_id', window: { kind: 'hopping', size: '30d', hop: '1d' }, label_delay: '7d', aggregate: 'fraud_count' },
      { name: 'merchant_fraud_rate_30d', entity: 'merchant_id', window: { kind: 'hopping', size: '30d', hop: '1d' }, label_delay: '7d', aggregate: 'fraud_rate', default: -1 },
    ]),
  );
  const at = (i: number, day: number): RtdsEvent => ev(i, day * 86_400, { merchant_id: 'shop' });

  it('counts a merchant’s fraud over the 30 days that end 7 days before the event, once its verdicts are known', () => {
    const state = set.newState();
    const timing = (t: number) => ({ tooLate: false, earliest: t });
    // Four purchases on days 0–3; verdicts on two of them arrive on day 5 (fraud) and day 20 (fraud).
    const history = [0, 1, 2, 3].map((d) => at(d, d + 0.5));
    for (const e of history) set.compute(state, e, timing(e.event_time));
    set.label(state, { event: history[0]!, is_fraud: true, labeled_at: T0 + 5 * DAY });
    set.label(state, { event: history[2]!, is_fraud: true, labeled_at: T0 + 20 * DAY });
    set.label(state, { event: history[3]!, is_fraud: false, labeled_at: T0 + 5 * DAY });
    const value = (i: number, day: number): number[] => Array.from(set.compute(state, at(i, day), timing(T0 + day * DAY)));
    // Each event read also joins the merchant's tiles: days 7, 11, 20, 21, 22 add to the denominators.
    assert.deepEqual(value(10, 7.5), [0, -1], 'on day 7.5 the window ends on day 0: nothing in it yet');
    assert.deepEqual(value(11, 11.5), [1, 1 / 4], 'days 0–3 are in the window (it ends on day 4); one verdict known');
    assert.deepEqual(value(12, 20.5), [2, 2 / 6], 'the second verdict is known from day 20; days 7 and 11 have entered');
    // A re-sent verdict changes nothing; a later "not fraud" uncounts.
    set.label(state, { event: history[0]!, is_fraud: true, labeled_at: T0 + 21 * DAY });
    assert.deepEqual(value(13, 21.5), [2, 2 / 6]);
    set.label(state, { event: history[2]!, is_fraud: false, labeled_at: T0 + 22 * DAY });
    assert.deepEqual(value(14, 22.5), [1, 1 / 6], 'a verdict overturned');
    assert.deepEqual(value(15, 41.5), [0, 0], 'days 0–3 have left the window (days 4–33); days 7–22 hold five events');
  });
});

describe('feature state', () => {
  it('counts distinct values exactly while few and within a few percent when many', () => {
    const set = new FeatureSet(parseFeatureSpecs([{ name: 'devices', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'distinct', field: 'device_id' }]));
    const few = stream(set, Array.from({ length: 40 }, (_, i) => ev(i, i, { device_id: `d${i % 30}` })), 0, 0);
    assert.equal(few[39]![0], 30);
    // Spread over six tiles, with repeats across them: the union is still exact.
    const spread = stream(set, Array.from({ length: 120 }, (_, i) => ev(i, i * 25, { device_id: `d${i % 50}` })), 0, 0);
    assert.equal(spread[119]![0], 50);
    assert.equal(spread[20]![0], 21);
    const many = stream(set, Array.from({ length: 5000 }, (_, i) => ev(i, i * 0.5, { device_id: `d${i}` })), 0, 0);
    const estimate = many[4999]![0]!;
    assert.ok(Math.abs(estimate - 5000) / 5000 < 0.2, `estimate ${estimate} of 5000`);
  });

  it('keeps the distinct values of several fields in the window of the numbers over it: one window per entity', () => {
    const day = { kind: 'hopping', size: '24h', hop: '1h' };
    const set = new FeatureSet(parseFeatureSpecs([
      { name: 'events', entity: 'user_id', window: day, aggregate: 'count' },
      { name: 'spent', entity: 'user_id', window: day, aggregate: 'sum', field: 'amount' },
      { name: 'devices', entity: 'user_id', window: day, aggregate: 'distinct', field: 'device_id' },
      { name: 'countries', entity: 'user_id', window: day, aggregate: 'distinct', field: 'country' },
      { name: 'web_devices', entity: 'user_id', filter: { channel: 'web' }, window: day, aggregate: 'distinct', field: 'device_id' },
    ]));
    assert.equal(set.groupCount, 2, 'the filtered count keeps a window of its own');
    const seen = stream(set, [
      ev(0, 0, { device_id: 'd1', country: 'DE', amount: 10, channel: 'web' }),
      ev(1, 1800, { device_id: 'd2', country: 'DE', amount: 5, channel: 'pos' }),
      ev(2, 5400, { device_id: 'd1', country: 'FR', amount: 2, channel: 'web' }),
      ev(3, 9000, { country: 'FR', amount: 1, channel: 'web' }),
    ], 0, 0);
    assert.deepEqual([...seen[3]!], [4, 18, 2, 2, 1]);
    assert.deepEqual([...seen[1]!], [2, 15, 2, 1, 1]);
  });

  it('evicts an idle entity once no admitted event can reach its windows (TTL)', () => {
    const set = new FeatureSet(parseFeatureSpecs([{ name: 'c', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'count' }]));
    const state = set.newState();
    const watermark = new Watermark(0);
    const feed = (e: RtdsEvent): Float64Array => {
      watermark.observe(e.event_time);
      return set.compute(state, e, { tooLate: false, earliest: watermark.current });
    };
    for (let u = 0; u < 100; u++) feed(ev(u, 0, { user_id: `u${u}` }));
    assert.equal(state.size().entities, 100);
    const bytesPerEntity = state.size().bytes / 100;
    assert.ok(bytesPerEntity > 0 && bytesPerEntity < 1024, `${bytesPerEntity} bytes per entity`);
    // Alike entities: ten of them tell the size of all within the keys' length differences.
    const sampled = state.size(10);
    assert.equal(sampled.entities, 100);
    assert.ok(Math.abs(sampled.bytes - state.size().bytes) <= 0.02 * state.size().bytes, `sampled ${sampled.bytes} vs ${state.size().bytes}`);
    // Two hours later one user is active; the others' windows are out of reach and go.
    for (let i = 0; i < 100; i++) feed(ev(1000 + i, 2 * 3600 + i, { user_id: 'u0' }));
    assert.equal(state.size().entities, 1);
    assert.equal(feed(ev(5000, 2 * 3600 + 200, { user_id: 'u1' }))[0], 1, 'a returning user starts afresh');
  });

  it('frees a window\'s leaving tiles before the event joins it, so a steadily used window never grows', () => {
    const set = new FeatureSet(parseFeatureSpecs([{ name: 'c', entity: 'user_id', window: { kind: 'hopping', size: '2h', hop: '1h' }, aggregate: 'count' }]));
    const state = set.newState();
    const watermark = new Watermark(0);
    const bytes: number[] = [];
    // One event an hour: the window holds two tiles, the event's and the one before.
    for (let hour = 0; hour < 10; hour++) {
      const e = ev(hour, hour * 3600);
      watermark.observe(e.event_time);
      const v = set.compute(state, e, { tooLate: false, earliest: watermark.current });
      assert.equal(v[0], hour === 0 ? 1 : 2);
      bytes.push(state.size().bytes);
    }
    // Joining first would hold three tiles for a moment, and double the block's room of two.
    assert.deepEqual(new Set(bytes.slice(1)), new Set([bytes[1]]), `bytes by hour: ${bytes.join(', ')}`);
  });

  it('drops the windows that expire within two hours of each other in one visit of the sweep', () => {
    const set = new FeatureSet(parseFeatureSpecs([
      { name: 'minute', entity: 'user_id', window: { kind: 'hopping', size: '1m', hop: '10s' }, aggregate: 'count' },
      { name: 'hour', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'count' },
      { name: 'day', entity: 'user_id', window: { kind: 'hopping', size: '24h', hop: '1h' }, aggregate: 'count' },
    ]));
    // The same clock user's events through two states, one of them also holding a user seen once
    // at 0: the difference of their sizes is that user's state, as the sweep leaves it.
    const run = (withSparse: boolean): { bytes: number[]; entities: number } => {
      const state = set.newState();
      const watermark = new Watermark(0);
      const feed = (e: RtdsEvent): void => {
        watermark.observe(e.event_time);
        set.compute(state, e, { tooLate: false, earliest: watermark.current });
      };
      if (withSparse) feed(ev(0, 0, { user_id: 'sparse' }));
      const bytes = [state.size().bytes];
      for (let minute = 1; minute <= 180; minute++) {
        feed(ev(minute, minute * 60, { user_id: 'clock' }));
        if (minute === 30 || minute === 180) bytes.push(state.size().bytes);
      }
      return { bytes, entities: state.size().entities };
    };
    const clockOnly = run(false);
    const both = run(true);
    const [atStart, atHalfHour, atThreeHours] = both.bytes.map((b, i) => b - clockOnly.bytes[i]!);
    assert.equal(atHalfHour, atStart, 'not visited for its minute window alone (gone at 70 s): it waits for the hour window');
    assert.ok(atThreeHours! < atStart!, `the minute and hour windows gone by 3 h (${atThreeHours} of ${atStart} bytes)`);
    assert.equal(both.entities, 2, 'the day window keeps the user');
  });

  it('reads a too-late event\'s windows as if it had joined them at its time, without adding it', () => {
    const set = new FeatureSet(parseFeatureSpecs([{ name: 'c', entity: 'user_id', window: { kind: 'tumbling', size: '1h' }, aggregate: 'count' }]));
    // 10 min of out-of-orderness allowed in total; the 30-min-old event is beyond it but in the same hour.
    const out = stream(set, [ev(0, 3000), ev(1, 3500), ev(2, 1200), ev(3, 3590)], 5 * 60_000, 5 * 60_000);
    assert.deepEqual(out.map((v) => v[0]), [1, 2, 3, 3]);
  });

  it('says a too-late event\'s window is unknown when it reaches before the history kept, never 0', () => {
    const specs = parseFeatureSpecs([
      { name: 'n', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'count' },
      { name: 'mean', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'mean', field: 'amount' },
      { name: 'ratio', expression: 'amount / max(mean, 1)' },
      { name: 'amount_only', expression: 'amount * 2' },
      { name: 'partial', expression: 'partial_history' },
    ]);
    const set = new FeatureSet(specs);
    const at = (id: number, s: number, amount: number): RtdsEvent => ({ ...ev(id, s, { user_id: 'u1' }), amount });
    // Events through 3 h; then one from 0:55 (2 h late): its 1-hour window (tiles 0:00–0:50) left the state.
    const history = [at(0, 600, 20), at(1, 3000, 20), at(2, 3 * 3600, 20)];
    const late = at(3, 3300, 500);
    const [, , , lost] = stream(set, [...history, late], 0, 0);
    assert.deepEqual([...lost!].map((x) => (Number.isNaN(x) ? 'unknown' : x)), ['unknown', 'unknown', 'unknown', 1000, 1]);
    // With 2.5 h of late history kept (state back to 0:30), the same event reads its whole window as if it had joined it.
    const [, , , kept] = stream(set, [...history, late], 0, 0, [], 2.5 * 3600_000);
    assert.deepEqual([...kept!], [3, 180, 500 / 180, 1000, 0]);
    // Nothing it read was changed: the next on-time event sees the window without it.
    const [, , , , next] = stream(set, [...history, late, at(4, 3 * 3600 + 1, 20)], 0, 0, [], 2.5 * 3600_000);
    assert.deepEqual([...next!].slice(0, 2), [2, 20]);
  });
});
