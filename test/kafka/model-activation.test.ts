import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/index.ts';
import { Standardiser, tensorflow } from '../../src/score/index.ts';
import { openDatabase, StoreRegistry } from '../../src/store/index.ts';
import { openKafkaTestbed, type KafkaTestbed } from '../support/kafka.ts';
import { randomMlp } from '../score/models.ts';
import { syntheticDataset } from '../score/synthetic.ts';

const T0 = Date.parse('2026-11-26T10:00:00Z');

describe('a model activated through one process, on Kafka with the registry in the store', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let api: RunningApp;
  let processor: RunningApp;
  /** The next version the processor process switches to. */
  const nextSwitch = (): Promise<string | null> => new Promise((resolve) => processor.onModelSwitched(resolve));
  const post = (path: string, body?: unknown): Promise<Response> =>
    fetch(`${api.url}${path}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });

  before(async () => {
    const opened = await openKafkaTestbed(2);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    // Two versions in the store, v1 active, before any process starts.
    const db = await openDatabase({ databaseUrl: bed.db.url, dataDir: bed.dataDir });
    const registry = new StoreRegistry(db);
    const tf = await tensorflow();
    const standardiser = Standardiser.fit(syntheticDataset(200, 1).x).toJSON();
    for (const seed of [1, 2]) {
      const model = randomMlp(tf, seed, FEATURE_NAMES.length);
      await registry.save({ model, metadata: { feature_set_version: FEATURE_SET_VERSION, feature_names: [...FEATURE_NAMES], standardiser, metrics: null, training: null } });
      model.dispose();
    }
    await registry.activate('v1');
    await db.close();
    // No poll within the test: only the control topic can tell the processor of an activation.
    const config = bed.config({ modelPollMs: 600_000, modelRegistry: 'store' });
    processor = await startApp(config, { roles: { api: false, processor: true } });
    api = await startApp({ ...config, decideTimeoutMs: 30_000 }, { roles: { api: true, processor: false } });
  });
  after(async () => {
    if (skip !== undefined) return;
    await api.stop();
    await processor.stop();
    await bed.close();
  });

  // Bounded: without the announcement the switch would wait for the (disabled) poll.
  it('makes the processor process serve it at once, by the control topic, and the same for a rollback', { timeout: 30_000 }, async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.equal(processor.pipeline.modelVersion, 'v1');
    const switched = nextSwitch();
    const activated = await post('/api/v1/models/v2/activate');
    assert.equal(activated.status, 200);
    assert.deepEqual(await activated.json(), { active: 'v2', served: 'v2' });
    assert.equal(await switched, 'v2');
    assert.equal(processor.pipeline.modelVersion, 'v2');
    // The processor, not the API process, decides: its decisions carry the new version.
    const decided = await post('/api/v1/decide', { event_id: 'after-activation', event_type: 'transaction', timestamp: T0, user_id: 'u1', amount: 42 });
    assert.equal(decided.status, 200);
    assert.equal(((await decided.json()) as { model_version: string }).model_version, 'v2');

    const rolledBack = nextSwitch();
    assert.deepEqual(await (await post('/api/v1/models/rollback')).json(), { active: 'v1', served: 'v1' });
    assert.equal(await rolledBack, 'v1');
    assert.equal(processor.pipeline.modelVersion, 'v1');
  });
});
