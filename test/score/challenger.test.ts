import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline, type PipelineResult } from '../../src/process/index.ts';
import { RulesOnlyScorer, type Scorer } from '../../src/score/index.ts';
import { ScriptedModel } from './scripted-model.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const records = (n: number) =>
  Array.from({ length: n }, (_, k) => ({
    partition: 0,
    offset: k,
    key: `u${k % 5}`,
    acceptedAt: T0,
    value: { event_id: `ch-${k}`, event_type: 'transaction', timestamp: T0 + k * 1000, user_id: `u${k % 5}`, amount: 10 + ((k * 37) % 900), country: k % 7 === 0 ? 'BR' : 'DE' } as unknown as RtdsEvent,
  }));

/** A challenger: the rules-only scorer under another version, so its scores differ from the champion's and are known. */
const challengerOf = (version: string): Scorer => {
  const rules = new RulesOnlyScorer(DEFAULT_FEATURE_SET);
  return { version, degraded: 'none', scoreBatch: (v, e) => rules.scoreBatch(v, e) };
};

const pipeline = (onChallengerError?: (s: Scorer, err: unknown) => void): DecisionPipeline =>
  new DecisionPipeline({
    scorers: [new ScriptedModel({ ms: 0 })],
    engine: new DecisionEngine(defaultRuleSet(0.7)),
    features: DEFAULT_FEATURE_SET,
    eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 },
    ...(onChallengerError === undefined ? {} : { onChallengerError }),
  });
const decisions = (results: PipelineResult[]) => results.map((r) => (r.kind === 'decided' ? r.decision : r.kind));
const now = (): number => T0 + 1;

describe('a challenger scoring in shadow', () => {
  it('scores every decided event without changing a decision', () => {
    const plain = pipeline().processBatch(records(40), now);
    const shadowed = pipeline();
    shadowed.useChallenger(challengerOf('v9'));
    assert.equal(shadowed.challengerVersion, 'v9');
    const results = shadowed.processBatch(records(40), now);
    assert.deepEqual(decisions(results), decisions(plain), 'the same decisions, to the last field');

    const reference = new RulesOnlyScorer(DEFAULT_FEATURE_SET);
    const decided = results.filter((r) => r.kind === 'decided');
    assert.equal(decided.length, 40);
    const expected = reference.scoreBatch(
      decided.map((r) => r.features),
      decided.map((r) => r.event),
    );
    assert.deepEqual(
      decided.map((r) => r.shadow),
      expected.map((s) => ({ model_version: 'v9', score: s.score })),
    );
    assert.ok(new Set(decided.map((r) => r.shadow!.score)).size > 1 && decided.some((r) => r.shadow!.score !== r.decision.risk_score), 'the challenger’s own scores, not the champion’s');
  });

  it('loses its scores, not the decisions, when it fails; and stops when removed', () => {
    const errors: unknown[] = [];
    const shadowed = pipeline((_, err) => errors.push(err));
    const failing = new ScriptedModel({ ms: 0 });
    failing.mode = 'failing';
    shadowed.useChallenger(failing);
    const results = shadowed.processBatch(records(10), now);
    assert.deepEqual(decisions(results), decisions(pipeline().processBatch(records(10), now)));
    assert.ok(results.every((r) => r.kind === 'decided' && r.shadow === undefined));
    assert.equal(errors.length, 1);

    shadowed.useChallenger(null);
    assert.equal(shadowed.challengerVersion, null);
    const later = records(12).slice(10);
    assert.ok(shadowed.processBatch(later, now).every((r) => r.kind === 'decided' && r.shadow === undefined));
    assert.equal(failing.calls, 1, 'not called once removed');
  });
});
