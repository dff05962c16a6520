import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { FEATURES, featureIndex } from '../../src/features/index.ts';
import { rocAuc } from '../../src/score/evaluation.ts';
import { FALLBACK_SIGNALS, RulesOnlyScorer } from '../../src/score/rules-only-scorer.ts';
import { syntheticDataset } from './synthetic.ts';

function vector(values: Record<string, number>): Float64Array {
  const v = new Float64Array(FEATURES.length);
  for (const [name, value] of Object.entries(values)) v[featureIndex(name)] = value;
  return v;
}

const event = (id: string): RtdsEvent => ({ event_id: id, event_type: 'transfer', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u1' });

const ordinary = vector({
  amount: 42,
  count_1m: 1,
  count_1h: 2,
  count_24h: 6,
  sum_1m: 42,
  sum_1h: 80,
  sum_24h: 300,
  amount_to_avg: 1.1,
  secs_since_prev: 1800,
  type_transaction: 1,
  channel_mobile: 1,
  hour_cos: 1,
});

// Account takeover: password changed, new device in a new country, a burst of large transfers.
const attack = vector({
  amount: 4800,
  count_1m: 5,
  count_1h: 6,
  count_24h: 9,
  sum_1m: 14_000,
  sum_1h: 14_500,
  sum_24h: 15_000,
  amount_to_avg: 23.4,
  new_country: 1,
  new_device: 1,
  secs_since_prev: 8,
  password_change_24h: 1,
  type_transfer: 1,
  channel_web: 1,
  hour_cos: 1,
});

describe('RulesOnlyScorer', () => {
  const scorer = new RulesOnlyScorer();

  it('stands for the rules_only step of the ladder, with no model version', () => {
    assert.equal(scorer.version, null);
    assert.equal(scorer.degraded, 'rules_only');
  });

  it('scores an obvious account takeover at 0.7 or more and says why', () => {
    const [s] = scorer.scoreBatch([attack], [event('e1')]);
    assert.ok(s!.score >= 0.7, `score ${s!.score}`);
    const codes = s!.reasons.map((r) => r.code);
    assert.equal(codes[0], 'rules_only_score');
    for (const code of ['amount_far_above_average', 'new_device_and_country', 'burst_1m', 'password_change_then_money']) {
      assert.ok(codes.includes(code), `missing ${code} in ${codes.join(', ')}`);
    }
    assert.ok(s!.reasons.every((r) => r.source === 'fallback'));
    assert.match(s!.reasons.find((r) => r.code === 'amount_far_above_average')!.message, /23\.4× the user's average/);
  });

  it('scores ordinary activity below 0.3 with a single reason saying no signal was found', () => {
    const [s] = scorer.scoreBatch([ordinary], [event('e2')]);
    assert.ok(s!.score < 0.3, `score ${s!.score}`);
    assert.deepEqual(
      s!.reasons.map((r) => r.code),
      ['rules_only_score'],
    );
  });

  it('keeps one weak signal (a new device alone) below 0.3', () => {
    const v = Float64Array.from(ordinary);
    v[featureIndex('new_device')] = 1;
    const s = scorer.scoreOne(v);
    assert.ok(s.score > 0 && s.score < 0.3, `score ${s.score}`);
    assert.deepEqual(
      s.reasons.map((r) => r.code),
      ['rules_only_score', 'new_device'],
    );
  });

  it('combines signals so the score grows with each one and stays within [0, 1]', () => {
    const extreme = vector({ amount: 1e9, amount_to_avg: 1e6, count_1m: 1e4, count_1h: 1e5, new_device: 1, new_country: 1, password_change_24h: 1, type_transfer: 1 });
    const s = scorer.scoreOne(extreme).score;
    assert.ok(s <= 1 && s > 0.9, `score ${s}`);
    const weaker = scorer.scoreOne(vector({ amount_to_avg: 1e6, type_transfer: 1 })).score;
    assert.ok(weaker < s);
    const nan = scorer.scoreOne(vector({ amount: NaN, amount_to_avg: NaN, count_1m: NaN })).score;
    assert.equal(nan, 0);
  });

  it('ranks synthetic fraud above ordinary events far better than chance', () => {
    const { x, y } = syntheticDataset(4000, 21);
    const scores = x.map((v) => scorer.scoreOne(v).score);
    assert.ok(rocAuc(scores, y) > 0.75, `AUC ${rocAuc(scores, y)}`);
  });

  it('documents every signal with a weight below 1', () => {
    for (const s of FALLBACK_SIGNALS) assert.ok(s.weight > 0 && s.weight < 1 && s.doc.length > 0, s.code);
  });
});
