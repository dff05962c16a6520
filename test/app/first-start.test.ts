// A first start binds its port before anything else: the dashboard and a /readyz saying what is starting answer while the first model trains.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HttpPort } from '../../src/api/http-port.ts';
import { startApp } from '../../src/app/index.ts';
import type { FirstStartTraining } from '../../src/app/model.ts';
import { loadConfig } from '../../src/config/index.ts';
import { waitFor } from '../support/wait.ts';

/** A first model small enough for a test: a few seconds of training, in the same phases as the real one. */
const SMALL: FirstStartTraining = { events: 60_000, labelled: 10_000, sparsePastEvents: 0, epochs: 3, seed: 7 };

interface Answer {
  status: number;
  body: string;
}

const answer = async (url: string): Promise<Answer> => {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
};

describe('the first start', () => {
  it('serves the dashboard, /healthz and a /readyz that says the first model is training, while it trains; then the full API', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rtds-first-start-'));
    const config = loadConfig({ dataDir: path.join(dir, 'data'), modelDir: path.join(dir, 'models'), port: 0, generator: false, trainOnStart: true, logLevel: 'silent', sinkFlushMs: 5, logDurability: 'memory' }, {});
    const httpPort = await HttpPort.bind(config.host, 0);
    const url = httpPort.url;
    // Asked at the training's first report of progress; the server answers as it goes on (its
    // feature replay yields every few thousand events), so /readyz says what it is doing then.
    let asked: Promise<{ readyz: Answer; healthz: Answer; page: Answer; explorer: Answer; api: Answer }> | undefined;
    const app = await startApp(config, {
      httpPort,
      firstModel: SMALL,
      onTraining: () => {
        asked ??= (async () => {
          const [readyz, healthz, page, explorer, api] = await Promise.all([answer(`${url}/readyz`), answer(`${url}/healthz`), answer(`${url}/`), answer(`${url}/explorer`), answer(`${url}/api/v1/summary`)]);
          return { readyz, healthz, page, explorer, api };
        })();
      },
    });
    try {
      assert.ok(asked !== undefined, 'the first model was trained, with progress');
      const { readyz, healthz, page, explorer, api } = await asked;
      assert.equal(readyz.status, 503);
      const ready = JSON.parse(readyz.body) as { status: string; starting: boolean; reasons: string[] };
      assert.equal(ready.starting, true);
      assert.match(ready.reasons[0]!, /^starting: training the first model \(\d{1,3} %\)$/);
      assert.deepEqual([healthz.status, JSON.parse(healthz.body)], [200, { status: 'ok' }]);
      assert.equal(page.status, 200);
      assert.match(page.body, /<div id="starting"/, 'the dashboard, with the banner that shows the first start');
      assert.equal(explorer.body, page.body, "every view's URL answers with the page");
      assert.equal(api.status, 503);
      const refused = JSON.parse(api.body) as { error: string; code: string };
      assert.equal(refused.code, 'starting');
      assert.match(refused.error, /^starting: training the first model \(\d{1,3} %\)$/);

      // Then the full API on the same port: ready once the processor runs, and a model (or rules only, when the small one is refused) decides.
      assert.equal(app.url, url);
      await waitFor('/readyz 200 from the full API', 10_000, async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
      const summary = await fetch(`${url}/api/v1/summary`);
      assert.equal(summary.status, 200);
    } finally {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
