// The event explorer and the event page in a real browser, on decisions the test made: each filter, paging, shareable URLs, features as the API has them, and labelling.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { Browser, Page } from 'playwright-core';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import type { Outcome } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { FolderRegistry } from '../../src/score/index.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';

/** What the API holds of one of the test's decisions. */
interface Decided {
  event_id: string;
  decision: Outcome;
  risk_score: number;
  timestamp: string;
  late: boolean;
  degraded: string;
}

/** The API's answer for one event, as the event page reads it. */
interface EventBody {
  features: Record<string, number | null>;
  reasons: { code: string; source: string }[];
  contributions: { code: string; feature?: string; contribution: number }[];
  label: { is_fraud: boolean } | null;
  decision: { trace_id: string };
}

describe('the event explorer and the event page in a real browser', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-explorer-'));
  const modelDir = path.join(dir, 'models');
  // Model checks only when the test asks; scoring never over budget on a busy machine, so no decision degrades unasked.
  const config = loadConfig({ dataDir: path.join(dir, 'data'), modelDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, modelPollMs: 3_600_000, scoreBudgetMs: 10_000 }, {});
  let app: RunningApp;
  let browser: Browser | undefined;
  let skip: string | undefined;
  const problems: string[] = [];
  /** Every decision the test made, by event id. */
  const decided = new Map<string, Decided>();

  const post = async (url: string, body?: unknown): Promise<Response> =>
    fetch(`${app.url}${url}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const decide = async (event: Record<string, unknown>): Promise<void> => {
    const res = await post('/api/v1/decide', event);
    assert.equal(res.status, 200, await res.clone().text());
    const d = (await res.json()) as Decided;
    decided.set(d.event_id, d);
  };
  const eventBody = async (id: string): Promise<EventBody> => (await (await fetch(`${app.url}/api/v1/events/${id}`)).json()) as EventBody;

  before(async () => {
    const launched = await launchBrowser();
    if ('skip' in launched) {
      skip = launched.skip;
      return;
    }
    browser = launched;
    // A model in the registry, not yet served: the first decision is made rules-only (degraded).
    await trainOnGeneratedHistory({ registry: new FolderRegistry(modelDir), events: 3000, seed: 2, epochs: 1, features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: [0.5, 0.7], activate: false });
    // Traced (in memory), so the event page shows each decision's trace id.
    app = await startApp(config, { spanExporter: new InMemorySpanExporter() });
    const base = { event_type: 'transaction', channel: 'web', country: 'DE', currency: 'EUR' };
    // A large first payment: the rules-only fallback measures what that signal adds to the score.
    await decide({ ...base, event_id: 'x-degraded', user_id: 'u-ann', merchant_id: 'm-1', amount: 5000 });
    const activated = await post('/api/v1/models/v1/activate');
    assert.equal(activated.status, 200);
    await decide({ ...base, event_id: 'x-plain', user_id: 'u-ann', merchant_id: 'm-1', amount: 25 });
    await decide({ ...base, event_id: 'x-login', event_type: 'login', channel: 'mobile', user_id: 'u-bob' });
    await decide({ ...base, event_id: 'x-atm', event_type: 'withdrawal', channel: 'atm', user_id: 'u-cat', amount: 2500 });
    await decide({ ...base, event_id: 'x-sanctioned', event_type: 'transfer', channel: 'api', user_id: 'u-dan', amount: 100, country: 'KP' });
    await decide({ ...base, event_id: 'x-merchant', channel: 'pos', user_id: 'u-eve', merchant_id: 'm-2', amount: 40 });
    // Two minutes behind what u-ann's partition has seen: decided late.
    await decide({ ...base, event_id: 'x-late', user_id: 'u-ann', merchant_id: 'm-1', amount: 20, timestamp: Date.now() - 120_000 });
    assert.equal((await post('/api/v1/labels', [{ event_id: 'x-login', is_fraud: true }, { event_id: 'x-merchant', is_fraud: false }])).status, 202);
  });
  after(async () => {
    await browser?.close();
    if (app !== undefined) await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(url: string): Promise<Page> {
    const page = await browser!.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${app.url}${url}`);
    return page;
  }

  /** The event ids the explorer shows, once its search has answered. */
  async function shownIds(page: Page): Promise<string[]> {
    await page.waitForSelector('#results[aria-busy="false"]');
    return page.$$eval('#results tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.eventId!));
  }

  const ids = (keep: (d: Decided) => boolean): string[] => [...decided.values()].filter(keep).map((d) => d.event_id).sort();

  it('shows, for each filter in the URL, exactly the decisions it names', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const all = [...decided.values()];
    assert.equal(decided.get('x-sanctioned')!.decision, 'rejected', 'the sanctioned country rule rejects');
    assert.deepEqual(ids((d) => d.late), ['x-late'], 'the event two minutes behind its partition is late');
    assert.deepEqual(ids((d) => d.degraded !== 'none'), ['x-degraded'], 'only the decision made before the model was served is degraded');
    const scores = all.map((d) => d.risk_score).sort((a, b) => a - b);
    const middle = scores[Math.floor(scores.length / 2)]!;
    const byTime = [...all].sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    const since = byTime[2]!.timestamp;
    const until = byTime[5]!.timestamp;
    const cases: [Record<string, string>, string[]][] = [
      [{}, ids(() => true)],
      [{ decision: 'rejected' }, ids((d) => d.decision === 'rejected')],
      [{ decision: 'flagged' }, ids((d) => d.decision === 'flagged')],
      [{ event_type: 'withdrawal' }, ['x-atm']],
      [{ channel: 'atm' }, ['x-atm']],
      [{ user_id: 'u-ann' }, ['x-degraded', 'x-late', 'x-plain']],
      [{ merchant_id: 'm-2' }, ['x-merchant']],
      [{ min_score: String(middle) }, ids((d) => d.risk_score >= middle)],
      [{ max_score: String(middle) }, ids((d) => d.risk_score <= middle)],
      [{ since, until }, ids((d) => d.timestamp >= since && d.timestamp < until)],
      [{ rule: 'atm_limit' }, ['x-atm']],
      [{ rule: 'sanctioned_country' }, ['x-sanctioned']],
      [{ label: 'fraud' }, ['x-login']],
      [{ label: 'legit' }, ['x-merchant']],
      [{ label: 'unlabelled' }, ids((d) => d.event_id !== 'x-login' && d.event_id !== 'x-merchant')],
      [{ late: 'true' }, ['x-late']],
      [{ degraded: 'true' }, ['x-degraded']],
      [{ degraded: 'false', user_id: 'u-ann' }, ['x-late', 'x-plain']],
    ];
    assert.ok(decided.get('x-atm')!.decision !== 'approved', 'the ATM limit flags at least');
    const page = await openPage('/explorer');
    for (const [filter, expected] of cases) {
      await page.goto(`${app.url}/explorer?${new URLSearchParams(filter)}`);
      const shown = await shownIds(page);
      assert.deepEqual([...shown].sort(), expected, JSON.stringify(filter));
      const times = shown.map((id) => decided.get(id)!.timestamp);
      assert.deepEqual(times, [...times].sort().reverse(), `${JSON.stringify(filter)}: newest first`);
    }
    await page.close();
  });

  it('binds the filter form to the URL, and the URL alone reproduces the view', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const page = await openPage('/explorer');
    await shownIds(page);
    await page.fill('input[name="user_id"]', 'u-ann');
    await page.selectOption('select[name="late"]', 'false');
    await page.press('input[name="user_id"]', 'Enter');
    await page.waitForURL(/user_id=u-ann/);
    const shown = await shownIds(page);
    assert.deepEqual([...shown].sort(), ['x-degraded', 'x-plain']);
    const url = new URL(page.url());
    assert.deepEqual(Object.fromEntries(url.searchParams), { user_id: 'u-ann', late: 'false' });

    const fresh = await openPage(`${url.pathname}${url.search}`);
    assert.deepEqual(await shownIds(fresh), shown, 'the same rows from the URL alone');
    assert.equal(await fresh.inputValue('input[name="user_id"]'), 'u-ann', 'and the form shows the filters');
    assert.equal(await fresh.inputValue('select[name="late"]'), 'false');
    await fresh.close();
    await page.close();
  });

  it('pages through every decision without repeats, back again, and a page has its own URL', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const page = await openPage('/explorer?limit=2');
    const pages = [await shownIds(page)];
    const urls = [page.url()];
    while ((await page.$('a[rel="next"]')) !== null) {
      const before = page.url();
      await page.click('a[rel="next"]');
      await page.waitForURL((u) => u.toString() !== before);
      pages.push(await shownIds(page));
      urls.push(page.url());
    }
    const seen = pages.flat();
    assert.equal(new Set(seen).size, seen.length, `no repeats: ${seen.join(', ')}`);
    assert.deepEqual([...seen].sort(), ids(() => true), 'every decision');
    assert.ok(pages.length >= 4 && pages.slice(0, -1).every((p) => p.length === 2), `pages of two: ${JSON.stringify(pages)}`);

    const back: string[][] = [];
    while ((await page.$('a[rel="prev"]')) !== null) {
      const before = page.url();
      await page.click('a[rel="prev"]');
      await page.waitForURL((u) => u.toString() !== before);
      back.unshift(await shownIds(page));
    }
    assert.deepEqual(back.flat(), seen.slice(0, back.flat().length), 'the newer pages again, in order');
    assert.deepEqual(back[0], pages[0], 'back at the first page');

    const fresh = await openPage(new URL(urls[2]!).pathname + new URL(urls[2]!).search);
    assert.deepEqual(await shownIds(fresh), pages[2], "the third page's URL opens the third page");
    assert.deepEqual(await screenshotWidths(page, 'explorer'), { 390: 0, 1440: 0 }, 'nothing scrolls sideways');
    await fresh.close();
    await page.close();
  });

  it('shows an event with its decision, rules, versions and every feature by name as the API has them', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const api = await eventBody('x-atm');
    const page = await openPage('/explorer?channel=atm');
    await shownIds(page);
    await page.click('#results a[href="/events/x-atm"]');
    await page.waitForSelector('#features');
    assert.equal(await page.textContent('#event-id'), 'x-atm');
    assert.equal(await page.textContent('#model-version-used'), 'v1');
    assert.equal(await page.textContent('#rules-version-used'), 'builtin-1');
    assert.equal(await page.textContent('#shadow-score'), 'none ran');
    assert.match(api.decision.trace_id, /^[0-9a-f]{32}$/);
    assert.equal(await page.textContent('#trace-id'), api.decision.trace_id, 'the trace the decision was made in');
    assert.equal(await page.textContent('#risk-score'), decided.get('x-atm')!.risk_score.toFixed(3));
    const rules = await page.$$eval('#rules-fired li', (lis) => lis.map((li) => (li as HTMLElement).dataset.code));
    assert.deepEqual(rules, api.reasons.filter((r) => r.source === 'rule').map((r) => r.code));
    assert.ok(rules.includes('atm_limit'));

    const rows = await page.$$eval('#features tbody tr', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.feature!, tr.querySelector('td')!.textContent!, tr.querySelectorAll('td')[2]!.textContent!]));
    assert.deepEqual(rows.map(([name]) => name), Object.keys(api.features), 'every feature, by name, in order');
    assert.deepEqual(rows.map(([name]) => name), [...DEFAULT_FEATURE_SET.names]);
    for (const [name, shown] of rows) {
      const value = api.features[name!]!;
      if (value === null) assert.equal(shown, 'unknown', name);
      else assert.equal(Number(shown!.replace(/,/g, '')), value, name);
    }
    const windows = new Map(rows.map(([name, , window]) => [name, window]));
    const withWindow = DEFAULT_FEATURE_SET.specs.find((s) => 'window' in s)!;
    assert.ok(windows.get(withWindow.name)!.length > 0, `${withWindow.name} shows its window`);

    const history = await page.$$eval('section[aria-labelledby="history-title"] tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.eventId));
    assert.deepEqual(history, ['x-atm'], "the user's decisions beside it");
    assert.deepEqual(await screenshotWidths(page, 'event'), { 390: 0, 1440: 0 }, 'nothing scrolls sideways');

    // The decision made rules-only: the contributions its fallback measured, largest first.
    const fallback = await eventBody('x-degraded');
    assert.ok(fallback.contributions.some((c) => c.code === 'large_first_payment'), JSON.stringify(fallback.contributions));
    await page.goto(`${app.url}/events/x-degraded`);
    await page.waitForSelector('#contributions');
    const contributions = await page.$$eval('#contributions tbody tr', (trs) => trs.map((tr) => [tr.querySelector('th')!.textContent, tr.querySelector('td')!.textContent]));
    assert.deepEqual(contributions, fallback.contributions.map((c) => [c.feature ?? c.code, `+${c.contribution.toFixed(3)}`]));
    assert.equal(await page.textContent('#model-version-used'), 'none (rules only)');
    await page.close();
  });

  it('lets a reviewer label the event, stores the label, and shows it, in the user history too', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const page = await openPage('/events/x-plain');
    await page.waitForSelector('#label-status .badge');
    assert.equal(await page.textContent('#label-status .badge'), 'unlabelled');
    for (const [button, isFraud, word] of [['button.mark-fraud', true, 'fraud'], ['button.mark-legit', false, 'not fraud']] as const) {
      await page.click(button);
      await page.waitForFunction((w) => document.querySelector('#label-status .notice-ok')?.textContent === `Stored: ${w}.`, word);
      assert.equal(await page.textContent('#label-status .badge'), word);
      assert.equal((await eventBody('x-plain')).label?.is_fraud, isFraud, 'stored through the API');
      assert.equal(await page.getAttribute(button, 'aria-pressed'), 'true');
      await page.waitForFunction((w) => document.querySelector('section[aria-labelledby="history-title"] tr[data-event-id="x-plain"] [class*=" v-"]')?.textContent === w, word);
    }
    assert.deepEqual(problems, [], 'no script errors on any page');
    await page.close();
  });
});
