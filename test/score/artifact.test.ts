import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/index.ts';
import { FeatureSetMismatchError, type ModelDraft, type ModelMetadata } from '../../src/score/artifact.ts';
import { loadArtifact, saveArtifact } from '../../src/score/artifact-folder.ts';
import { FolderRegistry } from '../../src/score/folder-registry.ts';
import { DenseNetwork } from '../../src/score/dense-network.ts';
import { Standardiser } from '../../src/score/preprocess.ts';
import { tensorflow, type Tf } from '../../src/score/tfjs.ts';
import { maxAbsDiff, randomInputs, randomMlp, tfPredict } from './models.ts';
import { syntheticDataset } from './synthetic.ts';

describe('model artifacts in folders', () => {
  let tf: Tf;
  let model: TF.Sequential;
  let tmp: string;
  const d = FEATURE_NAMES.length;
  const standardiser = Standardiser.fit(syntheticDataset(500, 3).x);

  const draft = (featureSet = FEATURE_SET_VERSION): ModelDraft => ({
    model,
    metadata: {
      feature_set_version: featureSet,
      feature_names: [...FEATURE_NAMES],
      standardiser: standardiser.toJSON(),
      metrics: null,
      training: null,
    },
  });
  const metadata = (version: string, featureSet = FEATURE_SET_VERSION): ModelMetadata => ({
    ...draft(featureSet).metadata,
    format: 'rtds-model/1',
    version,
    created_at: new Date(0).toISOString(),
  });

  before(async () => {
    tf = await tensorflow();
    model = randomMlp(tf, 9, d);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rtds-score-artifact-'));
  });
  after(async () => {
    model.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('saves model.json, weights.bin and metadata.json, and loads to identical predictions', async () => {
    const dir = path.join(tmp, 'one');
    await saveArtifact(dir, { model, metadata: metadata('v1') });
    assert.deepEqual((await readdir(dir)).sort(), ['metadata.json', 'model.json', 'weights.bin']);
    const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as TF.io.ModelJSON;
    assert.equal(modelJson.format, 'layers-model');
    assert.deepEqual(modelJson.weightsManifest[0]!.paths, ['./weights.bin']);

    const loaded = await loadArtifact(dir);
    assert.equal(loaded.metadata.version, 'v1');
    assert.deepEqual(loaded.metadata.standardiser, standardiser.toJSON());
    const input = randomInputs(32, d, 4);
    assert.deepEqual(tfPredict(tf, loaded.model, input, 32, d), tfPredict(tf, model, input, 32, d));
    const a = new Float32Array(32);
    const b = new Float32Array(32);
    DenseNetwork.fromLayersModel(loaded.model).predict(input, a, 32);
    DenseNetwork.fromLayersModel(model).predict(input, b, 32);
    assert.deepEqual(a, b);
    loaded.model.dispose();
  });

  it('loads weights split over several shards, as tensorflowjs_converter writes them', async () => {
    const dir = path.join(tmp, 'sharded');
    await saveArtifact(dir, { model, metadata: metadata('v1') });
    const bytes = await readFile(path.join(dir, 'weights.bin'));
    const cut = 4 * 100;
    await writeFile(path.join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, cut));
    await writeFile(path.join(dir, 'group1-shard2of2.bin'), bytes.subarray(cut));
    await rm(path.join(dir, 'weights.bin'));
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as TF.io.ModelJSON;
    json.weightsManifest[0]!.paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    const loaded = await loadArtifact(dir);
    const input = randomInputs(8, d, 5);
    assert.deepEqual(tfPredict(tf, loaded.model, input, 8, d), tfPredict(tf, model, input, 8, d));
    loaded.model.dispose();
  });

  it('loads a Keras Sequential model as tensorflowjs_converter writes it (InputLayer, snake_case config)', async () => {
    const dir = path.join(tmp, 'keras');
    await mkdir(dir);
    const dense = DenseNetwork.fromLayersModel(model).weights();
    const layers: object[] = [{ class_name: 'InputLayer', config: { batch_input_shape: [null, d], dtype: 'float32', sparse: false, name: 'dense_input' } }];
    const specs: object[] = [];
    const shards: Buffer[] = [];
    dense.forEach((l, k) => {
      const name = k === 0 ? 'dense' : `dense_${k}`;
      layers.push({ class_name: 'Dense', config: { name, trainable: true, dtype: 'float32', units: l.outputSize, activation: l.activation, use_bias: true } });
      if (k < 2) layers.push({ class_name: 'Dropout', config: { name: `dropout_${k}`, trainable: true, dtype: 'float32', rate: 0.2, noise_shape: null, seed: null } });
      specs.push({ name: `${name}/kernel`, shape: [l.inputSize, l.outputSize], dtype: 'float32' }, { name: `${name}/bias`, shape: [l.outputSize], dtype: 'float32' });
      shards.push(Buffer.from(l.kernel.buffer, l.kernel.byteOffset, l.kernel.byteLength), Buffer.from(l.bias.buffer, l.bias.byteOffset, l.bias.byteLength));
    });
    const modelJson = {
      format: 'layers-model',
      generatedBy: 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: { class_name: 'Sequential', config: { name: 'sequential', layers } } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
    };
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
    await writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(shards));
    await writeFile(path.join(dir, 'metadata.json'), JSON.stringify(metadata('v1')));
    const loaded = await loadArtifact(dir);
    const input = randomInputs(16, d, 6);
    const a = new Float32Array(16);
    const b = new Float32Array(16);
    DenseNetwork.fromLayersModel(loaded.model).predict(input, a, 16);
    DenseNetwork.fromLayersModel(model).predict(input, b, 16);
    assert.deepEqual(a, b);
    assert.ok(maxAbsDiff(tfPredict(tf, loaded.model, input, 16, d), b) < 1e-5);
    loaded.model.dispose();
  });

  it('refuses a model trained on another feature set with a FeatureSetMismatchError', async () => {
    const dir = path.join(tmp, 'old-features');
    await saveArtifact(dir, { model, metadata: metadata('v1', 'user-v0-3') });
    await assert.rejects(loadArtifact(dir), (e: unknown) => {
      assert.ok(e instanceof FeatureSetMismatchError);
      assert.equal(e.expected, FEATURE_SET_VERSION);
      assert.equal(e.actual, 'user-v0-3');
      assert.match(e.message, /retrain/);
      return true;
    });
  });

  it('saves each version as an artifact folder, leaving no temp folder behind', async () => {
    const registry = new FolderRegistry(path.join(tmp, 'concurrent'));
    const versions = await Promise.all([registry.save(draft()), registry.save(draft()), registry.save(draft())]);
    for (const v of versions) {
      const m = JSON.parse(await readFile(path.join(registry.dir, v, 'metadata.json'), 'utf8')) as ModelMetadata;
      assert.equal(m.version, v);
    }
    assert.deepEqual((await readdir(registry.dir)).sort(), ['v1', 'v2', 'v3']);
  });
});
