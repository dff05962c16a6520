import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { SystemHealth } from '../../src/api/health.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { FolderRegistry } from '../../src/score/index.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

const PARTITIONS = 3;
const COMPONENTS = ['log', 'store', 'model', 'rules', 'labels', 'process'];

/**
 * A TCP hop between RTDS and PostgreSQL: cut, the store is unreachable as in a network outage
 * (connections dropped, new ones refused) while the server itself, shared with other tests, runs on.
 */
class StoreLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      upstream.connect(this.target.port, this.target.host);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

describe('the system health page in a real browser', () => {
  let app: RunningApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let database: TestDatabase | undefined;
  let link: StoreLink | undefined;
  let skip: string | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-health-'));
  const problems: string[] = [];

  const health = async (): Promise<SystemHealth> => (await (await fetch(`${app!.url}/api/v1/health`)).json()) as SystemHealth;
  /** The page's dead-letter counts of `source` (last hour, total); zeros while it shows no row for it. */
  const shownDeadLetters = (source: string): Promise<number[]> =>
    page.$$eval(`#dead-letters tr[data-source="${source}"] td.num`, (cells) => cells.map((td) => Number(td.textContent!.replace(/,/g, '')))).then((n) => (n.length === 0 ? [0, 0] : n));

  before(async () => {
    const launched = await launchBrowser();
    if ('skip' in launched) return void (skip = launched.skip);
    browser = launched;
    const made = await createTestDatabase();
    if ('skip' in made) return void (skip = made.skip);
    database = made;
    const target = new URL(made.url);
    link = new StoreLink({ host: target.hostname, port: Number(target.port || 5432) });
    await link.open();
    target.host = `127.0.0.1:${link.port}`;
    const config = loadConfig(
      {
        dataDir: path.join(dir, 'data'),
        databaseUrl: target.toString(),
        modelRegistry: 'folder',
        modelDir: path.join(dir, 'models'),
        partitions: PARTITIONS,
        port: 0,
        generator: false,
        trainOnStart: false,
        logLevel: 'silent',
        sinkFlushMs: 5,
        sinkRetryMaxMs: 500,
        readyProbeMs: 200,
        readyStoreFailingMs: 500,
        shutdownTimeoutMs: 3000,
      },
      {},
    );
    // A served model, so that every component can be ok (rules only is a degraded model).
    const registry = new FolderRegistry(config.modelDir);
    await trainOnGeneratedHistory({ registry, events: 3000, seed: 2, epochs: 1, features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: PARTITIONS, thresholds: [0.5, 0.7], activate: false });
    await registry.activate('v1');
    app = await startApp(config);
    page = await browser.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${app.url}/health`);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await link?.cut();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows every component ok, the partitions of RTDS_PARTITIONS and the process figures', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // The process is sampled every 2 s, and the start's own work can delay the event loop in the
    // first sample: the page polls until every component is ok, then each card is read.
    await page.waitForFunction(() => document.getElementById('cpu')?.textContent?.endsWith('%') === true, undefined, { timeout: 10_000 });
    // Past the deadline the cards' assertions below say which component is not ok, and why.
    await page.waitForFunction(() => /every component is ok/.test(document.getElementById('overall')!.textContent!), undefined, { timeout: 10_000 }).catch(() => undefined);
    for (const name of COMPONENTS) {
      const card = page.locator(`.card[data-component="${name}"]`);
      await card.waitFor();
      assert.equal((await card.locator('.status-word').textContent())?.trim(), '✓ ok', `${name}: ${await card.locator('.reason').textContent()}`);
    }
    assert.match((await page.textContent('.card[data-component="model"] .reason'))!, /^v1 served, circuit closed/);
    assert.match((await page.textContent('#overall'))!, /^✓ ok — every component is ok/);

    const listed = await page.$$eval('#partitions tr', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.partition)));
    assert.deepEqual(listed, [0, 1, 2], 'one row per partition of RTDS_PARTITIONS, all read by this process');
    assert.match((await page.textContent('#log-summary'))!, new RegExp(`${PARTITIONS} partitions per input`));

    const figure = async (id: string): Promise<number> => Number((await page.textContent(`#${id}`))!.replace(/,/g, '').match(/[\d.]+/)![0]);
    for (const id of ['cpu', 'rss', 'heap', 'gc']) assert.ok((await figure(id)) > 0, `${id} shown > 0: ${await page.textContent(`#${id}`)}`);
    const proc = (await health()).process;
    const latest = proc.latest!;
    for (const [name, value] of Object.entries({ cpu: latest.cpu_percent, rss: latest.rss_bytes, heap: latest.heap_used_bytes, delay_p99: latest.event_loop_delay_ms.p99, gc: proc.gc_since_start.count, gc_ms: proc.gc_since_start.ms })) {
      assert.ok(typeof value === 'number' && value > 0, `${name} is a number > 0: ${value}`);
    }
    assert.equal(await page.locator('.chart canvas').count(), 3, 'CPU, RSS and event-loop delay charts');
  });

  it('counts invalid events sent over HTTP as dead letters of source http, exactly as many as were sent', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const [recentBefore, totalBefore] = await shownDeadLetters('http');
    const invalid = [{ event_id: 'bad-type', event_type: 'teleport', user_id: 'u1' }, { event_id: 'no-user', event_type: 'login' }, { event_id: 'bad-amount', event_type: 'transaction', user_id: 'u2', amount: 'lots' }, { user_id: 'u3' }];
    const res = await fetch(`${app!.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(invalid) });
    assert.equal(res.status, 400, await res.text());
    const want = [recentBefore! + invalid.length, totalBefore! + invalid.length];
    await page.waitForFunction(
      (expected) => {
        const cells = document.querySelectorAll('#dead-letters tr[data-source="http"] td.num');
        return Array.from(cells, (td) => Number(td.textContent!.replace(/,/g, ''))).join() === expected.join();
      },
      want,
      { timeout: 15_000 },
    );
    // Counted again (every 5 s), the count stands: each was stored once.
    const counted = await page.textContent('#dead-letters-note');
    await page.waitForFunction((before) => document.getElementById('dead-letters-note')!.textContent !== before, counted, { timeout: 15_000 });
    assert.deepEqual(await shownDeadLetters('http'), want);
    const overflow = await screenshotWidths(page, 'health');
    assert.deepEqual(overflow, { 390: 0, 1440: 0 }, 'no sideways scroll at 390 or 1440 px');
  });

  it('shows the store down with the reason while PostgreSQL cannot be reached', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await link!.cut();
    // Readiness probes the store every 200 ms; dead letters are counted every 5 s.
    const down = await waitFor('the store down and dead letters unknown in /api/v1/health', 15_000, async () => {
      const h = await health();
      return h.components.find((c) => c.name === 'store')?.status === 'down' && 'error' in h.dead_letters ? h : undefined;
    });
    const store = down.components.find((c) => c.name === 'store')!;
    assert.match(store.reason, /^PostgreSQL: .*store (unreachable|writes failing|and model registry probe unanswered)/);
    assert.equal(down.status, 'down');
    assert.equal(down.store.reachable, false);
    await page.waitForSelector('.card[data-component="store"][data-status="down"]', { timeout: 10_000 });
    assert.equal((await page.textContent('.card[data-component="store"] .status-word'))?.trim(), '✕ down');
    assert.deepEqual(await screenshotWidths(page, 'health-store-down'), { 390: 0, 1440: 0 }, 'no sideways scroll with the reasons of an outage');

    await link!.open();
    await waitFor('the store ok again', 15_000, async () => ((await health()).components.find((c) => c.name === 'store')?.status === 'ok' ? true : undefined));
    assert.deepEqual(problems, [], 'no script errors on the page');
  });
});
