import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openModelRegistry, RegistryDatabaseMissingError, registryKind } from '../../src/app/model-registry.ts';
import { loadConfig } from '../../src/config/index.ts';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/index.ts';
import { ArtifactError, FolderRegistry, Standardiser } from '../../src/score/index.ts';
import { openDatabase, StoreRegistry, type Database } from '../../src/store/index.ts';
import { registryContract, type RegistryFixture } from '../score/registry-contract.ts';
import { syntheticDataset } from '../score/synthetic.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

/** The contract on one database: each registry starts from emptied tables. */
function storeFixture(open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): RegistryFixture {
  let db: Database | undefined;
  return {
    async open() {
      const opened = await open();
      if ('skip' in opened) return opened;
      db = opened;
      return undefined;
    },
    async empty(options) {
      await db!.query('TRUNCATE model_activations, model_challengers, models');
      return new StoreRegistry(db!, options);
    },
    async close() {
      await db?.close();
      await cleanup();
    },
  };
}

let postgres: TestDatabase | undefined;
registryContract(
  'in PostgreSQL',
  storeFixture(
    async () => {
      const created = await createTestDatabase();
      if ('skip' in created) return created;
      postgres = created;
      return openDatabase({ databaseUrl: created.url, dataDir: '' });
    },
    async () => postgres?.drop(),
  ),
);

const embeddedDir = mkdtempSync(path.join(tmpdir(), 'rtds-store-registry-'));
registryContract(
  'in embedded PGlite',
  storeFixture(
    () => openDatabase({ dataDir: embeddedDir }),
    async () => rmSync(embeddedDir, { recursive: true, force: true }),
  ),
);

describe('the store registry on stored rows it did not write', () => {
  let db: Database | undefined;
  let test: TestDatabase | undefined;
  let skip: string | undefined;
  before(async () => {
    const created = await createTestDatabase();
    if ('skip' in created) return void (skip = created.skip);
    test = created;
    db = await openDatabase({ databaseUrl: created.url, dataDir: '' });
  });
  after(async () => {
    await db?.close();
    await test?.drop();
  });

  it('leaves out of the list a version whose metadata is not an artifact, and refuses to load a model.json without topology', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const metadata = { format: 'rtds-model/1', version: 'v2', created_at: new Date(0).toISOString(), feature_set_version: FEATURE_SET_VERSION, feature_names: [...FEATURE_NAMES], standardiser: Standardiser.fit(syntheticDataset(50, 1).x).toJSON(), metrics: null, training: null };
    const insert = 'INSERT INTO models (version, number, metadata, model_json, weights) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5)';
    await db!.query(insert, ['v1', 1, JSON.stringify({ format: 'something else' }), '{}', Buffer.alloc(0)]);
    await db!.query(insert, ['v2', 2, JSON.stringify(metadata), JSON.stringify({ format: 'layers-model' }), Buffer.alloc(0)]);
    const registry = new StoreRegistry(db!);
    assert.deepEqual(
      (await registry.list()).map((l) => l.version),
      ['v2'],
    );
    await assert.rejects(registry.load('v2'), (e: unknown) => e instanceof ArtifactError && /has no modelTopology/.test(e.message));
    await assert.rejects(registry.activate('v1'), (e: unknown) => e instanceof ArtifactError && /not an rtds-model\/1 artifact/.test(e.message));
  });
});

describe('choosing the model registry (RTDS_MODEL_REGISTRY)', () => {
  it('is the store with a PostgreSQL URL, the folder with embedded PGlite, unless set', () => {
    assert.equal(registryKind(loadConfig({}, {})), 'folder');
    assert.equal(registryKind(loadConfig({}, { RTDS_DATABASE_URL: 'postgres://x/y' })), 'store');
    assert.equal(registryKind(loadConfig({}, { RTDS_DATABASE_URL: 'postgres://x/y', RTDS_MODEL_REGISTRY: 'folder' })), 'folder');
    assert.equal(registryKind(loadConfig({}, { RTDS_MODEL_REGISTRY: 'store' })), 'store');
    assert.throws(() => loadConfig({}, { RTDS_MODEL_REGISTRY: 'cloud' }), /RTDS_MODEL_REGISTRY="cloud": must be one of auto, folder, store/);
  });

  it('opens the folder registry alone, and asks for the database when the registry is in the store', () => {
    const config = loadConfig({ modelDir: '/tmp/rtds-models-unused' }, {});
    assert.ok(openModelRegistry(config, FEATURE_SET_VERSION) instanceof FolderRegistry);
    assert.throws(() => openModelRegistry(loadConfig({}, { RTDS_MODEL_REGISTRY: 'store' }), FEATURE_SET_VERSION), RegistryDatabaseMissingError);
  });
});
