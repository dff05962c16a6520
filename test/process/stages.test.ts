import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LabelledEvent, RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { FeatureSet, parseFeatureSpecs } from '../../src/features/index.ts';
import { DecisionPipeline, encodeCarried, PartitionTask, replayFeatures, type EventTimeOptions, type PipelineResult } from '../../src/process/index.ts';
import type { Scorer } from '../../src/score/scorer.ts';
import { partitionFor, type LogRecord } from '../../src/transport/log.ts';

const T0 = Date.parse('2026-11-30T08:00:00Z');
const MINUTE = 60_000;

/** Features over every kind of entity: the user, a merchant, a device, an IP, a user with a merchant, a derived mix, a label-driven rate. */
const SET = new FeatureSet(
  parseFeatureSpecs([
    { name: 'user_count_1h', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'count' },
    { name: 'user_merchant_count_1d', entity: ['user_id', 'merchant_id'], window: { kind: 'hopping', size: '1d', hop: '1h' }, aggregate: 'count' },
    { name: 'merchant_count_1h', entity: 'merchant_id', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'count' },
    { name: 'merchant_sum_1h', entity: 'merchant_id', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'sum', field: 'amount' },
    { name: 'merchant_users_1d', entity: 'merchant_id', window: { kind: 'tumbling', size: '1d' }, aggregate: 'distinct', field: 'user_id' },
    { name: 'merchant_last_amount', entity: 'merchant_id', window: { kind: 'session', gap: '30m' }, aggregate: 'last', field: 'amount', default: -1 },
    { name: 'merchant_fraud_rate', entity: 'merchant_id', window: { kind: 'hopping', size: '2h', hop: '10m' }, label_delay: '10m', aggregate: 'fraud_rate' },
    { name: 'device_users_1d', entity: 'device_id', window: { kind: 'hopping', size: '1d', hop: '1h' }, aggregate: 'distinct', field: 'user_id' },
    { name: 'ip_count_1h', entity: 'ip_address', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'count' },
    { name: 'merchant_share', expression: 'user_merchant_count_1d / max(merchant_count_1h, 1)' },
  ]),
);

/** Nothing is ever late: a per-partition watermark and a single one then judge alike (the property is about keys, stages and failures). */
const EVENT_TIME: EventTimeOptions = { maxOutOfOrdernessMs: 30 * 86_400_000, allowedLatenessMs: 0, dedupeWindowMs: 30 * 86_400_000 };

const SCORER: Scorer = { version: null, degraded: 'none', scoreBatch: (vectors) => vectors.map(() => ({ score: 0.1, reasons: [] })) };

const newPipeline = (partitions: number): DecisionPipeline =>
  new DecisionPipeline({ scorers: [SCORER], engine: new DecisionEngine(defaultRuleSet(0.7)), features: SET, eventTime: EVENT_TIME, partitions, distributed: true });

const eventArb = fc.record({
  user: fc.integer({ min: 0, max: 7 }),
  merchant: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined, freq: 6 }),
  device: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined, freq: 4 }),
  ip: fc.integer({ min: 0, max: 3 }),
  minutes: fc.integer({ min: 0, max: 8 }),
  amount: fc.integer({ min: 1, max: 500 }),
  fraud: fc.boolean(),
});

type EventSpec = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function stream(specs: EventSpec[]): { events: RtdsEvent[]; fraud: Set<string> } {
  let t = T0;
  const fraud = new Set<string>();
  const events = specs.map((s, i): RtdsEvent => {
    t += s.minutes * MINUTE;
    const e: RtdsEvent = { event_id: `e${i}`, event_type: 'transaction', timestamp: t, event_time: t, event_time_source: 'event', user_id: `u${s.user}`, ip_address: `10.0.0.${s.ip}`, amount: s.amount };
    if (s.merchant !== undefined) e.merchant_id = `m${s.merchant}`;
    if (s.device !== undefined) e.device_id = `d${s.device}`;
    if (s.fraud) fraud.add(e.event_id);
    return e;
  });
  return { events, fraud };
}

/** A step of the run: a processor handles a batch of one queue (stage, partition), or crashes in the middle of one (its work dropped, as an aborted transaction), or the verdicts known so far reach the processors. */
const stepArb = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('batch' as const), pick: fc.nat(), size: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), pick: fc.nat(), size: fc.integer({ min: 1, max: 5 }), leak: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('labels' as const) }) },
);

interface Queue {
  records: LogRecord[];
  /** The committed position: the next record to handle. */
  next: number;
}

/**
 * Stages apart on N partitions and 2 processors, as on Kafka: every stage's partitions split
 * between the two, an event passed on through in-memory topics (its repartition record encoded
 * and decoded as on Kafka), batches interleaved at random, processors crashing mid-batch (their
 * state rebuilt from what they committed: the user stage's from its processed events as from the
 * store, a later stage's from its input topic), and records of dropped batches sometimes reaching
 * the next stage anyway (the client's leak of aborted records). Each event must be decided once,
 * with every feature equal to a single partition of each stage fed the events in the order that
 * stage counted them.
 */
export function run(partitions: number, specs: EventSpec[], steps: Step[]): void {
  const { events, fraud } = stream(specs);
  const stages = SET.stages.length;
  const queues: Queue[][] = Array.from({ length: stages }, () => Array.from({ length: partitions }, () => ({ records: [], next: 0 })));
  for (const e of events) {
    const q = queues[0]![partitionFor(e.user_id, partitions)]!;
    const { event_time: _time, event_time_source: _source, ...input } = e;
    q.records.push({ partition: partitionFor(e.user_id, partitions), offset: q.records.length, key: e.user_id, value: input, acceptedAt: e.event_time });
  }
  // Processor 0 owns the even partitions of every stage, processor 1 the odd.
  const owner = (p: number): number => p % 2;
  const pipelines = [newPipeline(partitions), newPipeline(partitions)];
  const decided = new Map<string, Float64Array[]>();
  /** Per stage, the events in the order its state counted them; per stage 0 partition, its processed events (the store's history). */
  const counted: RtdsEvent[][] = Array.from({ length: stages }, () => []);
  const stored: RtdsEvent[][] = Array.from({ length: partitions }, () => []);
  const labelled: LabelledEvent[] = [];
  const byId = new Map(events.map((e) => [e.event_id, e]));

  const pending = (): [number, number][] => {
    const list: [number, number][] = [];
    queues.forEach((qs, s) => qs.forEach((q, p) => q.next < q.records.length && list.push([s, p])));
    return list;
  };
  const restoreIfStale = (pipeline: DecisionPipeline, s: number, p: number, offset: number): void => {
    if (!pipeline.needsRestore(p, offset, s)) return;
    const history = s === 0 ? stored[p]! : queues[s]![p]!.records.slice(0, offset).map((r) => (r.value as { event: RtdsEvent }).event);
    // A later stage's input may hold a record twice (a leaked copy): it counted once, as the restore's own dedupe does.
    const verdicts = labelled.filter((l) => history.some((e) => e.event_id === l.event.event_id));
    pipeline.restore(p, { events: history, verdicts }, offset, s);
  };
  const handle = (s: number, p: number, size: number, crash: boolean, leak: boolean): void => {
    const q = queues[s]![p]!;
    const batch = q.records.slice(q.next, q.next + size);
    const pipeline = pipelines[owner(p)]!;
    restoreIfStale(pipeline, s, p, q.next);
    const results: PipelineResult[] = pipeline.decide(pipeline.admit(batch, s));
    const forward = (r: Extract<PipelineResult, { kind: 'forward' }>): void => {
      const target = queues[r.stage]![r.partition]!;
      target.records.push({ partition: r.partition, offset: target.records.length, key: r.key, value: JSON.parse(encodeCarried(r.carried)) as unknown, acceptedAt: 0 });
    };
    if (crash) {
      // The transaction is aborted: nothing of the batch counts, its processor starts afresh; a leaked record reaches the next stage regardless.
      if (leak) for (const r of results) if (r.kind === 'forward') forward(r);
      pipelines[owner(p)] = newPipeline(partitions);
      return;
    }
    for (const r of results) {
      assert.ok(r.kind === 'forward' || r.kind === 'decided' || r.kind === 'duplicate', `unexpected ${r.kind}`);
      if (r.kind === 'duplicate') continue;
      const event = r.kind === 'forward' ? r.carried.event : r.event;
      counted[s]!.push(event);
      if (s === 0) stored[p]!.push(event);
      if (r.kind === 'forward') forward(r);
      else decided.set(event.event_id, [...(decided.get(event.event_id) ?? []), r.features]);
    }
    q.next += batch.length;
  };
  const deliverLabels = (): void => {
    // Verdicts on the events every stage has counted so far, known from the next event on, to whichever processor holds each stage's partition.
    for (const id of decided.keys()) {
      if (labelled.some((l) => l.event.event_id === id)) continue;
      const event = byId.get(id)!;
      const verdict: LabelledEvent = { event, is_fraud: fraud.has(id), labeled_at: event.event_time };
      labelled.push(verdict);
      // Each process takes it for the stage partitions it holds (LabelFeed calls every one).
      for (const pipeline of pipelines) pipeline.label(partitionFor(event.user_id, partitions), verdict);
      oracleLabels.push({ verdict, at: counted.map((c) => c.length) });
    }
  };
  const oracleLabels: { verdict: LabelledEvent; at: number[] }[] = [];

  for (const step of steps) {
    const open = pending();
    if (open.length === 0) break;
    if (step.kind === 'labels') deliverLabels();
    else {
      const [s, p] = open[step.pick % open.length]!;
      handle(s, p, step.size, step.kind === 'crash', step.kind === 'crash' && step.leak);
    }
  }
  // Then the processors drain what is left.
  for (let open = pending(); open.length > 0; open = pending()) handle(open[0]![0], open[0]![1], 8, false, false);

  assert.deepEqual([...decided.keys()].sort(), events.map((e) => e.event_id).sort(), 'every event decided');
  for (const [id, list] of decided) assert.equal(list.length, 1, `${id} decided once`);

  // The oracle: one partition per stage, fed the events in the order the stage counted them, with the verdicts where they arrived.
  const expected = new Map(events.map((e) => [e.event_id, new Float64Array(SET.names.length)]));
  const unknown = new Set<string>();
  for (let s = 0; s < stages; s++) {
    const task = new PartitionTask(SET, EVENT_TIME, s);
    let label = 0;
    counted[s]!.forEach((event, i) => {
      while (label < oracleLabels.length && oracleLabels[label]!.at[s]! <= i) task.label(oracleLabels[label++]!.verdict);
      const step = task.step(event, expected.get(event.event_id)!);
      assert.ok(step !== null, `stage ${s} counts ${event.event_id} once`);
      if (step.unknown) unknown.add(event.event_id);
    });
  }
  for (const e of events) {
    const v = expected.get(e.event_id)!;
    for (let s = 1; s < stages; s++) if (SET.stageKey(s, e) === undefined) SET.stageDefaults(s, v);
    SET.derive(e, v, unknown.has(e.event_id));
    assert.deepEqual(Array.from(decided.get(e.event_id)![0]!), Array.from(v), `features of ${e.event_id} (${JSON.stringify(e)})`);
  }
}

describe('stages apart: entity state partitioned by its own key, on two processors', () => {
  it('the set has a stage per entity kind: user (with its merchant combination), merchant, device, IP', () => {
    assert.deepEqual(
      SET.stages.map((s) => s.name),
      ['user_id', 'merchant_id', 'device_id', 'ip_address'],
    );
    assert.deepEqual(SET.stages[1]!.features, ['merchant_count_1h', 'merchant_sum_1h', 'merchant_users_1d', 'merchant_last_amount', 'merchant_fraud_rate']);
    assert.equal(SET.stages[1]!.usesLabels, true);
    // An expression is complete in the latest stage it reads from.
    assert.deepEqual(
      ['user_count_1h', 'user_merchant_count_1d', 'ip_count_1h', 'merchant_share'].map((n) => SET.stageOf(n)),
      [0, 0, 3, 1],
    );
  });

  it('decides each event once, with the features of one partition per stage, through interleavings, crashes and leaked records', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(eventArb, { minLength: 1, maxLength: 60 }), fc.array(stepArb, { maxLength: 300 }), (partitions, specs, steps) => run(partitions, specs, steps)),
      { numRuns: 60 },
    );
  });

  it('a merchant seen from every user partition counts all of its events (12 partitions), as one partition does', () => {
    const events: RtdsEvent[] = Array.from({ length: 60 }, (_, i) => ({ event_id: `x${i}`, event_type: 'transaction', timestamp: T0 + i * 1000, event_time: T0 + i * 1000, event_time_source: 'event', user_id: `user-${i}`, merchant_id: 'm-shared', device_id: 'd-shared', ip_address: '10.9.9.9', amount: 10 }));
    const twelve = replayFeatures(events, SET, EVENT_TIME, 12);
    const one = replayFeatures(events, SET, EVENT_TIME, 1);
    const last = twelve.at(-1)!.vector;
    assert.equal(last[SET.indexOf('merchant_count_1h')], 60);
    assert.equal(last[SET.indexOf('device_users_1d')], 60);
    assert.equal(last[SET.indexOf('ip_count_1h')], 60);
    assert.deepEqual(twelve.map((r) => Array.from(r.vector)), one.map((r) => Array.from(r.vector)));
  });
  it('a backlog drained one user partition after another stays on time in the later stages, within the stage skew', () => {
    const partitions = 4;
    const events: RtdsEvent[] = Array.from({ length: 400 }, (_, i) => ({ event_id: `b${i}`, event_type: 'transaction', timestamp: T0 + i * MINUTE, event_time: T0 + i * MINUTE, event_time_source: 'event', user_id: `u${(i * 7) % 23}`, merchant_id: `m${i % 2}`, ip_address: '10.1.1.1', amount: 5 }));
    const drain = (stageSkewMs: number): Extract<PipelineResult, { kind: 'decided' }>[] => {
      const bounded: EventTimeOptions = { maxOutOfOrdernessMs: 5 * MINUTE, allowedLatenessMs: 0, lateHistoryMs: 0, stageSkewMs, dedupeWindowMs: 10 * MINUTE };
      const pipeline = new DecisionPipeline({ scorers: [SCORER], engine: new DecisionEngine(defaultRuleSet(0.7)), features: SET, eventTime: bounded, partitions, distributed: true });
      const queues: LogRecord[][][] = SET.stages.map(() => Array.from({ length: partitions }, () => []));
      for (const e of events) {
        const { event_time: _t, event_time_source: _s, ...input } = e;
        const p = partitionFor(e.user_id, partitions);
        queues[0]![p]!.push({ partition: p, offset: queues[0]![p]!.length, key: e.user_id, value: input, acceptedAt: e.event_time });
      }
      const decided: Extract<PipelineResult, { kind: 'decided' }>[] = [];
      // Each stage's partitions drained whole, one after another: user partitions up to 400 minutes apart in event time.
      for (let s = 0; s < SET.stages.length; s++)
        for (let p = 0; p < partitions; p++)
          for (const r of pipeline.decide(pipeline.admit(queues[s]![p]!, s))) {
            if (r.kind === 'decided') decided.push(r);
            else if (r.kind === 'forward') queues[r.stage]![r.partition]!.push({ partition: r.partition, offset: queues[r.stage]![r.partition]!.length, key: r.key, value: JSON.parse(encodeCarried(r.carried)) as unknown, acceptedAt: 0 });
            else assert.fail(r.kind);
          }
      assert.equal(decided.length, events.length);
      return decided;
    };
    const covered = drain(400 * MINUTE);
    assert.deepEqual(covered.filter((d) => d.decision.late).map((d) => d.event.event_id), [], 'no event is late');
    // Every event joined its merchant's day: the last one decided of each merchant counts all its users.
    const users = SET.indexOf('merchant_users_1d');
    for (const m of ['m0', 'm1']) {
      const last = covered.filter((d) => d.event.merchant_id === m).at(-1)!;
      assert.equal(last.features[users], new Set(events.filter((e) => e.merchant_id === m).map((e) => e.user_id)).size, m);
    }
    // Without the allowance the lagging partitions' events are late there: said so, never counted silently wrong.
    const uncovered = drain(0);
    assert.ok(uncovered.filter((d) => d.decision.late).length > 100, 'late where the skew is not allowed for');
  });

  it('a repartition record it cannot read is dead-lettered with the reason, and the stage goes on', () => {
    const pipeline = newPipeline(2);
    const event: RtdsEvent = { event_id: 'ok', event_type: 'transaction', timestamp: T0, event_time: T0, event_time_source: 'event', user_id: 'u', merchant_id: 'm', amount: 3 };
    const good = JSON.parse(encodeCarried({ event, vector: new Float64Array(SET.names.length), late: false, behindMs: 0, unknown: false, body_hash: undefined, position: { partition: 0, offset: 0 }, acceptedAt: T0 })) as unknown;
    const values: unknown[] = [{ v: 3, event }, { v: 1, event, features: [1, 2] }, 'text', good];
    const results = pipeline.decide(pipeline.admit(values.map((value, offset) => ({ partition: 1, offset, key: 'm', value, acceptedAt: T0 })), 1));
    assert.deepEqual(results.slice(0, 3).map((r) => r.kind === 'dead_letter' && r.letter.errors[0]!.field), ['(repartition record)', '(repartition record)', '(repartition record)']);
    assert.match(results[0]!.kind === 'dead_letter' ? results[0]!.letter.errors[0]!.reason : '', /layout 3 is not 1 or 2/);
    assert.match(results[1]!.kind === 'dead_letter' ? results[1]!.letter.errors[0]!.reason : '', /features: expected 10 values/);
    assert.equal(results[3]!.kind, 'decided', 'the good record is decided: it has no device or IP for a later stage');
  });
});

