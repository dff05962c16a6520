import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline, MicroBatchSize, Processor } from '../../src/process/index.ts';
import { RulesOnlyScorer, type Scorer } from '../../src/score/index.ts';
import type { BatchHandler, LogRecord } from '../../src/transport/log.ts';

describe('micro-batches under a latency budget', () => {
  it('sizes the micro-batch from the measured cost per event, within its bounds', () => {
    const sizing = new MicroBatchSize({ budgetMs: 20, min: 16, max: 1000, smoothing: 0.5 });
    assert.equal(sizing.size, 1000, 'a quiet stream is never split');
    sizing.observe(100, 10); // 0.1 ms per event
    assert.equal(sizing.size, 200);
    sizing.observe(200, 40); // twice as slow: the estimate moves half-way
    assert.ok(Math.abs(sizing.costMs! - 0.15) < 1e-12);
    assert.equal(sizing.size, 133);
    for (let i = 0; i < 30; i++) sizing.observe(100, 20);
    assert.equal(sizing.size, 100, 'settles where a micro-batch takes the budget');
    for (let i = 0; i < 30; i++) sizing.observe(100, 1000);
    assert.equal(sizing.size, 16, 'never below the minimum');
    for (let i = 0; i < 60; i++) sizing.observe(100, 0.01);
    assert.equal(sizing.size, 1000, 'nor above the maximum');
    assert.throws(() => new MicroBatchSize({ budgetMs: 0, min: 1, max: 10 }), RangeError);
  });

  it('cuts a large batch into consecutive micro-batches, hands each on at once, and lets the event loop run between them', async () => {
    const T0 = Date.parse('2026-11-26T12:00:00Z');
    const batch: LogRecord[] = Array.from({ length: 1000 }, (_, k) => ({
      partition: k % 3,
      offset: Math.floor(k / 3),
      key: `u${k % 3}`,
      acceptedAt: T0,
      value: { event_id: `mb-${k}`, event_type: 'transaction', timestamp: T0 + k * 10, user_id: `u${k % 3}`, amount: 10 + (k % 50) } as unknown as RtdsEvent,
    }));
    // Scoring costs 0.1 ms per event on the test's clock.
    const clock = { ms: 0 };
    const rules = new RulesOnlyScorer(DEFAULT_FEATURE_SET);
    const timedRules: Scorer = {
      version: null,
      degraded: 'rules_only',
      scoreBatch: (vectors, events) => {
        clock.ms += 0.1 * vectors.length;
        return rules.scoreBatch(vectors, events);
      },
    };
    const pipeline = new DecisionPipeline({ scorers: [timedRules], engine: new DecisionEngine(defaultRuleSet(0.7)), features: DEFAULT_FEATURE_SET, eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 } });
    const decided: string[] = [];
    const readyAt: number[] = [];
    const microBatch = new MicroBatchSize({ budgetMs: 20, min: 16, max: 400 });
    const source = {
      start: async (handler: BatchHandler) => void (await handler(batch)),
      stop: async () => undefined,
      lag: () => 0,
      progress: () => ({ member: null, partitions: [], problem: null }),
    };
    const processor = new Processor(
      source,
      pipeline,
      {
        forward: () => assert.fail('one stage: nothing is passed on'),
        decided: (r) => void decided.push(r.event.event_id),
        deadLetter: () => assert.fail('no record is invalid'),
        duplicate: () => assert.fail('no record is re-sent'),
        conflict: () => assert.fail('no record is re-sent'),
        ready: async () => void readyAt.push(decided.length),
      },
      { microBatch, now: () => clock.ms },
    );
    let seenMidBatch: number | undefined;
    setImmediate(() => (seenMidBatch = decided.length));
    await processor.start();

    assert.deepEqual(decided, batch.map((r) => (r.value as RtdsEvent).event_id), 'every record, once, in order');
    assert.deepEqual(readyAt, [0, 400, 600, 800], 'micro-batches of 400 (the maximum), then 200 (20 ms at 0.1 ms each)');
    assert.equal(seenMidBatch, 400, 'a queued callback ran after the first micro-batch');
    assert.equal(microBatch.size, 200);
  });
});
