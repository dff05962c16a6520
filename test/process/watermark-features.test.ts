import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET, featureIndex } from '../../src/features/index.ts';
import { replayFeatures, Watermark } from '../../src/process/index.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
let n = 0;
function ev(offsetMs: number, extra: Partial<RtdsEvent> = {}): RtdsEvent {
  const v = validateEvent({ event_id: `e${n++}`, event_type: 'transaction', timestamp: T0 + offsetMs, user_id: 'alice', amount: 10, country: 'DE', device_id: 'd1', channel: 'web', ...extra });
  assert.ok(v.ok, JSON.stringify(v));
  return v.event;
}
const f = (v: Float64Array, name: string): number => v[featureIndex(name)]!;

describe('watermark', () => {
  it('trails the largest event time by the bound and never moves back', () => {
    const w = new Watermark(5000);
    w.observe(T0 + 10_000);
    assert.equal(w.current, T0 + 5000);
    w.observe(T0 + 1000);
    assert.equal(w.current, T0 + 5000);
    assert.equal(w.isLate(T0 + 4999), true);
    assert.equal(w.isLate(T0 + 5000), false);
  });
});

describe('the default features on an out-of-order stream', () => {
  // Arrival order differs from event time: the 20 s event arrives after the 40 s one.
  const stream = [
    ev(0, { amount: 100 }),
    ev(40_000, { amount: 50 }),
    ev(20_000, { amount: 30 }), // 20 s behind the max, 15 s behind the watermark: late with no allowed lateness
    ev(50_000, { amount: 1000, country: 'FR', device_id: 'd9' }),
    ev(30 * 60_000, { amount: 5 }),
    ev(26 * 3600_000, { amount: 7, event_type: 'login' } as Partial<RtdsEvent>),
  ];
  const eventTime = { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, lateHistoryMs: 60_000, dedupeWindowMs: 600_000 };
  const out = replayFeatures(stream, DEFAULT_FEATURE_SET, eventTime, 1);

  it('marks an event later than the allowed lateness as late; it joins no window but reads them as of its time', () => {
    assert.deepEqual(out.map((o) => o.late), [false, false, true, false, false, false]);
    const at20s = out[2]!.vector; // its minute as if it had joined: the 0 s event and itself (the 40 s one is later)
    assert.equal(f(at20s, 'count_1m'), 2);
    assert.equal(f(at20s, 'sum_1m'), 130);
    assert.equal(f(at20s, 'mean_amount_30d'), 60);
    assert.equal(f(at20s, 'partial_history'), 0);
    const at50s = out[3]!.vector;
    assert.equal(f(at50s, 'count_1m'), 3, 'the late event is not counted');
    assert.equal(f(at50s, 'sum_1m'), 100 + 50 + 1000);
  });

  it('has the features of a late event whose windows reach before the state kept unknown, not zero', () => {
    const [, , at20s] = replayFeatures(stream, DEFAULT_FEATURE_SET, { ...eventTime, lateHistoryMs: 0 }, 1);
    assert.equal(at20s!.late, true);
    const v = at20s!.vector;
    // Its minute began before the state's horizon (35 s): unknown.
    for (const name of ['count_1m', 'sum_1m']) assert.ok(Number.isNaN(f(v, name)), `${name} = ${f(v, name)}`);
    // Its hour, day and month tiles are whole, and so is what reads them; what the event alone says is known.
    assert.equal(f(v, 'count_1h'), 3, 'the 0 s and 40 s events share its 5-minute tile');
    assert.equal(f(v, 'amount_to_avg'), 0.5);
    assert.equal(f(v, 'amount'), 30);
    assert.equal(f(v, 'type_transaction'), 1);
    assert.equal(f(v, 'partial_history'), 1);
  });

  it('lets an event within the allowed lateness join its windows', () => {
    const lenient = replayFeatures(stream, DEFAULT_FEATURE_SET, { ...eventTime, allowedLatenessMs: 30_000 }, 1);
    assert.equal(lenient[2]!.late, false);
    assert.equal(f(lenient[2]!.vector, 'count_1m'), 2, 'the 0 s event and itself; the 40 s event is in a later tile');
    assert.equal(f(lenient[3]!.vector, 'count_1m'), 4);
  });

  it('counts and sums hopping windows over event time', () => {
    const at30m = out[4]!.vector;
    assert.equal(f(at30m, 'count_1m'), 1);
    assert.equal(f(at30m, 'count_1h'), 4);
    assert.equal(f(at30m, 'sum_1h'), 1155);
    const at26h = out[5]!.vector;
    assert.equal(f(at26h, 'count_24h'), 1, 'only the event itself: the others are 25.5 h and more older');
    assert.equal(f(at26h, 'user_events_30d'), 5);
    assert.equal(f(at26h, 'first_event'), 0);
    assert.equal(f(at26h, 'secs_since_prev'), (26 * 3600_000 - 30 * 60_000) / 1000);
  });

  it('compares the amount with the 30-day mean and flags a new country and device', () => {
    const at50s = out[3]!.vector;
    assert.equal(f(at50s, 'amount_to_avg'), 1000 / ((100 + 50 + 1000) / 3));
    assert.equal(f(at50s, 'new_country'), 1);
    assert.equal(f(at50s, 'new_device'), 1);
    assert.equal(f(out[1]!.vector, 'new_country'), 0);
    assert.equal(f(out[0]!.vector, 'first_event'), 1);
    assert.equal(f(out[0]!.vector, 'new_country'), 0, 'a first event is not "new" against an empty history');
  });

  it('measures seconds since the previous event in event time', () => {
    assert.equal(f(out[1]!.vector, 'secs_since_prev'), 40);
    assert.equal(f(out[2]!.vector, 'secs_since_prev'), 0, 'the latest earlier-processed event (40 s) happened after it');
    assert.equal(f(out[3]!.vector, 'secs_since_prev'), 10);
  });

  it('skips a re-sent event id so it neither counts twice nor gets a second result', () => {
    const again = replayFeatures([stream[0]!, stream[1]!, stream[1]!], DEFAULT_FEATURE_SET, eventTime, 1);
    assert.equal(again.length, 2);
  });
});
