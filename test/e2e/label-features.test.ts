import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { validateEvent, type Label, type RtdsEvent } from '../../src/contracts/index.ts';
import { loadFeatureSet } from '../../src/features/index.ts';
import { replayFeatures } from '../../src/process/index.ts';

const SPECS = `
features:
  - name: merchant_fraud_7d
    entity: merchant_id
    window: { kind: hopping, size: 7d, hop: 1d }
    label_delay: 2d
    aggregate: fraud_count
  - name: merchant_fraud_rate_7d
    entity: merchant_id
    window: { kind: hopping, size: 7d, hop: 1d }
    label_delay: 2d
    aggregate: fraud_rate
  - name: amount
    expression: amount
`;

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-02T00:00:00Z');
/** One buyer at one shop, so every event is in one partition (a merchant's state is per partition). */
const purchase = (id: string, day: number) => ({ event_id: id, event_type: 'transaction', timestamp: T0 + day * DAY, user_id: 'ann', merchant_id: 'shop', amount: 40 + day });

describe('label-driven features in the running app', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-labels-'));
  const featuresFile = path.join(dir, 'features.yaml');
  writeFileSync(featuresFile, SPECS);
  // The test reads new labels itself (`labels.read()`): no background read races it.
  const config = loadConfig({ dataDir: path.join(dir, 'data'), featuresFile, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, labelPollMs: 3_600_000 }, {});
  const features = loadFeatureSet(featuresFile);
  after(() => rmSync(dir, { recursive: true, force: true }));

  const decided: ReturnType<typeof purchase>[] = [];
  const labels = new Map<string, Label>();
  const decide = async (app: RunningApp, e: ReturnType<typeof purchase>): Promise<void> => {
    const res = await fetch(`${app.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(e) });
    assert.equal(res.status, 200, e.event_id);
    decided.push(e);
  };
  const label = async (app: RunningApp, l: Label): Promise<void> => {
    await app.sink.flush();
    const res = await fetch(`${app.url}/api/v1/labels`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(l) });
    assert.equal(res.status, 202);
    labels.set(l.event_id, l);
  };
  const served = async (app: RunningApp, id: string): Promise<Record<string, number>> => {
    await app.sink.flush();
    return ((await (await fetch(`${app.url}/api/v1/events/${id}`)).json()) as { features: Record<string, number> }).features;
  };
  /** What training computes for the same history and labels: the online value must equal it. */
  const trained = (id: string): Record<string, number> => {
    const events = decided.map((e) => {
      const checked = validateEvent(e);
      assert.ok(checked.ok);
      return checked.event as RtdsEvent;
    });
    const row = replayFeatures(events, features, eventTimeOptions(config), config.partitions, labels).find((r) => r.event.event_id === id)!;
    return Object.fromEntries(features.names.map((n, i) => [n, row.vector[i]!]));
  };
  /** Served (stored as float32, shown to 7 digits) equals trained. */
  const same = (servedValues: Record<string, number>, trainedValues: Record<string, number>): void => {
    assert.deepEqual(Object.keys(servedValues), Object.keys(trainedValues));
    for (const [name, want] of Object.entries(trainedValues)) assert.ok(Math.abs(servedValues[name]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${name}: served ${servedValues[name]}, trained ${want}`);
  };

  it('counts verdicts from the API once known, after a restart too, and equals the training replay', async () => {
    let app = await startApp(config);
    try {
      for (let d = 0; d < 4; d++) for (let k = 0; k < 3; k++) await decide(app, purchase(`p-${d}-${k}`, d + k * 0.2));
      // Chargebacks on two day-1 purchases, known on day 5; the processor reads them from the store.
      await label(app, { event_id: 'p-1-0', is_fraud: true, labeled_at: new Date(T0 + 5 * DAY).toISOString() });
      await label(app, { event_id: 'p-1-1', is_fraud: true, labeled_at: T0 + 5 * DAY });
      await label(app, { event_id: 'p-2-0', is_fraud: false });
      assert.equal(await app.labels!.read(), 2, 'two fraud verdicts reach the partition; a first "not fraud" changes nothing');

      await decide(app, purchase('q-4', 4.5));
      same(await served(app, 'q-4'), trained('q-4'));
      assert.equal((await served(app, 'q-4')).merchant_fraud_7d, 0, 'on day 4.5 the verdicts are not known yet');
      await decide(app, purchase('q-6', 6.5));
      const q6 = await served(app, 'q-6');
      same(q6, trained('q-6'));
      // Day 6.5 − 2 days of delay: the window is the whole days up to day 4, so days 0–3 (12 purchases).
      assert.equal(q6.merchant_fraud_7d, 2);
      assert.ok(Math.abs(q6.merchant_fraud_rate_7d! - 2 / 12) < 1e-6);
    } finally {
      await app.stop();
    }

    // The verdicts come back with the state: restored from the store with the events they judge.
    app = await startApp(config);
    try {
      await decide(app, purchase('q-7', 7.5));
      const q7 = await served(app, 'q-7');
      same(q7, trained('q-7'));
      assert.equal(q7.merchant_fraud_7d, 2, 'restored');
      // An overturned verdict uncounts.
      await label(app, { event_id: 'p-1-1', is_fraud: false, labeled_at: T0 + 7.6 * DAY });
      // The read may also hand over again what the restore brought (its first read looks a few seconds back): harmless.
      assert.ok((await app.labels!.read()) >= 1);
      await decide(app, purchase('q-7b', 7.7));
      same(await served(app, 'q-7b'), trained('q-7b'));
      assert.equal((await served(app, 'q-7b')).merchant_fraud_7d, 1);
    } finally {
      await app.stop();
    }
  });
});
