// One contract for every ModelRegistry: run on the folder registry here and on the store's (PostgreSQL, PGlite) in test/store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/index.ts';
import { FeatureSetMismatchError, ModelVersionNotFoundError, NothingToRollBackError, type ModelDraft, type ModelRegistry, type RegistryOptions } from '../../src/score/index.ts';
import { Standardiser } from '../../src/score/preprocess.ts';
import { tensorflow, type Tf } from '../../src/score/tfjs.ts';
import { randomInputs, randomMlp, tfPredict } from './models.ts';
import { syntheticDataset } from './synthetic.ts';

/** How a suite gets registries: each call an empty one; `close` releases what `open` holds. */
export interface RegistryFixture {
  /** Why the suite cannot run here (a service missing), or nothing. */
  open(): Promise<{ skip: string } | undefined>;
  /** An empty registry with these options. */
  empty(options?: RegistryOptions): Promise<ModelRegistry>;
  close(): Promise<void>;
}

export function registryContract(kind: string, fixture: RegistryFixture): void {
  describe(`the model registry contract, ${kind}`, () => {
    let tf: Tf;
    let model: TF.Sequential;
    let skip: string | undefined;
    const d = FEATURE_NAMES.length;
    const standardiser = Standardiser.fit(syntheticDataset(500, 3).x);
    const draft = (featureSet = FEATURE_SET_VERSION, description?: string): ModelDraft => ({
      model,
      metadata: { feature_set_version: featureSet, feature_names: [...FEATURE_NAMES], standardiser: standardiser.toJSON(), metrics: null, training: null, ...(description === undefined ? {} : { description }) },
    });

    before(async () => {
      skip = (await fixture.open())?.skip;
      tf = await tensorflow();
      model = randomMlp(tf, 9, d);
    });
    after(async () => {
      model.dispose();
      await fixture.close();
    });

    it('numbers saved versions v1, v2, …, serves the one activated, and loads it to the saved predictions', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const registry = await fixture.empty();
      assert.equal(await registry.active(), null);
      assert.deepEqual(await registry.list(), []);
      assert.equal(await registry.save(draft(FEATURE_SET_VERSION, 'first')), 'v1');
      assert.equal(await registry.save(draft()), 'v2');
      assert.equal(await registry.active(), null, 'saving does not activate');
      await registry.activate('v2');
      assert.equal(await registry.active(), 'v2');
      await registry.activate('v1');
      assert.equal(await registry.active(), 'v1');
      assert.deepEqual(
        (await registry.list()).map((l) => [l.version, l.active, l.metadata.version, l.metadata.description ?? null]),
        [
          ['v1', true, 'v1', 'first'],
          ['v2', false, 'v2', null],
        ],
      );
      assert.equal((await registry.metadataOf('v1')).description, 'first');
      const loaded = await registry.load('v1');
      assert.equal(loaded.metadata.version, 'v1');
      assert.deepEqual(loaded.metadata.standardiser, standardiser.toJSON());
      const input = randomInputs(32, d, 4);
      assert.deepEqual(tfPredict(tf, loaded.model, input, 32, d), tfPredict(tf, model, input, 32, d));
      loaded.model.dispose();
    });

    it('gives concurrent saves distinct versions, each with its own metadata', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const registry = await fixture.empty();
      const versions = await Promise.all([registry.save(draft()), registry.save(draft()), registry.save(draft())]);
      assert.deepEqual([...versions].sort(), ['v1', 'v2', 'v3']);
      for (const v of versions) assert.equal((await registry.metadataOf(v)).version, v);
      assert.deepEqual(
        (await registry.list()).map((l) => l.version),
        ['v1', 'v2', 'v3'],
      );
    });

    it('refuses to activate or load a version that does not exist or has another feature set', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const registry = await fixture.empty();
      await assert.rejects(registry.activate('v9'), ModelVersionNotFoundError);
      await assert.rejects(registry.load('../one'), ModelVersionNotFoundError);
      await assert.rejects(registry.metadataOf('v9'), ModelVersionNotFoundError);
      const v = await registry.save(draft('user-v0-3'));
      await assert.rejects(registry.activate(v), (e: unknown) => e instanceof FeatureSetMismatchError && e.expected === FEATURE_SET_VERSION && e.actual === 'user-v0-3');
      assert.equal(await registry.active(), null);
      assert.deepEqual(await registry.activations(), []);
      await assert.rejects(registry.load(v), FeatureSetMismatchError);
      assert.equal((await registry.metadataOf(v)).feature_set_version, 'user-v0-3', 'its metadata still reads, whatever the feature set');
    });

    it('rolls back past re-activations of the current version, recording each activation', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const announced: string[] = [];
      const registry = await fixture.empty({ onChanged: async (change) => void announced.push(change.version ?? 'none') });
      for (let i = 0; i < 3; i++) await registry.save(draft());
      await registry.activate('v1');
      await assert.rejects(registry.rollback(), NothingToRollBackError);
      await registry.activate('v2');
      await registry.activate('v3');
      await registry.activate('v3');
      assert.equal(await registry.rollback(), 'v2');
      assert.equal(await registry.active(), 'v2');
      // A rollback is an activation too: rolling back again returns to the version just left.
      assert.equal(await registry.rollback(), 'v3');
      assert.deepEqual(
        (await registry.activations()).map((a) => a.version),
        ['v1', 'v2', 'v3', 'v3', 'v2', 'v3'],
      );
      for (const a of await registry.activations()) assert.ok(!Number.isNaN(Date.parse(a.at)), a.at);
      assert.deepEqual(announced, ['v1', 'v2', 'v3', 'v3', 'v2', 'v3'], 'every activation, rollbacks included, is announced');
    });

    it('names a challenger beside the active version, refuses one it could not serve, and stops it', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const changes: string[] = [];
      const registry = await fixture.empty({ onChanged: async (change) => void changes.push(`${change.kind}:${change.version ?? 'none'}`) });
      assert.equal(await registry.challenger(), null);
      await registry.save(draft());
      await registry.save(draft());
      const other = await registry.save(draft('user-v0-3'));
      await registry.activate('v1');
      await registry.setChallenger('v2');
      assert.equal(await registry.challenger(), 'v2');
      assert.equal(await registry.active(), 'v1', 'the active version is untouched');
      await assert.rejects(registry.setChallenger('v9'), ModelVersionNotFoundError);
      await assert.rejects(registry.setChallenger(other), FeatureSetMismatchError);
      assert.equal(await registry.challenger(), 'v2', 'a refused challenger changes nothing');
      await registry.setChallenger(null);
      assert.equal(await registry.challenger(), null);
      assert.deepEqual(changes, ['active:v1', 'challenger:v2', 'challenger:none']);
    });
  });
}
