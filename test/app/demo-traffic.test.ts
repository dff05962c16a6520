// The demo's traffic: one stream for the first-start history and live traffic, and the features' state carried across.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DemoTraffic, demoTrafficOptions, demoUsers } from '../../src/app/demo-traffic.ts';
import { loadConfig, eventTimeOptions } from '../../src/config/index.ts';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { TrafficGenerator, type GeneratedEvent } from '../../src/ingest/generator/index.ts';
import { replayFeatures } from '../../src/process/index.ts';
import { TestClock } from '../support/clock.ts';

const NOW = Date.UTC(2026, 10, 1, 12);
/** A small demo: 2 events/s by 6,912 users. */
const settings = { generatorRate: 2, generatorSeed: 5 };
const config = loadConfig({}, {});
const eventTime = eventTimeOptions(config);
const valid = (generated: GeneratedEvent[]): RtdsEvent[] =>
  generated.map((g) => {
    const checked = validateEvent(g.event);
    assert.ok(checked.ok);
    return checked.event;
  });

describe("the demo's traffic", () => {
  it('sizes its population so each user acts about 25 times a day, whatever the rate, up to 250,000 users', () => {
    assert.equal(demoUsers(50), 172_800);
    assert.equal(demoUsers(2), 6912);
    assert.equal(demoUsers(0.1), 346);
    assert.equal(demoUsers(1000), 250_000);
    const options = demoTrafficOptions({ generatorRate: 50, generatorSeed: 42 }, NOW);
    assert.deepEqual({ ...options, idPrefix: undefined }, { seed: 42, users: 172_800, eventTimeRate: 50, dailyRhythm: false, warmStart: true, start: NOW, idPrefix: undefined });
  });

  it('the history is the stream up to now, its latest events labelled; live traffic continues the same stream', async () => {
    const clock = new TestClock(NOW);
    const demo = new DemoTraffic(settings, clock, true);
    const history = await demo.history(3000, 1000);
    const start = NOW - 1500 * 1000;
    const stream = new TrafficGenerator(demoTrafficOptions(settings, start)).take(history.events.length + 500);
    assert.deepEqual(
      history.events.map((e) => e.event_id),
      stream.slice(0, history.events.length).map((g) => g.event.event_id),
    );
    assert.ok(Math.abs(history.events.length - 3000) < 200, `${history.events.length} events in 1,500 s at 2/s`);
    assert.ok(history.events.every((e) => e.event_time >= start && e.event_time < NOW));
    assert.equal(history.rows, 1000);
    assert.ok(history.events.slice(-1000).every((e) => history.labels.has(e.event_id)), 'the latest 1,000 are labelled');
    const earlier = history.events.slice(0, -1000);
    const fraud = new Set(stream.filter((g) => g.label.is_fraud).map((g) => g.event.event_id));
    assert.ok(
      earlier.every((e) => history.labels.has(e.event_id) === fraud.has(e.event_id)),
      'the earlier ones warm the state up, with their fraud verdicts only',
    );
    assert.ok(earlier.some((e) => fraud.has(e.event_id)));

    const live = demo.live().take(500);
    assert.deepEqual(
      live.map((g) => g.event.event_id),
      stream.slice(history.events.length).map((g) => g.event.event_id),
    );
    assert.ok(live[0]!.time >= NOW);
  });

  it('the processor takes over the state of the whole stream up to now: live events get the features of one uninterrupted replay', async () => {
    const clock = new TestClock(NOW);
    const demo = new DemoTraffic(settings, clock, true);
    const history = await demo.history(3000, 1000);
    replayFeatures(history.events, DEFAULT_FEATURE_SET, eventTime, config.partitions, history.labels, undefined, demo.state(DEFAULT_FEATURE_SET, eventTime, config.partitions));
    // The model trains for a minute of the clock: those events are not delivered, yet the state has them.
    await clock.sleep(60_000);
    const state = demo.takeState(DEFAULT_FEATURE_SET, eventTime, config.partitions);
    assert.equal(demo.state(DEFAULT_FEATURE_SET, eventTime, config.partitions), undefined, 'taken once');
    const live = valid(demo.live().take(500));
    assert.ok(live[0]!.event_time >= NOW + 60_000, 'live traffic starts at the clock');

    const continued = replayFeatures(live, DEFAULT_FEATURE_SET, eventTime, config.partitions, undefined, undefined, state!);
    const whole = valid(new TrafficGenerator(demoTrafficOptions(settings, NOW - 1500 * 1000)).take(history.events.length + 1000)).filter((e) => e.event_time < live.at(-1)!.event_time + 1);
    const replayed = new Map(replayFeatures(whole, DEFAULT_FEATURE_SET, eventTime, config.partitions).map((r) => [r.event.event_id, r.vector]));
    for (const r of continued) assert.deepEqual(r.vector, replayed.get(r.event.event_id), r.event.event_id);
  });

  it('a sparse past before the history reaches back a month with a sample of the same stream; the latest events stay whole', async () => {
    const clock = new TestClock(NOW);
    const demo = new DemoTraffic(settings, clock, true);
    const monthMs = 30 * 86_400_000;
    const history = await demo.history(3000, 1000, { spanMs: monthMs, events: 2000 });
    const denseFrom = NOW - 1500 * 1000;
    const past = history.events.filter((e) => e.event_time < denseFrom);
    const dense = history.events.filter((e) => e.event_time >= denseFrom);
    assert.ok(Math.abs(past.length - 2000) < 200, `${past.length} events in the sparse month, about 2,000 asked`);
    assert.ok(past[0]!.event_time < denseFrom - 29 * 86_400_000, 'reaches back the whole span');
    assert.ok(Math.abs(dense.length - 3000) < 200, `${dense.length} events in the last 1,500 s at 2/s`);
    assert.equal(history.rows, 1000);
    assert.match(history.description, /after 30\.0 days of it sampled at/);
    const live = demo.live().take(200);
    assert.ok(live[0]!.time >= NOW && live.every((g) => g.event.event_id.startsWith(history.events[0]!.event_id.replace(/\d+$/, ''))), 'live traffic continues the same stream');
  });

  it('a process that does not run the generator keeps nothing of the history, and live traffic then starts now', async () => {
    const clock = new TestClock(NOW);
    const demo = new DemoTraffic(settings, clock, false);
    await demo.history(3000, 1000);
    assert.equal(demo.state(DEFAULT_FEATURE_SET, eventTime, config.partitions), undefined);
    assert.equal(demo.takeState(DEFAULT_FEATURE_SET, eventTime, config.partitions), undefined);
    const first = demo.live().next();
    assert.ok(first.time >= NOW);
    assert.match(first.event.event_id, new RegExp(`^gen_5_${NOW.toString(36)}_1$`));
  });
});
