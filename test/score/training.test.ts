import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { comparisonLine } from '../../src/app/activation-guard.ts';
import { generatedHistory, trainOnHistory, type LabelledHistory, type TrainingSettings } from '../../src/app/training.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { draftFromTraining } from '../../src/score/artifact.ts';
import { FolderRegistry } from '../../src/score/folder-registry.ts';
import { DenseNetwork } from '../../src/score/dense-network.ts';
import { rocAuc } from '../../src/score/evaluation.ts';
import { serveActiveModel } from '../../src/score/load-scorer.ts';
import { seededRandom, trainModel, type EpochProgress, type TrainedModel } from '../../src/score/mlp.ts';
import { ModelScorer } from '../../src/score/model-scorer.ts';
import { RulesOnlyScorer } from '../../src/score/rules-only-scorer.ts';
import { syntheticDataset } from './synthetic.ts';

const events = (n: number): RtdsEvent[] =>
  Array.from({ length: n }, (_, i) => ({ event_id: `e${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u' }));

function weightsOf(t: TrainedModel): number[] {
  return DenseNetwork.fromLayersModel(t.model)
    .weights()
    .flatMap((l) => [...l.kernel, ...l.bias]);
}

describe('training the MLP', () => {
  const train = syntheticDataset(8000, 1);
  const heldOut = syntheticDataset(4000, 2);
  const progress: EpochProgress[] = [];
  let trained: TrainedModel;
  let tmp: string;

  before(async () => {
    trained = await trainModel(train.x, train.y, { epochs: 8, batchSize: 128, seed: 7, onEpoch: (p) => progress.push(p) });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rtds-score-training-'));
  });
  after(async () => {
    trained.model.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('reaches ROC-AUC ≥ 0.9 on held-out synthetic traffic where fraud depends on the features', () => {
    const scorer = new ModelScorer('t', DenseNetwork.fromLayersModel(trained.model), trained.standardiser);
    const scores = scorer.scoreBatch(heldOut.x, events(heldOut.x.length)).map((s) => s.score);
    const auc = rocAuc(scores, heldOut.y);
    assert.ok(auc >= 0.9, `held-out AUC ${auc}`);
  });

  it('reports progress each epoch and metrics on its stratified validation split', () => {
    assert.deepEqual(
      progress.map((p) => p.epoch),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.ok(progress.every((p) => Number.isFinite(p.loss) && Number.isFinite(p.val_loss) && p.epochs === 8));
    assert.ok(progress[7]!.loss < progress[0]!.loss, 'loss falls');
    const { info, metrics } = trained;
    assert.equal(info.rows, 8000);
    assert.equal(info.train_rows + info.validation_rows, 8000);
    assert.equal(info.validation_rows, 1600);
    assert.equal(info.backend, 'wasm');
    const fraud = train.y.reduce((a, b) => a + b, 0);
    assert.equal(metrics?.positives, Math.round(fraud * 0.2), 'one fifth of each class is held out');
    assert.ok(metrics!.roc_auc >= 0.9, `validation AUC ${metrics!.roc_auc}`);
    assert.ok(info.class_weight.positive > 10 * info.class_weight.negative, 'the rare class is weighted up');
  });

  it('trains to identical weights twice with the same seed', async () => {
    const small = syntheticDataset(1200, 3);
    const a = await trainModel(small.x, small.y, { epochs: 2, batchSize: 128, seed: 5 });
    const b = await trainModel(small.x, small.y, { epochs: 2, batchSize: 128, seed: 5 });
    const c = await trainModel(small.x, small.y, { epochs: 2, batchSize: 128, seed: 6 });
    assert.deepEqual(weightsOf(a), weightsOf(b));
    assert.notDeepEqual(weightsOf(a), weightsOf(c));
    for (const t of [a, b, c]) t.model.dispose();
  });

  it('scores the rare class higher with balanced class weights than without', async () => {
    const small = syntheticDataset(3000, 4);
    const mean = (t: TrainedModel): number => {
      let sum = 0;
      let n = 0;
      t.validation.labels.forEach((l, i) => {
        if (l === 1) {
          sum += t.validation.scores[i]!;
          n++;
        }
      });
      return sum / n;
    };
    const none = await trainModel(small.x, small.y, { epochs: 3, batchSize: 128, classWeight: 'none' });
    const balanced = await trainModel(small.x, small.y, { epochs: 3, batchSize: 128, classWeight: 'balanced' });
    assert.ok(mean(balanced) > mean(none) + 0.1, `fraud mean score ${mean(balanced)} vs ${mean(none)} unweighted`);
    none.model.dispose();
    balanced.model.dispose();
  });

  it('serves a trained, saved and activated model with its version, else falls back to rules only', async () => {
    const registry = new FolderRegistry(path.join(tmp, 'models'));
    const none = await serveActiveModel(registry);
    assert.ok(none.scorer instanceof RulesOnlyScorer);
    assert.equal(none.problem, null);

    const version = await registry.save(draftFromTraining(trained, 'test model'));
    await registry.activate(version);
    const served = await serveActiveModel(registry);
    assert.equal(served.problem, null);
    assert.equal(served.scorer.version, version);
    assert.equal(served.ladder.length, 2);
    assert.equal(served.metadata?.training?.epochs, 8);
    assert.equal(served.metadata?.description, 'test model');
    const direct = new ModelScorer(version, DenseNetwork.fromLayersModel(trained.model), trained.standardiser);
    const batch = heldOut.x.slice(0, 64);
    assert.deepEqual(
      served.scorer.scoreBatch(batch, events(64)).map((s) => s.score),
      direct.scoreBatch(batch, events(64)).map((s) => s.score),
    );
  });
});

describe('a training run activates only a model that does as well as the active one', () => {
  const config = loadConfig({ trainOnStart: false }, {});
  const settings = (registry: FolderRegistry): TrainingSettings => ({
    registry,
    seed: 3,
    epochs: 2,
    features: DEFAULT_FEATURE_SET,
    eventTime: eventTimeOptions(config),
    partitions: config.partitions,
    thresholds: [0.5, 0.7],
  });
  // 3,000 labelled events of 400 users (ROC-AUC ≈ 0.88 after 2 epochs): the last 600 are the held-out period.
  const history = generatedHistory(3000, 1, 400);
  const heldOut = new Set(history.events.slice(2400).map((e) => e.event_id));
  const random = seededRandom(8);
  // The same events, the held-out verdicts true but the earlier ones drawn at random: a model that learnt nothing, judged on true verdicts.
  const unlearnable: LabelledHistory = {
    events: history.events,
    labels: new Map([...history.labels].map(([id, label]) => [id, heldOut.has(id) ? label : { ...label, is_fraud: random() < 0.1 }])),
    description: 'verdicts at random before the held-out period',
  };
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rtds-activation-guard-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps the active model when the new one ranks the same held-out events worse, even above the floor', async () => {
    const registry = new FolderRegistry(path.join(dir, 'worse'));
    const first = await trainOnHistory(history, settings(registry));
    assert.equal(first.activated, true);
    assert.equal(first.verdict.active, null, 'nothing to compare with');

    const second = await trainOnHistory(unlearnable, { ...settings(registry), minAuc: 0 });
    assert.equal(second.version, 'v2');
    assert.equal(second.activated, false);
    const active = second.verdict.active;
    assert.ok(active !== null && 'roc_auc' in active);
    // Scored through the serving path on the same rows and verdicts as v1's own held-out figure.
    assert.equal(active.version, 'v1');
    assert.ok(Math.abs(active.roc_auc - first.test.roc_auc) < 1e-9, `${active.roc_auc} vs ${first.test.roc_auc}`);
    assert.ok(second.test.roc_auc < active.roc_auc);
    assert.match(second.verdict.refusal ?? '', /^held-out ROC-AUC 0\.\d{4} is below the active model v1's 0\.\d{4} on the same events$/);
    assert.equal(await registry.active(), 'v1');
    assert.deepEqual(
      (await registry.list()).map((l) => l.version),
      ['v1', 'v2'],
    );
  });

  it('applies the floor alone when the active model was built on another feature set, and says so', async () => {
    const folder = path.join(dir, 'other-set');
    const small = syntheticDataset(600, 9);
    const other = await trainModel(small.x, small.y, { epochs: 1, batchSize: 128 });
    const anySet = new FolderRegistry(folder, { featureSetVersion: null });
    await anySet.activate(await anySet.save(draftFromTraining(other, 'another feature set', 'other-set-v1')));
    other.model.dispose();

    const registry = new FolderRegistry(folder);
    const outcome = await trainOnHistory(history, settings(registry));
    assert.deepEqual(outcome.verdict.active, { version: 'v1', incomparable: `it was trained on feature set "other-set-v1", this model on "${DEFAULT_FEATURE_SET.version}"` });
    assert.match(comparisonLine(outcome.verdict) ?? '', /^the active model v1 cannot be compared: .*; only the floor \(ROC-AUC 0\.6000\) applies$/);
    assert.equal(outcome.activated, true);
    assert.equal(await registry.active(), 'v2');
  });
});
