import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FEATURE_SET, FeatureSpecError, loadFeatureSet } from '../../src/features/index.ts';
import { FolderRegistry, serveActiveModel } from '../../src/score/index.ts';

const SPECS = `
features:
  - name: merchant_tx_10m
    entity: [user_id, merchant_id]
    filter: { event_type: transaction }
    window: { kind: hopping, size: 10m, hop: 1m }
    aggregate: count
  - name: amount_max_1h
    entity: user_id
    window: { kind: tumbling, size: 1h }
    aggregate: max
    field: amount
    default: -1
  - name: big_vs_max
    expression: if amount >= amount_max_1h and amount > 100 then 1 else 0
`;

describe('a feature set from RTDS_FEATURES_FILE', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-features-'));
    file = path.join(dir, 'features.yaml');
    writeFileSync(file, SPECS);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a broken file naming the file, the path and the reason', () => {
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, SPECS.replace('size: 10m, hop: 1m', 'size: 10m, hop: 3m'));
    assert.throws(() => loadFeatureSet(broken), (err: unknown) => err instanceof FeatureSpecError && err.path === `${broken}: features[0].window.hop` && /whole number of hops/.test(err.reason));
    assert.throws(() => loadFeatureSet(path.join(dir, 'missing.yaml')), (err: unknown) => err instanceof FeatureSpecError && /cannot read/.test(err.reason));
  });

  describe('running the app', () => {
    let app: RunningApp;
    before(async () => {
      app = await startApp(loadConfig({ dataDir: path.join(dir, 'data'), featuresFile: file, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {}));
    });
    after(() => app.stop());

    it('decides with the file’s features, stores them by name, and falls back to the safe default without the rules-only inputs', async () => {
      const T0 = Date.parse('2026-11-26T10:00:00Z');
      const decide = async (i: number, amount: number): Promise<{ degraded: string | null }> => {
        const res = await fetch(`${app.url}/api/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ event_id: `c-${i}`, event_type: 'transaction', timestamp: T0 + i * 60_000, user_id: 'ann', merchant_id: 'shop', amount }),
        });
        assert.equal(res.status, 200);
        return (await res.json()) as { degraded: string | null };
      };
      await decide(0, 50);
      await decide(1, 80);
      const third = await decide(2, 500);
      assert.equal(third.degraded, 'safe_default', 'no model, and the set lacks what rules-only reads');
      await app.sink.flush();
      const stored = await fetch(`${app.url}/api/v1/events/c-2`);
      const body = (await stored.json()) as { features: Record<string, number> };
      assert.deepEqual(body.features, { merchant_tx_10m: 3, amount_max_1h: 500, big_vs_max: 1 });
    });
  });

  it('trains a model on the file’s features that only a pipeline computing them is served', async () => {
    const features = loadFeatureSet(file);
    const modelDir = path.join(dir, 'models');
    // Forced: what is pinned here is which pipeline serves the model, not how well three features
    // learn from one epoch of 3,000 events (the guard's floor is tested in test/cli/train.test.ts).
    const outcome = await trainOnGeneratedHistory({ registry: new FolderRegistry(modelDir, { featureSetVersion: features.version }), events: 3000, seed: 3, epochs: 1, features, eventTime: eventTimeOptions(loadConfig({}, {})), partitions: 12, thresholds: [0.7], activate: 'force' });
    assert.ok(outcome.activated);
    const own = await serveActiveModel(new FolderRegistry(modelDir, { featureSetVersion: features.version }), { features, log: () => undefined });
    assert.equal(own.metadata?.version, outcome.version);
    assert.deepEqual(own.metadata?.feature_names, ['merchant_tx_10m', 'amount_max_1h', 'big_vs_max']);
    const problems: string[] = [];
    const other = await serveActiveModel(new FolderRegistry(modelDir), { features: DEFAULT_FEATURE_SET, log: (m) => problems.push(m) });
    assert.equal(other.metadata, null, 'the default pipeline refuses it');
    assert.match(problems.join('\n'), /feature set/);
  });
});
