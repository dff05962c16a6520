import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import { deployedThresholds, eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import type { PublishedDecision } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { evaluateScores, FolderRegistry, ModelScorer } from '../../src/score/index.ts';
import { findDecision } from '../../src/store/index.ts';
import { decideAcrossChange } from '../support/decisions.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, k) => ({ event_id: `m-${from + k}`, event_type: 'transaction', timestamp: T0 + (from + k) * 100, user_id: `user-${(from + k) % 23}`, amount: 20 + ((from + k) % 300), channel: 'web', country: 'DE' }));

describe('activating a model while events flow', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-swap-'));
  const modelDir = path.join(dir, 'models');
  // The test triggers switches itself (through the API): no background check races it.
  const config = loadConfig({ dataDir: path.join(dir, 'data'), modelDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, modelPollMs: 3_600_000 }, {});
  let app: RunningApp;
  const post = (url: string, body?: unknown): Promise<Response> =>
    fetch(`${app.url}${url}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });

  before(async () => {
    // Two seeds whose validation period (300 events) holds fraud: attacks come in bursts, and seed 1's has none.
    for (const seed of [2, 7]) {
      await trainOnGeneratedHistory({ registry: new FolderRegistry(modelDir), events: 3000, seed, epochs: 1, features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: [0.5, 0.7], activate: false });
    }
    await new FolderRegistry(modelDir).activate('v1');
    app = await startApp(config);
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('switches without restart or a lost event, records the version on each decision, and rolls back', async () => {
    // The second batch flows while the switch happens.
    const decided = await decideAcrossChange(app, batch, async () => {
      const activated = await post('/api/v1/models/v2/activate');
      assert.equal(activated.status, 200);
      assert.deepEqual(await activated.json(), { active: 'v2', served: 'v2' });
    });

    // Every event decided once, each by one of the two models; those sent after the switch by v2.
    assert.equal(decided.size, 900);
    for (const d of decided.values()) assert.ok(d.model_version === 'v1' || d.model_version === 'v2', `${d.event_id}: ${d.model_version}`);
    for (const e of batch(600, 300)) assert.equal(decided.get(e.event_id)!.model_version, 'v2', e.event_id);
    for (const e of batch(0, 300)) assert.equal(decided.get(e.event_id)!.model_version, 'v1', e.event_id);

    const rolledBack = await post('/api/v1/models/rollback');
    assert.deepEqual(await rolledBack.json(), { active: 'v1', served: 'v1' });
    const sync = await post('/api/v1/decide', batch(900, 1)[0]);
    assert.equal(((await sync.json()) as { model_version: string }).model_version, 'v1');

    const listed = (await (await fetch(`${app.url}/api/v1/models`)).json()) as { active: string; versions: { version: string; active: boolean }[]; activations: { version: string }[] };
    assert.equal(listed.active, 'v1');
    assert.deepEqual(
      listed.versions.map((v) => [v.version, v.active]),
      [
        ['v1', true],
        ['v2', false],
      ],
    );
    assert.deepEqual(
      listed.activations.map((a) => a.version),
      ['v1', 'v2', 'v1'],
    );
    assert.equal((await post('/api/v1/models/v7/activate')).status, 404);

    // Verdicts on the first batch (all scored by v1, served again): live figures against them, from the store.
    const verdicts = batch(0, 300).map((e, i) => ({ event_id: e.event_id, is_fraud: i % 10 === 0 }));
    assert.equal((await post('/api/v1/labels', verdicts)).status, 202);
    await app.sink.flush();
    const live = (await (await fetch(`${app.url}/api/v1/models/live`)).json()) as { model_version: string; labelled: number; scored: number; psi: number; metrics: { positives: number; roc_auc: number; average_precision: number } };
    assert.equal(live.model_version, 'v1');
    assert.equal(live.labelled, 300);
    assert.equal(live.scored, [...decided.values()].filter((d) => d.model_version === 'v1').length, 'every decision v1 made, the synchronous one included');
    const expected = evaluateScores(
      verdicts.map((v) => decided.get(v.event_id)!.risk_score),
      verdicts.map((v) => (v.is_fraud ? 1 : 0)),
    );
    assert.equal(live.metrics.positives, 30);
    assert.ok(Math.abs(live.metrics.roc_auc - expected.roc_auc) < 1e-9, `live ROC-AUC ${live.metrics.roc_auc}, from the feed ${expected.roc_auc}`);
    assert.ok(Number.isFinite(live.psi) && live.psi >= 0, `PSI ${live.psi}`);
    const scraped = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(scraped, /rtds_model_live_labelled\{model_version="v1"\} 300/);
    assert.match(scraped, /rtds_model_score_psi\{model_version="v1"\} \d/);
  });

  it('scores a challenger in shadow, compares it on the verdicts, and changes no decision', async () => {
    assert.equal((await post('/api/v1/models/v9/challenge')).status, 404);
    const set = await post('/api/v1/models/v2/challenge');
    assert.deepEqual(await set.json(), { challenger: 'v2', scoring: 'v2' });

    const events = batch(1000, 200);
    const ids = new Set(events.map((e) => e.event_id));
    const decided = new Map<string, PublishedDecision>();
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    app.feed.subscribe((d) => {
      if (!ids.has(d.event_id)) return;
      decided.set(d.event_id, d);
      if (decided.size === ids.size) done();
    });
    assert.equal((await post('/api/v1/events', events)).status, 202);
    await all;
    await app.sink.flush();
    const verdicts = events.map((e, i) => ({ event_id: e.event_id, is_fraud: i % 8 === 0 }));
    assert.equal((await post('/api/v1/labels', verdicts)).status, 202);

    // Every decision is v1's; beside each, v2's own score of the same features.
    const artifact = await new FolderRegistry(modelDir).load('v2');
    const v2 = ModelScorer.fromArtifact(artifact, { topFeatures: 0 });
    artifact.model.dispose();
    const shadow: number[] = [];
    for (const e of events) {
      const stored = (await findDecision(app.db, e.event_id))!;
      assert.equal(stored.model_version, 'v1', e.event_id);
      assert.equal(stored.shadow?.model_version, 'v2', e.event_id);
      const vector = Float64Array.from(DEFAULT_FEATURE_SET.names, (name) => (stored.features as Record<string, number>)[name]!);
      const own = v2.scoreBatch([vector], [{ ...e, event_time: e.timestamp, event_time_source: 'event' }])[0]!.score;
      // The stored features are float32: v2 on them agrees with the score it gave online to about 1e-6.
      assert.ok(Math.abs(own - stored.shadow.score) < 1e-4, `${e.event_id}: stored ${stored.shadow.score}, v2 now ${own}`);
      shadow.push(stored.shadow.score);
    }

    const report = (await (await fetch(`${app.url}/api/v1/models/challenger`)).json()) as {
      challenger: string;
      comparison: { scored: number; labelled: number; champions: string[]; changed: number; champion_metrics: { roc_auc: number; positives: number }; challenger_metrics: { roc_auc: number; average_precision: number } };
    };
    const labels = verdicts.map((v) => (v.is_fraud ? 1 : 0));
    const thresholds = deployedThresholds(config);
    const champion = events.map((e) => decided.get(e.event_id)!.risk_score);
    const band = (x: number): number => thresholds.filter((t) => x >= t).length;
    assert.equal(report.challenger, 'v2');
    assert.equal(report.comparison.scored, 200);
    assert.equal(report.comparison.labelled, 200);
    assert.deepEqual(report.comparison.champions, ['v1']);
    assert.equal(report.comparison.champion_metrics.positives, 25);
    assert.ok(Math.abs(report.comparison.champion_metrics.roc_auc - evaluateScores(champion, labels, thresholds).roc_auc) < 1e-9);
    const expected = evaluateScores(shadow, labels, thresholds);
    assert.ok(Math.abs(report.comparison.challenger_metrics.roc_auc - expected.roc_auc) < 1e-9);
    assert.ok(Math.abs(report.comparison.challenger_metrics.average_precision - expected.average_precision) < 1e-9);
    assert.equal(report.comparison.changed, champion.filter((c, i) => band(c) !== band(shadow[i]!)).length);

    const stopped = await fetch(`${app.url}/api/v1/models/challenger`, { method: 'DELETE' });
    assert.deepEqual(await stopped.json(), { challenger: null, scoring: null });
    const after = batch(2000, 1)[0]!;
    assert.equal((await post('/api/v1/decide', after)).status, 200);
    await app.sink.flush();
    assert.equal((await findDecision(app.db, after.event_id))?.shadow, undefined, 'no shadow score once stopped');
  });
});
