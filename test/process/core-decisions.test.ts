import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet, Watchlists, type RuleSetDefinition } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET, FEATURES } from '../../src/features/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { DecisionPipeline, StageTasks, type EventTimeOptions, type PipelineResult } from '../../src/process/index.ts';
import { DenseNetwork, ModelScorer, Standardiser, type DenseLayerWeights, type Scorer } from '../../src/score/index.ts';
import { partitionFor, type LogRecord } from '../../src/transport/log.ts';
import { rng } from '../score/synthetic.ts';

const PARTITIONS = 12;
const EVENT_TIME: EventTimeOptions = { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, lateHistoryMs: 3_600_000, dedupeWindowMs: 600_000 };
const DECIDED_AT = Date.parse('2026-12-01T04:00:00Z');

/** The default rules, and conditions that add to the score, approve and fill in their messages: every path of the engine. */
const RULES: RuleSetDefinition = {
  ...defaultRuleSet(0.6),
  rules: [
    ...defaultRuleSet(0.6).rules,
    { id: 'burst', kind: 'condition', when: 'features.count_1h > 3.0', add_to_score: 0.15, message: '{features.count_1h} events in an hour' },
    { id: 'big_transfer', kind: 'condition', when: "event.event_type == 'transfer' && event.amount > 2000.0", outcome: 'flagged', message: 'transfer of {event.amount} at score {score}' },
    { id: 'trusted_merchant', kind: 'condition', when: "has(event.merchant_id) && event.merchant_id.endsWith('7')", outcome: 'approved', priority: -1 },
  ],
};

/** A 64-32-16-1 network with seeded weights: scores spread over [0, 1], so some events are explained, flagged and rejected. */
function seededNetwork(d: number): DenseNetwork {
  const random = rng(11);
  const sizes = [d, 64, 32, 16, 1];
  const layers: DenseLayerWeights[] = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const [n, m] = [sizes[k]!, sizes[k + 1]!];
    layers.push({
      inputSize: n,
      outputSize: m,
      kernel: Float32Array.from({ length: n * m }, () => (random() - 0.5) * (2.2 / Math.sqrt(n))),
      bias: Float32Array.from({ length: m }, () => (random() - 0.5) * 0.2),
      activation: k + 2 === sizes.length ? 'sigmoid' : 'relu',
    });
  }
  return new DenseNetwork(layers);
}

/** A generated stream as the log delivers it, some events out of order and late, plus re-sends and a record that is no event. */
function stream(n: number): LogRecord[] {
  const values: unknown[] = new TrafficGenerator({ seed: 5, users: 300, disorderMs: 20_000, disorderProbability: 0.1 }).take(n).map((g) => g.event);
  for (let i = 50; i < values.length; i += 97) values.splice(i, 0, values[i - 3]); // a re-send of a recent event
  values.splice(300, 0, { event_id: 'broken', event_type: 'transaction', user_id: 'u1' }); // no amount: a dead letter
  const offsets = new Array<number>(PARTITIONS).fill(0);
  return values.map((value) => {
    const key = (value as { user_id: string }).user_id;
    const partition = partitionFor(key, PARTITIONS);
    return { partition, offset: offsets[partition]!++, key, value, acceptedAt: DECIDED_AT - 100 };
  });
}

function model(records: readonly LogRecord[]): Scorer {
  // Standardised on the stream's own vectors, as a trained model is on its training data.
  const tasks = new StageTasks(DEFAULT_FEATURE_SET, EVENT_TIME, PARTITIONS);
  const vectors: Float64Array[] = [];
  for (const r of records) {
    const checked = validateEvent(r.value);
    const step = checked.ok ? tasks.step(checked.event, r.partition) : null;
    if (step !== null) vectors.push(step.vector);
  }
  return new ModelScorer('m1', seededNetwork(FEATURES.length), Standardiser.fit(vectors), { explainFrom: 0.4 });
}

const LISTS = new Watchlists(3, [
  { list: 'block', field: 'user_id', value: 'usr_17' },
  { list: 'allow', field: 'user_id', value: 'usr_23' },
]);

function pipeline(scorer: Scorer): DecisionPipeline {
  const p = new DecisionPipeline({ scorers: [scorer], engine: new DecisionEngine(RULES), features: DEFAULT_FEATURE_SET, eventTime: EVENT_TIME, partitions: PARTITIONS });
  p.useLists(LISTS);
  return p;
}

/** Results as text: every field, features included (NaN and all), so any difference of any bit shows. */
const text = (r: PipelineResult): string => JSON.stringify(r, (_key, v: unknown) => (v instanceof Float64Array ? Array.from(v, (x) => (Number.isNaN(x) ? 'NaN' : x)) : v));

/** Micro-batches of `size` records in log order (one partition's records keep theirs). */
function decideInBatches(p: DecisionPipeline, records: readonly LogRecord[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < records.length; i += size) for (const r of p.processBatch(records.slice(i, i + size), () => DECIDED_AT)) out.push(text(r));
  return out;
}

/**
 * The straightforward path, one event at a time through the pieces' public faces: validate, the
 * stages' step into a vector of its own, the scorer on a batch of one, the engine.
 */
function decideOneByOne(scorer: Scorer, records: readonly LogRecord[]): string[] {
  const tasks = new StageTasks(DEFAULT_FEATURE_SET, EVENT_TIME, PARTITIONS);
  const engine = new DecisionEngine(RULES);
  const decidedAt = { ms: DECIDED_AT, iso: new Date(DECIDED_AT).toISOString() };
  return records.map((r) => {
    const checked = validateEvent(r.value, { receivedAt: r.acceptedAt });
    if (!checked.ok) return text({ kind: 'dead_letter', letter: { source: 'log', event_id: checked.event_id, payload: JSON.stringify(r.value), errors: checked.errors } });
    const event: RtdsEvent = checked.event;
    const step = tasks.step(event, r.partition);
    if (step === null) return text({ kind: 'duplicate', event_id: event.event_id });
    const [score] = scorer.scoreBatch([step.vector], [event]);
    const decision = engine.decide(
      { event, features: step.vector, score: score!.score, scoreReasons: score!.reasons, modelVersion: scorer.version, degraded: scorer.degraded, late: step.late, acceptedAt: r.acceptedAt },
      decidedAt,
      LISTS,
    );
    const position = { partition: r.partition, offset: r.offset };
    return text({ kind: 'decided', event, decision, features: step.vector, position, shadow: undefined, behindMs: step.behindMs, body_hash: undefined, stage: 0 });
  });
}

describe('the pipeline core on a generated stream', () => {
  const records = stream(4000);
  const scorer = model(records);
  const batched = decideInBatches(pipeline(scorer), records, 512);

  it('covers every path: decided (approved, flagged, rejected, explained, late, partial), re-sends and a dead letter', () => {
    const kinds = new Map<string, number>();
    const count = (k: string): void => void kinds.set(k, (kinds.get(k) ?? 0) + 1);
    for (const line of batched) {
      const r = JSON.parse(line) as { kind: string; decision?: { decision: string; late: boolean; reasons: { code: string }[] } };
      count(r.kind);
      if (r.decision === undefined) continue;
      count(r.decision.decision);
      if (r.decision.late) count('late');
      for (const reason of r.decision.reasons) count(reason.code);
    }
    for (const k of ['decided', 'duplicate', 'dead_letter', 'approved', 'flagged', 'rejected', 'late', 'model_feature', 'burst', 'big_transfer', 'trusted_merchant', 'block_list', 'allow_list'])
      assert.ok((kinds.get(k) ?? 0) > 0, `${k} occurs (${JSON.stringify(Object.fromEntries(kinds))})`);
  });

  it('decides in micro-batches exactly as one event at a time through the straightforward path, byte for byte', () => {
    const single = decideOneByOne(scorer, records);
    assert.equal(batched.length, single.length);
    for (let i = 0; i < single.length; i++) assert.equal(batched[i], single[i], `record ${i}`);
  });

  it('decides alike whatever the micro-batch size', () => {
    for (const size of [3, 64]) assert.deepEqual(decideInBatches(pipeline(scorer), records, size), batched, `micro-batches of ${size}`);
  });

  it('decides as the code before the allocation-free core did (digest of every result, computed at 9216b6d)', () => {
    const digest = createHash('sha256').update(batched.join('\n')).digest('hex');
    assert.equal(digest, GOLDEN);
  });
});

describe('stages run together in one process', () => {
  it('follow the user stage on a re-send: one it no longer remembers is decided again, not refused by a later stage that still does (that threw)', () => {
    const T0 = Date.parse('2026-12-01T00:00:00Z');
    const scorer: Scorer = { version: null, degraded: 'rules_only', scoreBatch: (vectors) => vectors.map(() => ({ score: 0.1, reasons: [] })) };
    const p = new DecisionPipeline({ scorers: [scorer], engine: new DecisionEngine(defaultRuleSet(0.7)), features: DEFAULT_FEATURE_SET, eventTime: { ...EVENT_TIME, dedupeWindowMs: 60_000 } });
    const first = { event_id: 'a', event_type: 'login', timestamp: T0, user_id: 'u1', device_id: 'd1' };
    // The user's next event, 30 minutes on and without a device, moves its stage's watermark past the id; the device's stage sees nothing.
    const later = { event_id: 'b', event_type: 'login', timestamp: T0 + 30 * 60_000, user_id: 'u1' };
    const records = [first, later, first].map((value, offset) => ({ partition: 0, offset, key: 'u1', value, acceptedAt: T0 + 31 * 60_000 }));
    const results = records.map((r) => p.processBatch([r])[0]!);
    assert.deepEqual(
      results.map((r) => (r.kind === 'decided' ? `${r.event.event_id}${r.decision.late ? ' late' : ''}` : r.kind)),
      ['a', 'b', 'a late'],
    );
  });
});

/** sha256 of the results above, joined by newlines, as main at 9216b6d produced them (before this branch's changes). */
const GOLDEN = '65403fe338e398ee038923a9ef771ea2b6dd7fdc9152c3cac6f9eaba252189e4';
