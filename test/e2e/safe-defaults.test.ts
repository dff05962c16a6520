import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseApiKeys } from '../../src/api/api-keys.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { MAX_RULES } from '../../src/decide/index.ts';
import { clip, createLogger } from '../../src/observe/index.ts';
import { collectDecisions } from '../support/decisions.ts';
import { upgrade } from '../support/websocket.ts';

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

/** An app whose log lines are kept, raw and parsed, for the test to read. */
async function startLogged(dir: string, overrides: Partial<Config>): Promise<{ app: RunningApp; lines: string[]; logged: LogLine[] }> {
  const lines: string[] = [];
  const logged: LogLine[] = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        logged.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  const config = loadConfig({ dataDir: path.join(dir, 'data'), port: 0, generator: false, trainOnStart: false, sinkFlushMs: 5, rulesPollMs: 3_600_000, ...overrides }, {});
  return { app: await startApp(config, { logger: createLogger('info', logs) }), lines, logged };
}

/** A GET with a Host header of our choosing (fetch will not set one). */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once `condition` holds; fails after `ms`. */
async function until(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const event = (id: string, k = 0) => ({ event_id: id, event_type: 'transaction', timestamp: Date.now() - 60_000 + k, user_id: `user-${k % 37}`, amount: 10 + (k % 90), channel: 'web', country: 'DE' });
const ruleSet = (version: string, rules: number, when = 'event.amount > 100000.0') => ({
  version,
  thresholds: { default: 0.7 },
  rules: Array.from({ length: rules }, (_, i) => ({ id: `r${i}`, kind: 'condition', when, outcome: 'flagged' })),
});

describe('safe defaults without keys: loopback hosts, same-origin browsers, bounded logs and backtests', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-safe-'));
  const BACKTEST_TIMEOUT_MS = 4000;
  let app: RunningApp;
  let lines: string[];
  let logged: LogLine[];
  const post = (url: string, body: unknown): Promise<Response> => fetch(`${app.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    ({ app, lines, logged } = await startLogged(dir, { allowedHosts: ['rtds.example.com'], backtestTimeoutMs: BACKTEST_TIMEOUT_MS }));
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers loopback host names and the allowed ones, with any port, and refuses a foreign Host with 421 and the reason', async () => {
    const summary = `${app.url}/api/v1/summary`;
    for (const host of ['localhost', 'localhost:8501', '127.0.0.1', '127.0.0.1:1', '[::1]:8501', 'LOCALHOST', 'rtds.example.com', 'rtds.example.com:443']) {
      assert.equal((await getWithHost(summary, host)).status, 200, host);
    }
    for (const host of ['evil.example', 'evil.example:8501', 'localhost.evil.example', '127.0.0.2', 'rtds.example.com.evil.example']) {
      const res = await getWithHost(summary, host);
      assert.equal(res.status, 421, host);
      assert.match((JSON.parse(res.body) as { error: string }).error, /RTDS_ALLOWED_HOSTS/);
    }
    assert.equal((await getWithHost(`${app.url}/`, 'evil.example')).status, 421, 'the dashboard page too');
    assert.ok(logged.some((l) => l.msg.startsWith('refused: a host name') && l.host === 'evil.example'));
  });

  it('opens /ws to the server’s own pages and to clients without an Origin, and refuses another origin with 403', async () => {
    const own = new URL(app.url).host;
    assert.equal(await upgrade(app.url), 'open', 'no Origin: not a browser');
    assert.equal(await upgrade(app.url, { origin: `http://${own}` }), 'open', 'same origin');
    assert.equal(await upgrade(app.url, { origin: 'https://rtds.example.com' }), 'open', 'an allowed name');
    assert.equal(await upgrade(app.url, { origin: 'http://evil.example' }), '403');
    assert.equal(await upgrade(app.url, { origin: `http://localhost:${Number(new URL(app.url).port) + 1}` }), '403', 'another port is another origin');
    assert.equal(await upgrade(app.url, { origin: 'null' }), '403');
  });

  it('refuses a cross-site POST (a page elsewhere submitting to the local API) but not the same origin’s', async () => {
    const own = new URL(app.url).origin;
    const cross = await fetch(`${app.url}/api/v1/rules/rollback`, { method: 'POST', headers: { origin: 'http://evil.example' } });
    assert.equal(cross.status, 403);
    assert.match(((await cross.json()) as { error: string }).error, /evil\.example/);
    const same = await fetch(`${app.url}/api/v1/rules/rollback`, { method: 'POST', headers: { origin: own } });
    assert.ok(same.status !== 403 && same.status !== 421, `same origin: ${same.status}`);
  });

  it('logs a refused event’s oversized id and quoted values bounded, not verbatim', async () => {
    // Long enough to be refused and to show the bound; short enough for today's dead-letter index.
    const id = `x${'0123456789'.repeat(200)}`;
    const res = await post('/api/v1/events', { ...event(id), event_type: `t${'y'.repeat(5000)}` });
    assert.equal(res.status, 400);
    await until(() => logged.some((l) => l.msg === 'invalid input dead-lettered' && String(l.event_id).startsWith('x0123')), 'the dead-letter log line');
    const line = lines.find((l) => l.includes('invalid input dead-lettered') && l.includes('"event_id":"x0123'))!;
    const parsed = JSON.parse(line) as { event_id: string; errors: { field: string; reason: string }[] };
    assert.ok(parsed.event_id.length <= clip(id).length, `event_id of ${parsed.event_id.length} characters in the log`);
    assert.ok(parsed.errors.every((e) => e.reason.length < 300), 'a reason quoting the input is bounded too');
    assert.ok(line.length < 2000, `log line of ${line.length} characters`);
  });

  it(`refuses a rule set of more than ${MAX_RULES} rules with 413 and the reason, to store or to backtest`, async () => {
    for (const url of ['/api/v1/rules', '/api/v1/rules/backtest']) {
      const res = await post(url, ruleSet('huge', 20_000));
      assert.equal(res.status, 413, url);
      const body = (await res.json()) as { error: string; problems: string[] };
      assert.deepEqual(body.problems, [`/rules has 20000 rules; a rule set holds at most ${MAX_RULES}`]);
    }
    const tooMany = await post('/api/v1/rules/backtest?limit=100001', ruleSet('small', 1));
    assert.equal(tooMany.status, 413);
    assert.match(((await tooMany.json()) as { error: string }).error, /at most 100000 stored decisions/);
  });

  it('stops a backtest at its deadline with 503 and how far it got, answering /healthz all along', async () => {
    const { reached } = collectDecisions(app);
    const n = 2000;
    const all = reached(n);
    const sent = await post('/api/v1/events', Array.from({ length: n }, (_, k) => event(`bt-${k}`, k)));
    assert.equal(sent.status, 202);
    await all;
    await app.sink.flush();

    // 1,000 interpreted conditions on 2,000 events: many times the budget on any machine.
    let answered: Response | undefined;
    const backtest = post('/api/v1/rules/backtest', ruleSet('slow', MAX_RULES, 'size(event.user_id) > 1000')).then((res) => (answered = res));
    await until(() => logged.some((l) => l.msg === 'backtest replaying stored decisions'), 'the replay to start');
    const health = await fetch(`${app.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(answered, undefined, '/healthz answered while the backtest was still replaying');

    const res = await backtest;
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: string; replayed: number; events: number; timeout_ms: number };
    assert.equal(body.timeout_ms, BACKTEST_TIMEOUT_MS);
    assert.equal(body.events, n);
    assert.ok(body.replayed < n, `replayed ${body.replayed}`);
    assert.match(body.error, /did not finish within 4000 ms/);
  });
});

describe('with keys: the Bearer scheme in any case, and a rate per key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-rate-'));
  const KEYS = { read: 'read-key-0123456789a', other: 'read-key-9876543210b' };
  const LIMIT = 5;
  let app: RunningApp;

  before(async () => {
    const apiKeys = parseApiKeys(`read:${KEYS.read},read:${KEYS.other}`);
    ({ app } = await startLogged(dir, { apiKeys, rateLimit: LIMIT, logLevel: 'warn' }));
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts `bearer`, `BEARER` and `Bearer` alike', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      assert.equal((await fetch(`${app.url}/api/v1/summary`, { headers: { authorization: `${scheme} ${KEYS.other}` } })).status, 200, scheme);
    }
  });

  it(`answers 429 with Retry-After past ${LIMIT} requests a minute on one key, while other keys and public routes go on`, async () => {
    const get = (key: string) => fetch(`${app.url}/api/v1/summary`, { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < LIMIT; i++) assert.equal((await get(KEYS.read)).status, 200, `request ${i + 1}`);
    const limited = await get(KEYS.read);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, `Retry-After: ${limited.headers.get('retry-after')}`);
    assert.match(((await limited.json()) as { error: string }).error, /at most 5 requests per minute per API key/);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'public routes are not limited');
    assert.equal((await fetch(`${app.url}/api/v1/summary`)).status, 401, 'no key: refused before any count');
    assert.equal((await fetch(`${app.url}/api/v1/summary`, { headers: { 'x-api-key': 'not-a-key-of-ours-at-all' } })).status, 401);
  });

  it('does not check the Host header when keys guard the API', async () => {
    assert.equal((await getWithHost(`${app.url}/healthz`, 'rtds.internal.example')).status, 200);
  });
});
