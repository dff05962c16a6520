import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { Decision } from '../../src/contracts/index.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';

const OUTCOMES = ['approved', 'flagged', 'rejected'] as const;

/** Events of known types and channels; the built-in rules flag an ATM withdrawal over 1,000 and reject any movement over 50,000. */
function batch(prefix: string, shape: { transactions: number; logins: number; withdrawals: number; transfers: number }): object[] {
  const kinds = [
    ...Array.from({ length: shape.transactions }, () => ({ event_type: 'transaction', channel: 'web', amount: 20, currency: 'EUR' })),
    ...Array.from({ length: shape.logins }, () => ({ event_type: 'login', channel: 'mobile' })),
    ...Array.from({ length: shape.withdrawals }, () => ({ event_type: 'withdrawal', channel: 'atm', amount: 2500, currency: 'EUR' })),
    ...Array.from({ length: shape.transfers }, () => ({ event_type: 'transfer', amount: 60_000, currency: 'EUR' })),
  ];
  return kinds.map((kind, i) => ({ event_id: `${prefix}-${i}`, user_id: `user-${i % 5}`, country: 'DE', ...kind }));
}

type Counts = Record<'decisions' | (typeof OUTCOMES)[number], number>;
/** A decision the server answered, with the event's type and channel. */
type Sent = Decision & { event_type: string; channel?: string };

/** What the page must show, tallied from the decisions the server answered. */
function tally(decisions: readonly Sent[], key: (d: Sent) => string = () => 'all'): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const d of decisions) {
    const counts = out.get(key(d)) ?? { decisions: 0, approved: 0, flagged: 0, rejected: 0 };
    counts.decisions++;
    counts[d.decision]++;
    out.set(key(d), counts);
  }
  return out;
}

/** A number as the page prints it ("1,234", "12.5 %", "0.42 ms"). */
const numberIn = async (page: Page, selector: string): Promise<number> => Number((await page.textContent(selector))!.replace(/,/g, '').replace(/ ?(%|ms)$/, ''));

async function rangeCounts(page: Page): Promise<Counts> {
  return { decisions: await numberIn(page, '#range-total-decisions'), approved: await numberIn(page, '#range-approved'), flagged: await numberIn(page, '#range-flagged'), rejected: await numberIn(page, '#range-rejected') };
}

async function splitRows(page: Page): Promise<Map<string, Counts>> {
  const rows = await page.$$eval('#split-totals tr', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.value!, ...Array.from(tr.querySelectorAll('td'), (td) => td.textContent!)] as const));
  return new Map(rows.map(([value, ...cells]) => [value, { decisions: Number(cells[0]), approved: Number(cells[1]), flagged: Number(cells[2]), rejected: Number(cells[3]) }]));
}

describe('the real-time metrics page', () => {
  let app: RunningApp;
  let browser: Browser | undefined;
  let skip: string | undefined;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-dash-metrics-'));
  const config = loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {});
  const decided: Sent[] = [];
  const problems: string[] = [];

  /** Decide each event over HTTP: answered once stored. */
  const decide = async (events: object[]): Promise<void> => {
    for (const event of events) {
      const res = await fetch(`${app.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
      assert.equal(res.status, 200, await res.clone().text());
      decided.push({ ...((await res.json()) as Decision), ...(event as { event_type: string; channel?: string }) });
    }
  };
  const open = async (url: string, state: string): Promise<Page> => {
    const page = await browser!.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${app.url}${url}`);
    await page.waitForSelector(`.metrics[data-state="${state}"]`);
    return page;
  };

  before(async () => {
    const launched = await launchBrowser();
    if ('skip' in launched) {
      skip = launched.skip;
      return;
    }
    browser = launched;
    app = await startApp(config);
    await decide(batch('first', { transactions: 10, logins: 5, withdrawals: 4, transfers: 3 }));
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('charts the last hour from the store, split by event type and by channel, with the rates against their usual level', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const sent = tally(decided).get('all')!;
    assert.ok(OUTCOMES.every((o) => sent[o] > 0), `the events were decided every way: ${JSON.stringify(sent)}`);

    const page = await open('/?range=1h', 'loaded');
    assert.deepEqual(await rangeCounts(page), sent);
    for (const outcome of ['flagged', 'rejected'] as const) {
      const rate = (100 * sent[outcome]) / sent.decisions;
      assert.ok(Math.abs((await numberIn(page, `#rate-${outcome}`)) - rate) < 0.05, `${outcome} rate`);
      // Every decision is this hour's, so the week's level is the same.
      assert.ok(Math.abs((await numberIn(page, `#usual-${outcome}`)) - rate) < 0.05, `usual ${outcome} rate`);
    }
    const times = decided.map((d) => d.processing_time_ms);
    const worstP99 = await numberIn(page, '#latency-worst');
    const printed = worstP99 >= 10 ? 0.5 : 0.005; // printed with 2 decimals below 10 ms, whole above
    assert.ok(worstP99 >= Math.min(...times) - printed && worstP99 <= Math.max(...times) + printed, `highest p99 ${worstP99} ms lies among the decisions' ${Math.min(...times)}–${Math.max(...times)} ms`);

    // The split, chosen with its control: the URL follows, and focus stays on the control.
    await page.selectOption('#metrics-by', 'event_type');
    await page.waitForSelector('.metrics[data-by="event_type"][data-state="loaded"]');
    assert.equal(new URL(page.url()).search, '?range=1h&by=event_type');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'metrics-by');
    assert.deepEqual(await splitRows(page), tally(decided, (d) => d.event_type));
    assert.deepEqual(await screenshotWidths(page, 'metrics-1h-by-event-type'), { 390: 0, 1440: 0 });

    const byChannel = await open('/?range=1h&by=channel', 'loaded');
    assert.deepEqual(await splitRows(byChannel), tally(decided, (d) => d.channel ?? '(none)'));
    assert.deepEqual(problems, [], 'no script errors on the page');
  });

  it('answers GET /api/v1/history with the stored buckets and refuses a range or split it does not know', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const res = await fetch(`${app.url}/api/v1/history?range=24h&by=channel`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { bucket_seconds: number; buckets: Counts[]; totals: Counts; values: ({ value: string } & Counts)[] };
    assert.equal(body.bucket_seconds, 900);
    assert.equal(body.buckets.length, 96);
    assert.equal(body.buckets.reduce((n, b) => n + b.decisions, 0), decided.length);
    assert.deepEqual(new Map(body.values.map(({ value, ...counts }) => [value, counts])), tally(decided, (d) => d.channel ?? '(none)'));
    for (const query of ['range=2h', 'by=merchant_id', 'range=1h&by=']) assert.equal((await fetch(`${app.url}/api/v1/history?${query}`)).status, 400, query);
  });

  it('starts "15 min (live)" from the store and adds each second’s decisions from the live feed', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const page = await open('/', 'live');
    assert.equal(await page.inputValue('#metrics-range'), '15m');
    assert.deepEqual(await rangeCounts(page), tally(decided).get('all'), 'seeded from the store: never empty after a load');

    await decide(batch('live', { transactions: 3, logins: 0, withdrawals: 2, transfers: 1 }));
    const expected = tally(decided).get('all')!;
    await page.waitForFunction((total) => document.getElementById('range-total-decisions')?.textContent === String(total), expected.decisions);
    assert.deepEqual(await rangeCounts(page), expected, 'the live points count each new decision once, by outcome');
    assert.deepEqual(await screenshotWidths(page, 'metrics'), { 390: 0, 1440: 0 });
    assert.deepEqual(problems, [], 'no script errors on the page');
  });

  it('keeps the history charts across a restart', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await app.stop();
    app = await startApp(config);
    const expected = tally(decided).get('all')!;
    const hour = await open('/?range=1h&by=event_type', 'loaded');
    assert.deepEqual(await rangeCounts(hour), expected);
    assert.deepEqual(await splitRows(hour), tally(decided, (d) => d.event_type));
    const live = await open('/', 'live');
    assert.deepEqual(await rangeCounts(live), expected, 'the live range starts from the store after a restart too');
    assert.deepEqual(problems, [], 'no script errors on the page');
  });
});
