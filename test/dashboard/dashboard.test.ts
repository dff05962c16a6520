import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { launchBrowser } from '../support/browser.ts';

describe('the dashboard in a real browser', () => {
  let app: RunningApp;
  let browser: Browser | undefined;
  let skip: string | undefined;
  let dataDir: string;
  before(async () => {
    const launched = await launchBrowser();
    if ('skip' in launched) {
      skip = launched.skip;
      return;
    }
    browser = launched;
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-dash-'));
    app = await startApp(loadConfig({ dataDir, port: 0, generator: true, generatorRate: 200, trainOnStart: false, logLevel: 'silent' }, {}));
  });
  after(async () => {
    await browser?.close();
    if (skip === undefined) {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('shows live throughput, the decision mix, latency and the latest decisions from the generator', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${app.url}/`);
    await page.waitForSelector('#connection[data-state="live"]');
    await page.waitForFunction(() => document.querySelectorAll('#decisions tr').length >= 10);
    await page.waitForFunction(() => Number(document.getElementById('events-per-second')!.textContent!.replace(/,/g, '')) > 0);

    const rows = await page.$$eval('#decisions tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    assert.ok(rows.length >= 10 && rows.length <= 50);
    for (const cells of rows) {
      assert.match(cells[1]!, /^gen_/, 'event id from the generator');
      assert.ok(['approved', 'flagged', 'rejected'].includes(cells[6]!), `decision cell "${cells[6]}"`);
      assert.ok(Number(cells[5]) >= 0 && Number(cells[5]) <= 1, 'risk score in [0, 1]');
      assert.ok(cells[8]!.length > 10, 'a readable reason');
    }
    const counts = await page.$$eval('.legend b', (bs) => bs.map((b) => Number(b.textContent!.replace(/,/g, ''))));
    assert.ok(counts.reduce((a, b) => a + b, 0) > 0, 'the mix counts decisions');
    assert.equal(await page.textContent('#model-version'), 'none (rules only)');
    assert.equal(await page.textContent('#rules-version'), 'builtin-1');
    const p99 = Number((await page.textContent('#latency-p99'))!.replace(/,/g, ''));
    assert.ok(Number.isFinite(p99) && p99 >= 0);
    assert.deepEqual(problems, [], 'no script errors on the page');
  });
});
