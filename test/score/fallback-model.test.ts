import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { trainOnGeneratedHistory, type TrainingOutcome } from '../../src/app/training.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { DecisionPipeline } from '../../src/process/index.ts';
import {
  CircuitBreaker,
  DenseNetwork,
  fallbackFromNetwork,
  fallbackScorer,
  FolderRegistry,
  rocAuc,
  serveActiveModel,
  Standardiser,
  tensorflow,
  trainModel,
  type ModelMetadata,
} from '../../src/score/index.ts';
import { maxAbsDiff, tfPredict } from './models.ts';
import { ScriptedModel } from './scripted-model.ts';
import { syntheticDataset } from './synthetic.ts';

const events = (n: number): RtdsEvent[] => Array.from({ length: n }, (_, i) => ({ event_id: `e${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u' }));

describe('the fallback model', () => {
  it('is a logistic regression that learns the risk and scores as TensorFlow.js does', async () => {
    const train = syntheticDataset(6000, 11);
    const heldOut = syntheticDataset(3000, 12);
    const trained = await trainModel(train.x, train.y, { hidden: [], epochs: 6, learningRate: 1e-2, seed: 3 });
    try {
      assert.equal(trained.model.layers.length, 1, 'one sigmoid unit');
      const json = fallbackFromNetwork(DenseNetwork.fromLayersModel(trained.model), null);
      const scorer = fallbackScorer(json, 'v9', trained.standardiser);
      assert.equal(scorer.version, 'v9-fallback');
      assert.equal(scorer.degraded, 'fallback_model');
      const scores = scorer.scoreBatch(heldOut.x, events(heldOut.x.length)).map((s) => s.score);
      const auc = rocAuc(scores, heldOut.y);
      assert.ok(auc >= 0.85, `held-out ROC-AUC ${auc}`);
      const tf = await tensorflow();
      const reference = tfPredict(tf, trained.model, trained.standardiser.applyAll(heldOut.x), heldOut.x.length, trained.standardiser.size);
      assert.ok(maxAbsDiff(scores, reference) <= 1e-5, `differs from tfjs by ${maxAbsDiff(scores, reference)}`);
    } finally {
      trained.model.dispose();
    }
  });

  it('refuses weights that do not fit the standardiser', () => {
    const standardiser = Standardiser.fit(syntheticDataset(200, 1).x);
    assert.throws(() => fallbackScorer({ kind: 'logistic_regression', weights: [1, 2], bias: 0, metrics: null }, 'v1', standardiser), /logistic regression with \d+ finite weights/);
  });

  describe('trained alongside the MLP and served beneath it', () => {
    let dir: string;
    let registry: FolderRegistry;
    let outcome: TrainingOutcome;
    const config = loadConfig({ trainOnStart: false }, {});

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'rtds-fallback-'));
      registry = new FolderRegistry(dir);
      outcome = await trainOnGeneratedHistory({ registry, events: 6000, seed: 4, epochs: 2, hidden: [16, 8], features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: [0.5, 0.7] });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('is saved with the model (an MLP of the architecture asked for) and its held-out metrics', async () => {
      const artifact = await registry.load(outcome.version);
      assert.deepEqual(
        DenseNetwork.fromLayersModel(artifact.model)
          .weights()
          .map((l) => l.outputSize),
        [16, 8, 1],
      );
      artifact.model.dispose();
      const { fallback, description } = await registry.metadataOf(outcome.version);
      assert.match(description ?? '', /^MLP 16-8-1 on /);
      assert.equal(fallback?.kind, 'logistic_regression');
      assert.equal(fallback.weights.length, DEFAULT_FEATURE_SET.names.length);
      assert.deepEqual(fallback.metrics, outcome.fallbackTest);
      assert.equal(outcome.fallbackTest.rows, outcome.test.rows, 'judged on the same held-out period as the MLP');
      assert.ok(outcome.fallbackTest.roc_auc > 0.8, `fallback ROC-AUC ${outcome.fallbackTest.roc_auc}`);
    });

    it('steps in while the circuit is open, records its version, and hands back when the model recovers', async () => {
      const served = await serveActiveModel(registry);
      assert.deepEqual(
        served.ladder.map((s) => [s.version, s.degraded]),
        [
          [outcome.version, 'none'],
          [`${outcome.version}-fallback`, 'fallback_model'],
          [null, 'rules_only'],
        ],
      );
      const clock = { ms: 0 };
      const model = new ScriptedModel(clock, served.ladder[0]);
      const breaker = new CircuitBreaker(model, { budgetMsPerEvent: 1, failures: 1, cooldownMs: 1000, now: () => clock.ms });
      const pipeline = new DecisionPipeline({ scorers: [breaker, ...served.ladder.slice(1)], engine: new DecisionEngine(defaultRuleSet(0.7)), features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config) });
      const T0 = Date.parse('2026-11-26T12:00:00Z');
      let offset = 0;
      const decide = () =>
        pipeline.processBatch(
          Array.from({ length: 4 }, () => {
            const k = offset++;
            return { partition: 0, offset: k, key: 'ann', acceptedAt: 0, value: { event_id: `fb-${k}`, event_type: 'transaction', timestamp: T0 + k * 1000, user_id: 'ann', amount: 10 + k } as unknown as RtdsEvent };
          }),
        ).map((r) => {
          assert.equal(r.kind, 'decided');
          return r.kind === 'decided' ? [r.decision.model_version, r.decision.degraded, r.decision.reasons[0]?.message.split(' scored')[0]] : [];
        });
      const byModel = [outcome.version, 'none', `model ${outcome.version}`];
      const byFallback = [`${outcome.version}-fallback`, 'fallback_model', `model ${outcome.version}-fallback`];

      assert.deepEqual(decide(), Array(4).fill(byModel));
      model.mode = 'slow';
      assert.deepEqual(decide(), Array(4).fill(byModel), 'a slow batch’s scores stand, and open the circuit');
      assert.deepEqual(decide(), Array(4).fill(byFallback), 'open: the logistic regression decides');
      model.mode = 'failing';
      clock.ms += 1000;
      assert.deepEqual(decide(), Array(4).fill(byFallback), 'the trial batch fails: the fallback decides it too');
      model.mode = 'healthy';
      clock.ms += 1000;
      assert.deepEqual(decide(), Array(4).fill(byModel), 'recovered');
    });

    it('is left out, with a warning, when broken, and the model still serves', async () => {
      const file = path.join(dir, outcome.version, 'metadata.json');
      const metadata = JSON.parse(await readFile(file, 'utf8')) as ModelMetadata;
      await writeFile(file, JSON.stringify({ ...metadata, fallback: { ...metadata.fallback, weights: [0.5] } }));
      const warnings: string[] = [];
      const served = await serveActiveModel(registry, { log: (m) => warnings.push(m) });
      assert.equal(served.problem, null);
      assert.deepEqual(
        served.ladder.map((s) => s.degraded),
        ['none', 'rules_only'],
      );
      assert.match(warnings.join('\n'), /without its fallback/);
    });
  });
});
