import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ModelPerformance } from '../../src/api/model-performance.ts';
import { parseApiKeys } from '../../src/api/api-keys.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import { deployedThresholds, eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { OUTCOMES, type Outcome } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { evaluateScores, FolderRegistry } from '../../src/score/index.ts';
import type { StoredDecision } from '../../src/store/index.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';
import { collectDecisions } from '../support/decisions.ts';

const KEYS = { read: 'model-page-reader-key-01', ingest: 'model-page-ingest-key-01', admin: 'model-page-admin-key-001' };
/** Generated traffic with a fraud share high enough that the served model flags and rejects some of it. */
const traffic = new TrafficGenerator({ seed: 5, fraudRate: 0.2, warmStart: true, idPrefix: 'mp_' }).take(300);
const LABELLED = 200;

type Matrix = Record<Outcome, { fraud: number; legitimate: number }>;

/** Outcomes by verdict, counted the test's own way. */
function matrixOf(rows: { outcome: Outcome; fraud: boolean }[]): Matrix {
  const m = Object.fromEntries(OUTCOMES.map((o) => [o, { fraud: 0, legitimate: 0 }])) as Matrix;
  for (const r of rows) m[r.outcome][r.fraud ? 'fraud' : 'legitimate']++;
  return m;
}

/** The outcome table of `role` as the page shows it. */
async function pageMatrix(page: Page, role: string): Promise<Matrix> {
  const cells = await page.$$eval(`#outcomes-${role} td[data-outcome]`, (tds) => tds.map((td) => [(td as HTMLElement).dataset.outcome!, (td as HTMLElement).dataset.verdict!, Number(td.textContent!.replace(/,/g, ''))] as const));
  const m = matrixOf([]);
  for (const [outcome, verdict, n] of cells) m[outcome as Outcome][verdict as 'fraud' | 'legitimate'] = n;
  assert.equal(cells.length, 6, `${role}: three outcomes by two verdicts`);
  return m;
}

const summaryCell = (page: Page, row: string, column: number): Promise<string> =>
  page.$$eval('#summary tbody tr', (trs, [row, column]) => trs.find((tr) => tr.querySelector('th')!.textContent === row)!.querySelectorAll('td')[column as number]!.textContent!, [row, column] as const);

describe('the Model Performance page in a real browser', () => {
  let app: RunningApp;
  let browser: Browser | undefined;
  let skip: string | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-dash-model-'));
  const modelDir = path.join(dir, 'models');
  // The test switches models itself (through the page): no background check races it. Models
  // trained for one epoch score in a narrow band: a reject threshold of 0.4 (flag from 0.2) spreads
  // their decisions over the three outcomes.
  const config = loadConfig(
    { dataDir: path.join(dir, 'data'), modelDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, modelPollMs: 3_600_000, threshold: 0.4, apiKeys: parseApiKeys(Object.entries(KEYS).map(([role, key]) => `${role}:${key}`).join(',')) },
    {},
  );
  const call = async <T>(method: string, url: string, key: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${app.url}${url}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    assert.ok(res.ok, `${method} ${url}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const label = (events: typeof traffic) => call('POST', '/api/v1/labels', KEYS.ingest, events.map((g) => ({ event_id: g.event.event_id, is_fraud: g.label.is_fraud })));

  before(async () => {
    const launched = await launchBrowser();
    if ('skip' in launched) {
      skip = launched.skip;
      return;
    }
    browser = launched;
    // Two quick models (seeds whose validation period holds fraud), as test/e2e/model-swap.test.ts trains them.
    for (const seed of [2, 7]) {
      await trainOnGeneratedHistory({ registry: new FolderRegistry(modelDir), events: 3000, seed, epochs: 1, features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: deployedThresholds(config), activate: false });
    }
    await new FolderRegistry(modelDir).activate('v1');
    app = await startApp(config);
  });
  after(async () => {
    await browser?.close();
    if (skip === undefined) await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows each model on its labelled decisions, follows a new verdict, and activates and rolls back versions with the admin role only', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await call('POST', '/api/v1/models/v2/challenge', KEYS.admin);
    const { reached } = collectDecisions(app);
    await call('POST', '/api/v1/events', KEYS.ingest, traffic.map((g) => g.event));
    await reached(traffic.length);
    await app.sink.flush();

    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    // A reader's key, given in the fragment: the page moves it to the tab's storage.
    await page.goto(`${app.url}/model?limit=1000#key=${KEYS.read}`);
    await page.waitForSelector('#summary');
    assert.equal(await summaryCell(page, 'labelled decisions', 0), '0');
    assert.equal(await summaryCell(page, 'decisions read for drift', 0), String(traffic.length));
    assert.match((await page.textContent('#figures'))!, /No labelled decision yet/);

    await label(traffic.slice(0, LABELLED));

    // What the page must show, from the API's decisions and the test's own verdicts.
    const { items } = await call<{ items: StoredDecision[] }>('GET', '/api/v1/decisions?limit=1000', KEYS.read);
    const decided = new Map(items.map((d) => [d.event_id, d]));
    const thresholds = deployedThresholds(config);
    const verdicts = (n: number) => traffic.slice(0, n).map((g) => ({ d: decided.get(g.event.event_id)!, fraud: g.label.is_fraud }));
    const servedMatrix = (n: number) => matrixOf(verdicts(n).map(({ d, fraud }) => ({ outcome: d.decision, fraud })));
    const challengerMatrix = (n: number) => matrixOf(verdicts(n).map(({ d, fraud }) => ({ outcome: OUTCOMES[thresholds.filter((x) => d.shadow!.score >= x).length]!, fraud })));
    const positives = verdicts(LABELLED).filter((v) => v.fraud).length;
    assert.equal(decided.size, traffic.length);
    assert.ok(positives > 10 && positives < LABELLED, `a mix of verdicts: ${positives} fraud of ${LABELLED}`);
    for (const outcome of OUTCOMES) assert.ok(verdicts(LABELLED).some(({ d }) => d.decision === outcome), `some labelled decisions are ${outcome}`);
    const served = evaluateScores(
      verdicts(LABELLED).map(({ d }) => d.risk_score),
      verdicts(LABELLED).map(({ fraud }) => (fraud ? 1 : 0)),
      thresholds,
    );

    // The route behind the page, on the same data.
    const figures = await call<ModelPerformance>('GET', '/api/v1/models/performance?model=served&limit=1000', KEYS.read);
    assert.equal(figures.model_version, 'v1');
    assert.equal(figures.labelled, LABELLED);
    assert.equal(figures.positives, positives);
    assert.ok(Math.abs(figures.metrics!.roc_auc - served.roc_auc) < 1e-12 && Math.abs(figures.metrics!.average_precision - served.average_precision) < 1e-12);
    assert.deepEqual(figures.outcomes.counts, servedMatrix(LABELLED));
    assert.deepEqual([figures.roc.fpr[0], figures.roc.tpr[0], figures.roc.fpr.at(-1), figures.roc.tpr.at(-1)], [0, 0, 1, 1], 'the ROC curve runs from (0, 0) to (1, 1)');
    assert.ok(figures.roc.fpr.length <= 200 && figures.precision_recall.recall.length <= 200);
    assert.equal(figures.precision_recall.recall.at(-1), 1);
    assert.equal(figures.calibration.reduce((n, b) => n + b.rows, 0), LABELLED);
    assert.equal(figures.distribution.fraud.reduce((a, b) => a + b, 0), positives);
    assert.equal(figures.distribution.legitimate.reduce((a, b) => a + b, 0), LABELLED - positives);
    assert.equal(figures.drift.scored, traffic.length, 'drift reads every decision, labelled or not');
    assert.equal(figures.drift.buckets.reduce((n, b) => n + b.scored, 0), traffic.length);
    assert.ok(Number.isFinite(figures.drift.psi) && figures.drift.buckets.some((b) => Number.isFinite(b.psi)), 'PSI against the scores v1 was registered with');
    const latest = await call<ModelPerformance>('GET', '/api/v1/models/performance?model=served&limit=50', KEYS.read);
    assert.equal(latest.labelled, 50, 'the latest 50 labelled decisions');
    assert.equal(latest.drift.scored, 50);
    const shadow = await call<ModelPerformance>('GET', '/api/v1/models/performance?model=challenger&limit=1000', KEYS.read);
    assert.equal(shadow.model_version, 'v2');
    assert.equal(shadow.outcomes.basis, 'thresholds');
    assert.deepEqual(shadow.outcomes.counts, challengerMatrix(LABELLED));

    // The verdicts reach the page on a refresh.
    await page.click('#refresh');
    await page.waitForSelector('#outcomes-challenger td[data-outcome]');
    assert.equal(await page.textContent('#served-version'), 'v1');
    assert.equal(await page.textContent('#challenger-version'), 'v2');
    assert.deepEqual(await pageMatrix(page, 'served'), servedMatrix(LABELLED));
    assert.deepEqual(await pageMatrix(page, 'challenger'), challengerMatrix(LABELLED));
    assert.equal(await summaryCell(page, 'labelled decisions', 0), String(LABELLED));
    assert.equal(await summaryCell(page, 'ROC-AUC', 0), served.roc_auc.toFixed(3));
    for (const chart of ['roc', 'precision-recall', 'calibration', 'distribution-served', 'distribution-challenger', 'drift']) assert.ok(await page.$(`#${chart} canvas`), `${chart} is drawn`);
    const overflow = await screenshotWidths(page, 'model');
    assert.deepEqual(overflow, { 390: 0, 1440: 0 }, 'nothing scrolls sideways at 390 or 1440 px');

    // One more verdict: after a refresh the table counts it where the test expects it.
    const next = verdicts(LABELLED + 1).at(-1)!;
    const cell = `#outcomes-served td[data-outcome="${next.d.decision}"][data-verdict="${next.fraud ? 'fraud' : 'legitimate'}"]`;
    const before = Number(await page.textContent(cell));
    await label(traffic.slice(LABELLED, LABELLED + 1));
    await page.click('#refresh');
    await page.waitForFunction(([selector, n]) => document.querySelector(selector as string)?.textContent === String(n), [cell, before + 1] as const);
    assert.deepEqual(await pageMatrix(page, 'served'), servedMatrix(LABELLED + 1));
    assert.deepEqual(await pageMatrix(page, 'challenger'), challengerMatrix(LABELLED + 1));

    // A reader may not activate: the server's refusal is shown, and v1 stays served.
    await page.click('button[data-action="activate"][data-version="v2"]');
    await page.waitForSelector('#action-status .notice-error');
    assert.match((await page.textContent('#action-status'))!, /Activate v2 refused: this API key has the read role; .* needs admin/);
    assert.equal(await page.textContent('#served-version'), 'v1');

    // An administrator: a roll back with nothing before v1 is refused in the server's words; activating v2 serves it; rolling back serves v1 again.
    await page.evaluate((key) => sessionStorage.setItem('rtds.apiKey', key), KEYS.admin);
    await page.click('#rollback');
    await page.waitForFunction(() => /refused: no version was active before v1 .*nothing to roll back to/.test(document.getElementById('action-status')!.textContent!));
    await page.click('button[data-action="activate"][data-version="v2"]');
    await page.waitForFunction(() => document.getElementById('served-version')?.textContent === 'v2');
    assert.match((await page.textContent('#action-status'))!, /Activate v2: done/);
    assert.match((await page.textContent('#versions tr[data-version="v2"] .state'))!, /active, served/);
    assert.equal((await call<{ served: string }>('GET', '/api/v1/models', KEYS.read)).served, 'v2');
    await page.waitForFunction(() => document.getElementById('model-version')?.textContent === 'v2');
    await page.click('#rollback');
    await page.waitForFunction(() => document.getElementById('served-version')?.textContent === 'v1');
    assert.deepEqual(
      await page.$$eval('#activations li', (lis) => lis.map((li) => li.textContent!.split(' ')[0])),
      ['v1', 'v2', 'v1'],
      'the activations, newest first',
    );
    assert.deepEqual(await pageMatrix(page, 'served'), servedMatrix(LABELLED + 1), 'v1 served again: its figures are back');
    assert.deepEqual(problems, [], 'no script errors on the page');
  });
});
