import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline } from '../../src/process/index.ts';
import { RulesOnlyScorer } from '../../src/score/index.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DecisionEngine, defaultRuleSet, loadRuleSetFile, parseRuleSet, RuleSetError, Watchlists, type ScoredEvent } from '../../src/decide/index.ts';

const at = (ms: number): { ms: number; iso: string } => ({ ms, iso: new Date(ms).toISOString() });

function scored(score: number, fields: Record<string, unknown> = {}): ScoredEvent {
  const v = validateEvent({ event_id: 'e1', event_type: 'transaction', timestamp: 0, user_id: 'u', amount: 20, channel: 'web', country: 'DE', ...fields });
  assert.ok(v.ok);
  return { event: v.event as RtdsEvent, score, scoreReasons: [{ code: 'model_score', source: 'model', message: `scored ${score}` }], modelVersion: 'v1', degraded: 'none', late: false, acceptedAt: 1000 };
}

describe('thresholds', () => {
  const engine = new DecisionEngine(defaultRuleSet(0.7));
  it('rejects at t, flags from t − 0.2, approves below', () => {
    assert.equal(engine.decide(scored(0.7), at(1001)).decision, 'rejected');
    assert.equal(engine.decide(scored(0.69), at(1001)).decision, 'flagged');
    assert.equal(engine.decide(scored(0.5), at(1001)).decision, 'flagged');
    assert.equal(engine.decide(scored(0.49), at(1001)).decision, 'approved');
  });

  it('uses the threshold of the event type when one is configured', () => {
    const perType = new DecisionEngine(parseRuleSet({ version: 'x', thresholds: { default: 0.7, login: 0.9 }, rules: [] }));
    assert.equal(perType.decide(scored(0.8), at(0)).decision, 'rejected');
    assert.equal(perType.decide(scored(0.8, { event_type: 'login' }), at(0)).decision, 'flagged');
  });

  it('explains the decision with a sentence and every reason, and records versions and timing', () => {
    const d = engine.decide(scored(0.93), at(1003.5));
    assert.match(d.reason, /^Rejected: risk score 0\.93 ≥ 0\.70 for transaction/);
    assert.deepEqual(d.reasons.map((r) => r.code), ['model_score']);
    assert.equal(d.processing_time_ms, 3.5);
    assert.equal(d.rules_version, 'builtin-1');
    assert.equal(d.model_version, 'v1');
    assert.match(engine.decide(scored(0.1), at(0)).reason, /^Approved/);
  });

  it('names what drove a risky score in the sentence', () => {
    const s = scored(0.9);
    s.scoreReasons.push({ code: 'model_feature', source: 'model', message: 'amount_to_avg = 23.4 raised the score by 0.31' });
    assert.equal(engine.decide(s, at(0)).reason, 'Rejected: risk score 0.90 ≥ 0.70 for transaction (amount_to_avg = 23.4 raised the score by 0.31).');
  });
});

describe('business rules', () => {
  const engine = new DecisionEngine(defaultRuleSet(0.7));
  it('rejects a blocked country whatever the score', () => {
    const d = engine.decide(scored(0.01, { country: 'KP' }), at(0));
    assert.equal(d.decision, 'rejected');
    assert.ok(d.reasons.some((r) => r.code === 'sanctioned_country' && r.source === 'rule' && /KP is blocked/.test(r.message)));
  });

  it('applies amount limits per channel only on that channel', () => {
    assert.equal(engine.decide(scored(0.01, { channel: 'atm', amount: 1500, event_type: 'withdrawal' }), at(0)).decision, 'flagged');
    assert.equal(engine.decide(scored(0.01, { channel: 'web', amount: 1500 }), at(0)).decision, 'approved');
    const d = engine.decide(scored(0.01, { channel: 'web', amount: 60_000 }), at(0));
    assert.equal(d.decision, 'rejected');
    assert.match(d.reason, /amount 60,000 exceeds the limit of 50,000/);
  });

  it('never lets a rule soften what the score decided', () => {
    assert.equal(engine.decide(scored(0.95, { channel: 'atm', amount: 1500, event_type: 'withdrawal' }), at(0)).decision, 'rejected');
  });
});

describe('the safe default, when no scorer could score', () => {
  const safe = (fields: Record<string, unknown> = {}): ScoredEvent => ({ ...scored(0.5, fields), degraded: 'safe_default', modelVersion: null });

  it('sends an event to review unless the rule set says otherwise for its type', () => {
    const engine = new DecisionEngine(defaultRuleSet(0.7));
    const d = engine.decide(safe(), at(0));
    assert.equal(d.decision, 'flagged');
    assert.match(d.reason, /safe default for transaction applies/);
  });

  it('takes the outcome configured per event type, whatever the thresholds', () => {
    const engine = new DecisionEngine(parseRuleSet({ version: 's', thresholds: { default: 0.4 }, safe_default: { default: 'flagged', login: 'approved', withdrawal: 'rejected' }, rules: [] }));
    assert.equal(engine.decide(safe({ event_type: 'login', amount: undefined }), at(0)).decision, 'approved', 'score 0.5 would be rejected at 0.4');
    assert.match(engine.decide(safe({ event_type: 'login', amount: undefined }), at(0)).reason, /^Approved: no scorer was available/);
    assert.equal(engine.decide(safe({ event_type: 'withdrawal' }), at(0)).decision, 'rejected');
    assert.equal(engine.decide(safe({ event_type: 'transfer' }), at(0)).decision, 'flagged');
    assert.equal(engine.decide(scored(0.5, { event_type: 'login', amount: undefined }), at(0)).decision, 'rejected', 'a scored event still goes by the thresholds');
  });

  it('still lets a rule make it stricter', () => {
    const engine = new DecisionEngine(parseRuleSet({ ...defaultRuleSet(0.7), safe_default: { default: 'approved' } }));
    assert.equal(engine.decide(safe({ country: 'KP' }), at(0)).decision, 'rejected');
  });

  it('refuses an outcome that is not one', () => {
    assert.throws(() => parseRuleSet({ version: 'v', thresholds: { default: 0.7 }, safe_default: { default: 'maybe' }, rules: [] }), (err: unknown) => err instanceof RuleSetError && err.problems.some((p) => p.includes('/safe_default/default')));
    assert.throws(() => parseRuleSet({ version: 'v', thresholds: { default: 0.7 }, safe_default: { login: 'approved' }, rules: [] }), RuleSetError);
  });
});

describe('conditions in CEL', () => {
  const names = ['count_1h', 'amount_to_avg'];
  const ruleSet = (rules: unknown[]) => parseRuleSet({ version: 'cel-1', thresholds: { default: 0.7 }, rules });
  const withFeatures = (score: number, values: number[], fields: Record<string, unknown> = {}): ScoredEvent => ({ ...scored(score, fields), features: Float64Array.from(values) });

  it('fire on the event, its features and the score, with the message filled in', () => {
    const engine = new DecisionEngine(
      ruleSet([
        { id: 'burst', kind: 'condition', when: 'features.count_1h >= 10.0 && score > 0.3', outcome: 'flagged', message: '{features.count_1h} events in the last hour, score {score}' },
        { id: 'big_transfer', kind: 'condition', when: "event.event_type == 'transfer' && event.amount > 5000", outcome: 'rejected', message: 'transfer of {event.amount} {event.currency}' },
      ]),
      { features: names },
    );
    const burst = engine.decide(withFeatures(0.35, [12, 1]), at(0));
    assert.equal(burst.decision, 'flagged');
    assert.deepEqual(burst.reasons.at(-1), { code: 'burst', source: 'rule', message: '12 events in the last hour, score 0.35' });
    assert.equal(engine.decide(withFeatures(0.35, [9, 1]), at(0)).decision, 'approved');
    const big = engine.decide(withFeatures(0.1, [1, 1], { event_type: 'transfer', amount: 6000, currency: 'EUR' }), at(0));
    assert.equal(big.decision, 'rejected');
    assert.match(big.reason, /transfer of 6,?000 EUR/);
  });

  it('load from a YAML file', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rtds-rules-')), 'rules.yaml');
    writeFileSync(file, ['version: yaml-1', 'thresholds: { default: 0.7 }', 'rules:', '  - id: night_atm', '    kind: condition', "    when: event.channel == 'atm' && event.amount >= 500.0", '    outcome: flagged'].join('\n'));
    const engine = new DecisionEngine(loadRuleSetFile(file), { features: names });
    assert.equal(engine.version, 'yaml-1');
    assert.equal(engine.decide(withFeatures(0.1, [0, 0], { channel: 'atm', amount: 600 }), at(0)).decision, 'flagged');
    rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('read the features the pipeline computed for the event (a velocity limit)', () => {
    const engine = new DecisionEngine(parseRuleSet({ version: 'velocity', thresholds: { default: 0.7 }, rules: [{ id: 'velocity', kind: 'condition', when: 'features.count_1m >= 3.0', outcome: 'flagged', message: '{features.count_1m} events in a minute' }] }), { features: DEFAULT_FEATURE_SET.names });
    const pipeline = new DecisionPipeline({ scorers: [new RulesOnlyScorer(DEFAULT_FEATURE_SET)], engine, features: DEFAULT_FEATURE_SET, eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 } });
    const T0 = Date.parse('2026-11-26T12:00:00Z');
    const records = Array.from({ length: 4 }, (_, k) => ({ partition: 0, offset: k, key: 'ann', acceptedAt: 0, value: { event_id: `v${k}`, event_type: 'login', timestamp: T0 + k * 5000, user_id: 'ann' } }));
    const fired = pipeline.processBatch(records).map((r) => (r.kind === 'decided' ? r.decision.reasons.find((x) => x.code === 'velocity')?.message ?? null : r.kind));
    // count_1m counts the user's events in the minute up to and with this one: the third reaches the limit.
    assert.deepEqual(fired, [null, null, '3 events in a minute', '4 events in a minute']);
  });

  it('does not fire when the event lacks what it reads', () => {
    const engine = new DecisionEngine(ruleSet([{ id: 'big', kind: 'condition', when: 'event.amount > 10', outcome: 'rejected' }]), { features: names });
    assert.equal(engine.decide(withFeatures(0.1, [0, 0], { event_type: 'login', amount: undefined }), at(0)).decision, 'approved');
    assert.equal(engine.decide(withFeatures(0.1, [0, 0], { amount: 11 }), at(0)).decision, 'rejected');
  });

  it('refuses, before serving, a condition that does not parse or names what does not exist, with its path', () => {
    assert.throws(
      () =>
        new DecisionEngine(
          ruleSet([
            { id: 'ok', kind: 'condition', when: 'score > 0.5', outcome: 'flagged' },
            { id: 'typo', kind: 'condition', when: 'features.count_1hour > 3.0', outcome: 'flagged' },
            { id: 'broken', kind: 'condition', when: 'event.amount >', outcome: 'flagged' },
          ]),
          { features: names },
        ),
      (err: unknown) => err instanceof RuleSetError && err.problems.length === 2 && err.problems[0]!.startsWith('/rules/1/when (typo): no feature "count_1hour"') && err.problems[1]!.startsWith('/rules/2/when (broken)'),
    );
    assert.throws(() => ruleSet([{ id: 'x', kind: 'condition', outcome: 'flagged' }]), RuleSetError, 'a condition needs its when');
  });
});

describe('rule outcomes: add to the score, approve by priority', () => {
  const engine = new DecisionEngine(
    parseRuleSet({
      version: 'outcomes-1',
      thresholds: { default: 0.7 },
      rules: [
        { id: 'payroll', kind: 'condition', when: "event.merchant_id == 'payroll'", outcome: 'approved', priority: 10, message: 'payroll run' },
        { id: 'sanctions', kind: 'blocked_country', countries: ['KP'], outcome: 'rejected', priority: 100 },
        { id: 'big', kind: 'amount_limit', max: 1000, outcome: 'flagged' },
        { id: 'new_device_risk', kind: 'condition', when: 'features.new_device == 1.0', add_to_score: 0.3 },
        { id: 'loyal', kind: 'condition', when: "event.channel == 'pos'", add_to_score: -0.2 },
      ],
    }),
    { features: ['new_device'] },
  );
  const withDevice = (score: number, newDevice: number, fields: Record<string, unknown> = {}): ScoredEvent => ({ ...scored(score, fields), features: Float64Array.of(newDevice) });

  it('adds to the score before the thresholds, keeping the model’s score as risk_score', () => {
    const d = engine.decide(withDevice(0.45, 1), at(0));
    assert.equal(d.decision, 'rejected', '0.45 + 0.3 = 0.75 ≥ 0.7');
    assert.equal(d.risk_score, 0.45);
    assert.match(d.reason, /risk score 0\.45 adjusted by rules to 0\.75 ≥ 0\.70/);
    assert.equal(engine.decide(withDevice(0.6, 0, { channel: 'pos' }), at(0)).decision, 'approved', '0.6 − 0.2 = 0.4 < 0.5');
    assert.equal(engine.decide(withDevice(0.1, 0, { channel: 'pos' }), at(0)).decision, 'approved', 'clamped at 0');
  });

  it('approves over the score and lower-priority rules, but not over a higher-priority rejection', () => {
    const payroll = engine.decide(withDevice(0.95, 0, { merchant_id: 'payroll', amount: 5000 }), at(0));
    assert.equal(payroll.decision, 'approved', 'neither the score nor the lower-priority amount limit decides');
    assert.equal(payroll.reason, 'Approved: payroll run (rule payroll), whatever the risk score.');
    assert.ok(!payroll.reasons.some((r) => r.code === 'big'), 'rules below an approval are not run');
    assert.equal(engine.decide(withDevice(0.1, 0, { merchant_id: 'payroll', country: 'KP' }), at(0)).decision, 'rejected');
  });

  it('refuses a condition with both an outcome and a score change, or neither', () => {
    const set = (rule: object) => parseRuleSet({ version: 'v', thresholds: { default: 0.7 }, rules: [{ id: 'r', kind: 'condition', when: 'score > 0.1', ...rule }] });
    assert.throws(() => set({ outcome: 'flagged', add_to_score: 0.1 }), RuleSetError);
    assert.throws(() => set({}), RuleSetError);
    assert.throws(() => set({ add_to_score: 2 }), RuleSetError);
    assert.equal(set({ add_to_score: -0.5 }).rules.length, 1);
  });
});

describe('block and allow lists', () => {
  const engine = new DecisionEngine(defaultRuleSet(0.7));
  const lists = new Watchlists(3, [
    { list: 'block', field: 'user_id', value: 'mallory' },
    { list: 'allow', field: 'merchant_id', value: 'utility-co' },
    { list: 'allow', field: 'user_id', value: 'mallory' },
  ]);

  it('reject a blocked entity whatever the score, even one also allowed, and record the lists version', () => {
    const d = engine.decide(scored(0.05, { user_id: 'mallory' }), at(0), lists);
    assert.equal(d.decision, 'rejected');
    assert.deepEqual(d.reasons.at(-1), { code: 'block_list', source: 'rule', message: 'user_id mallory is on the block list' });
    assert.equal(d.rules_version, 'builtin-1+lists.3');
  });

  it('approve an allowed entity whatever its score, but let rules still reject it', () => {
    const allowed = engine.decide(scored(0.95, { merchant_id: 'utility-co' }), at(0), lists);
    assert.equal(allowed.decision, 'approved');
    assert.match(allowed.reason, /^Approved: merchant_id utility-co is on the allow list, so its risk score 0\.95 does not decide/);
    assert.equal(engine.decide(scored(0.95, { merchant_id: 'utility-co', country: 'KP' }), at(0), lists).decision, 'rejected', 'a sanctioned country still rejects');
  });

  it('leave everything else to the score', () => {
    assert.equal(engine.decide(scored(0.95, { user_id: 'ann' }), at(0), lists).decision, 'rejected');
    assert.equal(engine.decide(scored(0.1, { user_id: 'ann' }), at(0), lists).rules_version, 'builtin-1+lists.3');
    assert.equal(engine.decide(scored(0.1), at(0)).rules_version, 'builtin-1', 'no lists: the rule set version alone');
  });
});

describe('rule set validation', () => {
  it('refuses a malformed rule set naming each problem', () => {
    assert.throws(
      () => parseRuleSet({ version: 'bad', thresholds: { default: 1.5 }, rules: [{ id: 'r', kind: 'amount_limit', max: -1, outcome: 'approved' }] }),
      (err: unknown) => err instanceof RuleSetError && err.problems.some((p) => p.includes('/thresholds/default')) && err.problems.some((p) => p.includes('/rules/0')),
    );
    assert.throws(() => parseRuleSet({ version: 'v', thresholds: { default: 0.7 }, rules: [{ id: 'r', kind: 'teleport' }] }), RuleSetError);
  });

  it('refuses two rules with the same id', () => {
    const rule = { id: 'same', kind: 'blocked_country', countries: ['KP'], outcome: 'rejected' };
    assert.throws(() => parseRuleSet({ version: 'v', thresholds: { default: 0.7 }, rules: [rule, rule] }), /used twice/);
  });
});
