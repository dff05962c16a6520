import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { ShutdownIncompleteError, startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const CLUSTER_VERSION = '15';
/** Per run, so a leftover of a killed run never collides. */
const CLUSTER = `rtdsoutage_${process.pid}`;
const T0 = Date.parse('2026-11-26T08:00:00Z');
const SHUTDOWN_BOUND_MS = 3000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cluster = (action: 'start' | 'stop'): Promise<unknown> => run('pg_ctlcluster', [CLUSTER_VERSION, CLUSTER, action]);

describe('PostgreSQL stopped and started under traffic (embedded log, a private cluster)', () => {
  let skip: string | undefined;
  let url = '';
  let app: RunningApp | undefined;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-outage-'));

  before(async () => {
    if (!existsSync('/usr/bin/pg_createcluster')) {
      if (process.env.CI === 'true') throw new Error('pg_createcluster is required under CI');
      return void (skip = 'pg_createcluster not installed');
    }
    const port = await freePort();
    await run('pg_createcluster', [CLUSTER_VERSION, CLUSTER, '-p', String(port), '--start', '--', '--auth-host=trust', '--auth-local=trust']);
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  });
  after(async () => {
    await app?.stop().catch(() => undefined);
    if (skip === undefined) await run('pg_dropcluster', ['--stop', CLUSTER_VERSION, CLUSTER]).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is not ready and answers 503 with Retry-After while it is down, then stores every accepted event exactly once', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const config = loadConfig(
      { dataDir, databaseUrl: url, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, sinkRetryMaxMs: 500, readyProbeMs: 200, readyStoreFailingMs: 500, shutdownTimeoutMs: SHUTDOWN_BOUND_MS },
      {},
    );
    app = await startApp(config);
    const base = app.url;
    const post = (route: string, body: unknown): Promise<Response> => fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // Traffic throughout: batches of 20 events, each accepted id remembered, every status kept.
    const accepted = new Set<string>();
    const statuses: number[] = [];
    let sending = true;
    let n = 0;
    const traffic = (async () => {
      while (sending) {
        const batch = Array.from({ length: 20 }, () => {
          const i = n++;
          return { event_id: `o-${i}`, event_type: 'transaction', timestamp: T0 + i * 1000, user_id: `user-${i % 17}`, amount: 10 + (i % 300), channel: 'web', country: 'DE' };
        });
        const res = await post('/api/v1/events', batch);
        statuses.push(res.status);
        if (res.status === 202) for (const id of ((await res.json()) as { event_ids: string[] }).event_ids) accepted.add(id);
        else await res.body?.cancel();
        // Pacing, not synchronisation: about 1,000 events/s.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const readyz = async (): Promise<{ status: number; body: { status: string; reasons?: string[] } }> => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; reasons?: string[] } };
    };
    try {
      await waitFor('decisions before the outage', 20_000, async () => (accepted.size >= 200 ? true : undefined));
      assert.equal((await readyz()).status, 200);

      await cluster('stop');
      const down = await waitFor('/readyz to turn 503', 15_000, async () => {
        const r = await readyz();
        return r.status === 503 ? r : undefined;
      });
      assert.equal(down.body.status, 'not ready');
      assert.ok(down.body.reasons?.some((r) => /store/.test(r)), `the reason names the store: ${JSON.stringify(down.body.reasons)}`);

      const decide = await post('/api/v1/decide', { event_id: 'during-outage', event_type: 'login', timestamp: T0, user_id: 'user-1' });
      const decideText = await decide.text();
      assert.equal(decide.status, 503, decideText);
      assert.ok(Number(decide.headers.get('retry-after')) > 0, 'Retry-After says when to come back');
      assert.equal((JSON.parse(decideText) as { code: string }).code, 'store_unavailable');
      assert.doesNotMatch(decideText, /ECONN|stack|at /, 'no internals in the body');
      const list = await fetch(`${base}/api/v1/decisions`);
      assert.equal(list.status, 503);
      assert.ok(list.headers.get('retry-after'));
      await list.body?.cancel();
      const sentDuringOutage = accepted.size;
      await waitFor('events accepted during the outage', 10_000, async () => (accepted.size >= sentDuringOutage + 100 ? true : undefined));

      await cluster('start');
      await waitFor('/readyz to turn 200 again', 30_000, async () => ((await readyz()).status === 200 ? true : undefined));
    } finally {
      sending = false;
      await traffic;
    }
    assert.deepEqual([...new Set(statuses)], [202], 'every batch accepted, no 5xx');

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const stored = await waitFor('every accepted event decided and stored', 30_000, async () => {
        const [row] = (await client.query<{ events: number; decisions: number; distinct_events: number }>('SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events')).rows;
        return row!.decisions >= accepted.size ? row : undefined;
      });
      assert.deepEqual(stored, { events: accepted.size, decisions: accepted.size, distinct_events: accepted.size }, 'zero lost, zero duplicated');
      const ids = new Set((await client.query<{ event_id: string }>('SELECT event_id FROM decisions')).rows.map((r) => r.event_id));
      assert.deepEqual([...accepted].filter((id) => !ids.has(id)), [], 'each accepted event has its decision');
    } finally {
      await client.end();
    }
  });
  it('a shutdown while the store is down ends within its bound and says what was not decided', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const running = app!;
    const retries = async (): Promise<number> => (await running.metrics.storeWriteRetries.get()).values.reduce((n, v) => n + v.value, 0);
    const retriedBefore = await retries();
    await cluster('stop');
    const res = await fetch(`${running.url}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ event_id: `late-${i}`, event_type: 'login', timestamp: T0 + i, user_id: 'user-9' }))),
    });
    assert.equal(res.status, 202);
    await res.body?.cancel();
    // Nothing is decided unclaimed: the batch waits for its claim, retried while the store is away.
    await waitFor('the batch waiting for its claim', 10_000, async () => (running.lag() >= 20 && (await retries()) > retriedBefore ? true : undefined));
    assert.equal(running.sink.pending, 0, 'nothing decided');
    const started = performance.now();
    await assert.rejects(running.stop(), (err: unknown) => err instanceof ShutdownIncompleteError && err.undrainedRecords >= 20);
    app = undefined;
    const ms = performance.now() - started;
    assert.ok(ms < SHUTDOWN_BOUND_MS + 5000, `stopped in ${Math.round(ms)} ms, bound ${SHUTDOWN_BOUND_MS} ms`);
  });
});
