import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline } from '../../src/process/index.ts';
import { CircuitBreaker, CircuitOpenError, RulesOnlyScorer, type BreakerState } from '../../src/score/index.ts';
import { ScriptedModel } from './scripted-model.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const records = (from: number, n: number) =>
  Array.from({ length: n }, (_, k) => ({
    partition: 0,
    offset: from + k,
    key: 'ann',
    acceptedAt: 0,
    value: { event_id: `cb-${from + k}`, event_type: 'transaction', timestamp: T0 + (from + k) * 1000, user_id: 'ann', amount: 10 } as unknown as RtdsEvent,
  }));

describe('the model behind a circuit breaker', () => {
  it('opens after failures or slow batches in a row, lets the fallback decide, and closes again after the cooldown', () => {
    const clock = { ms: 0 };
    const model = new ScriptedModel(clock);
    const changes: BreakerState[] = [];
    const breaker = new CircuitBreaker(model, { budgetMsPerEvent: 1, failures: 2, cooldownMs: 1000, now: () => clock.ms, onChange: (s) => changes.push(s) });
    const pipeline = new DecisionPipeline({ scorers: [breaker, new RulesOnlyScorer(DEFAULT_FEATURE_SET)], engine: new DecisionEngine(defaultRuleSet(0.7)), features: DEFAULT_FEATURE_SET, eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 } });
    const degradation = (from: number): string[] => pipeline.processBatch(records(from, 4)).map((r) => (r.kind === 'decided' ? r.decision.degraded : r.kind));

    assert.deepEqual(degradation(0), ['none', 'none', 'none', 'none']);
    model.mode = 'failing';
    assert.deepEqual(degradation(4), ['rules_only', 'rules_only', 'rules_only', 'rules_only'], 'a failed batch falls back');
    assert.equal(breaker.state, 'closed', 'one failure does not open it');
    model.mode = 'slow';
    assert.deepEqual(degradation(8), ['none', 'none', 'none', 'none'], 'a slow batch’s scores stand…');
    assert.equal(breaker.state, 'open', '…but it is the second failure in a row');
    model.mode = 'healthy';
    const calls = model.calls;
    assert.deepEqual(degradation(12), ['rules_only', 'rules_only', 'rules_only', 'rules_only'], 'open: the fallback decides…');
    assert.equal(model.calls, calls, '…without calling the model');
    assert.throws(() => breaker.scoreBatch([], []), CircuitOpenError);

    clock.ms += 1000;
    assert.deepEqual(degradation(16), ['none', 'none', 'none', 'none'], 'after the cooldown one batch tries the model');
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(changes, ['open', 'half_open', 'closed']);
  });

  it('opens again at once when the trial batch fails', () => {
    const clock = { ms: 0 };
    const model = new ScriptedModel(clock);
    const breaker = new CircuitBreaker(model, { budgetMsPerEvent: 1, failures: 1, cooldownMs: 1000, now: () => clock.ms });
    model.mode = 'failing';
    assert.throws(() => breaker.scoreBatch([new Float64Array(1)], []), /model crashed/);
    assert.equal(breaker.state, 'open');
    clock.ms += 1000;
    assert.throws(() => breaker.scoreBatch([new Float64Array(1)], []), /model crashed/);
    assert.equal(breaker.state, 'open');
    assert.throws(() => breaker.scoreBatch([new Float64Array(1)], []), CircuitOpenError, 'a new cooldown began');
  });
});
