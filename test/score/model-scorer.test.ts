import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { FEATURES, featureIndex } from '../../src/features/index.ts';
import { DenseNetwork } from '../../src/score/dense-network.ts';
import { ModelScorer, ScoringInputError } from '../../src/score/model-scorer.ts';
import { Standardiser } from '../../src/score/preprocess.ts';
import { tensorflow, type Tf } from '../../src/score/tfjs.ts';
import { maxAbsDiff, randomMlp, tfPredict } from './models.ts';
import { syntheticDataset } from './synthetic.ts';

const events = (n: number): RtdsEvent[] =>
  Array.from({ length: n }, (_, i) => ({ event_id: `e${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u' }));

describe('ModelScorer', () => {
  let tf: Tf;
  let model: TF.Sequential;
  let network: DenseNetwork;
  const d = FEATURES.length;
  const { x } = syntheticDataset(2000, 5);
  const standardiser = Standardiser.fit(x);

  before(async () => {
    tf = await tensorflow();
    model = randomMlp(tf, 12, d);
    network = DenseNetwork.fromLayersModel(model);
  });
  after(() => model.dispose());

  it('reports the artifact version and no degradation, with a model_score reason per event', () => {
    const scorer = new ModelScorer('v7', network, standardiser);
    assert.equal(scorer.version, 'v7');
    assert.equal(scorer.degraded, 'none');
    const [s] = scorer.scoreBatch([x[0]!], events(1));
    assert.deepEqual(s!.reasons[0], { code: 'model_score', source: 'model', message: `model v7 scored ${s!.score.toFixed(2)}` });
  });

  it('scores a batch exactly as tfjs predicts on the standardised vectors', () => {
    const scorer = new ModelScorer('v1', network, standardiser);
    const batch = x.slice(0, 300); // larger than the scorer's first buffers
    const scores = scorer.scoreBatch(batch, events(batch.length)).map((s) => s.score);
    const expected = tfPredict(tf, model, standardiser.applyAll(batch), batch.length, d);
    assert.ok(maxAbsDiff(scores, expected) < 1e-5);
  });

  it('names at most two features, each with the rise it causes over the training mean', () => {
    const scorer = new ModelScorer('v1', network, standardiser, { explainFrom: 0, minRise: 0 });
    const batch = x.slice(0, 50);
    const scores = scorer.scoreBatch(batch, events(batch.length));
    let named = 0;
    scores.forEach((s, i) => {
      const features = s.reasons.filter((r) => r.code === 'model_feature');
      assert.ok(features.length <= 2);
      let previousRise = Infinity;
      for (const r of features) {
        assert.equal(r.source, 'model');
        const m = /^(\w+) = (\S+) raised the score by (\d+\.\d\d)$/.exec(r.message);
        assert.ok(m, r.message);
        const [, name, , rise] = m;
        const f = featureIndex(name!);
        // Put that feature at its training mean and score again: the drop is the rise reported.
        const edited = Float64Array.from(batch[i]!);
        edited[f] = standardiser.transforms[f] === 'log1p' ? Math.expm1(standardiser.mean[f]!) : standardiser.mean[f]!;
        const [again] = new ModelScorer('v1', network, standardiser).scoreBatch([edited], events(1));
        assert.ok(Math.abs(s.score - again!.score - Number(rise)) <= 0.0051, `${r.message}: actual drop ${s.score - again!.score}`);
        assert.ok(Number(rise) <= previousRise, 'largest rise first');
        previousRise = Number(rise);
        named++;
      }
    });
    assert.ok(named > 0);
  });

  it('names, with gradient-picked candidates, the same top feature as exhaustive occlusion for most events', () => {
    const fast = new ModelScorer('v1', network, standardiser, { explainFrom: 0 });
    const exact = new ModelScorer('v1', network, standardiser, { explainFrom: 0, candidates: 0 });
    const top = (s: ModelScorer): string[] => s.scoreBatch(x, events(x.length)).map((r) => r.reasons[1]?.message.split(' ')[0] ?? '');
    const a = top(fast);
    const b = top(exact);
    const named = b.filter((n) => n !== '').length;
    const same = b.filter((n, i) => n !== '' && n === a[i]).length;
    assert.ok(named > 100);
    assert.ok(same / named >= 0.85, `same top feature for ${same} of ${named}`);
  });

  it('does not explain a score below 0.5', () => {
    const scorer = new ModelScorer('v1', network, standardiser, { minRise: 0 });
    const scores = scorer.scoreBatch(x, events(x.length));
    const low = scores.filter((s) => s.score < 0.5);
    assert.ok(low.length > 0);
    for (const s of low) assert.deepEqual(s.reasons.map((r) => r.code), ['model_score']);
  });

  it('never names an indicator feature that is off', () => {
    const scorer = new ModelScorer('v1', network, standardiser, { explainFrom: 0, minRise: 0 });
    let checked = 0;
    for (const [i, s] of scorer.scoreBatch(x, events(x.length)).entries()) {
      for (const r of s.reasons.filter((r) => r.code === 'model_feature')) {
        const f = featureIndex(r.message.split(' ')[0]!);
        if (standardiser.binary[f]) {
          assert.equal(x[i]![f], 1, r.message);
          checked++;
        }
      }
    }
    assert.ok(checked > 0, 'some indicator that is on was named');
  });

  it('throws a ScoringInputError naming the event when a vector has the wrong length', () => {
    const scorer = new ModelScorer('v1', network, standardiser);
    assert.throws(
      () => scorer.scoreBatch([new Float64Array(3)], events(1)),
      (e: unknown) => e instanceof ScoringInputError && e.eventId === 'e0',
    );
  });
});
