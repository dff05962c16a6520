import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LivePerformance } from '../../src/api/models.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { FolderRegistry } from '../../src/score/index.ts';
import { TestClock } from '../support/clock.ts';
import { decisionsUntil } from '../support/stored-decisions.ts';

/** A fixed instant, so every run makes the same traffic and trains the same model. */
const START = Date.UTC(2026, 10, 1, 12);
/** Ten minutes of the default 50 events/s. */
const LIVE_MS = 10 * 60_000;
const LIVE_EVENTS = 30_000;

describe("`rtds start`'s demo decided by its first-start model", () => {
  let dir: string;
  let clock: TestClock;
  let app: RunningApp | undefined;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-demo-parity-'));
    clock = new TestClock(START, START + LIVE_MS);
    // The defaults of `npm start` (generator on, first model trained on the demo's traffic),
    // but a per-event scoring budget no busy test machine exceeds: an open circuit would hand
    // events to the fallback model, and the figures would be the fallback's.
    const config = loadConfig({ dataDir: path.join(dir, 'data'), port: 0, logLevel: 'silent', logDurability: 'memory', scoreBudgetMs: 10_000 }, {});
    app = await startApp(config, { clock });
  });
  after(async () => {
    clock.release();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scores 10 minutes of live traffic as the held-out period: precision and recall at 0.7 within 0.05, score PSI below 0.1', async (t) => {
    const running = app!;
    await clock.halted;
    await decisionsUntil((sql) => running.db.query(sql), (n) => n >= LIVE_EVENTS, 120_000);
    await running.sink.flush();
    const live = (await (await fetch(`${running.url}/api/v1/models/live?limit=${LIVE_EVENTS + 1}`)).json()) as LivePerformance;
    const trained = await new FolderRegistry(running.config.modelDir).metadataOf(live.model_version);
    const mix = await running.db.query<{ decision: string; n: number }>('SELECT decision, count(*)::int AS n FROM decisions GROUP BY decision ORDER BY decision');

    assert.equal(live.scored, LIVE_EVENTS, 'every event of the 10 minutes decided by the model');
    assert.equal(live.labelled, LIVE_EVENTS);
    const heldOut = trained.metrics!;
    const metrics = live.metrics!;
    const at = (m: typeof heldOut) => m.at.find((x) => x.threshold === 0.7)!;
    const fraudShare = (m: typeof heldOut) => m.positives / m.rows;
    t.diagnostic(`held-out: ${heldOut.rows} events, ${(100 * fraudShare(heldOut)).toFixed(2)} % fraud, AUC ${heldOut.roc_auc.toFixed(4)}, P/R at 0.7 ${at(heldOut).precision.toFixed(3)}/${at(heldOut).recall.toFixed(3)}`);
    t.diagnostic(`live: ${metrics.rows} events, ${(100 * fraudShare(metrics)).toFixed(2)} % fraud, AUC ${metrics.roc_auc.toFixed(4)}, P/R at 0.7 ${at(metrics).precision.toFixed(3)}/${at(metrics).recall.toFixed(3)}, PSI ${live.psi.toFixed(4)}`);
    t.diagnostic(`decisions: ${mix.map((r) => `${r.decision} ${((100 * r.n) / LIVE_EVENTS).toFixed(2)} %`).join(', ')}`);

    for (const m of [heldOut, metrics]) assert.ok(fraudShare(m) > 0.02 && fraudShare(m) < 0.03, `fraud share ${fraudShare(m)}`);
    assert.ok(Math.abs(at(metrics).precision - at(heldOut).precision) <= 0.05, `precision at 0.7: live ${at(metrics).precision}, held out ${at(heldOut).precision}`);
    assert.ok(Math.abs(at(metrics).recall - at(heldOut).recall) <= 0.05, `recall at 0.7: live ${at(metrics).recall}, held out ${at(heldOut).recall}`);
    assert.ok(live.psi < 0.1, `PSI of live scores against the held-out ones: ${live.psi}`);
  });
});
