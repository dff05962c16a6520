import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ApiKeyFormatError, parseApiKeys } from '../../src/api/api-keys.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { runCapture } from '../../src/cli/capture.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observe/index.ts';
import { waitFor } from '../support/wait.ts';
import { upgrade } from '../support/websocket.ts';

const KEYS = { admin: 'admin-key-0123456789', read: 'read-key-0123456789a', ingest: 'ingest-key-012345678' };
const event = { event_id: 'acc-1', event_type: 'transaction', timestamp: '2026-11-26T12:00:00Z', user_id: 'ann', amount: 12 };

/** Every route that changes something, with the role it needs. */
const WRITES: { method: string; url: string; body?: unknown; need: 'ingest' | 'admin' }[] = [
  { method: 'POST', url: '/api/v1/events', body: [event], need: 'ingest' },
  { method: 'POST', url: '/api/v1/decide', body: { ...event, event_id: 'acc-2' }, need: 'ingest' },
  { method: 'POST', url: '/api/v1/labels', body: { event_id: 'acc-1', is_fraud: false }, need: 'ingest' },
  { method: 'POST', url: '/api/v1/models/v1/activate', need: 'admin' },
  { method: 'POST', url: '/api/v1/models/rollback', need: 'admin' },
  { method: 'POST', url: '/api/v1/models/v1/challenge', need: 'admin' },
  { method: 'DELETE', url: '/api/v1/models/challenger', need: 'admin' },
  { method: 'POST', url: '/api/v1/lists/block', body: { field: 'user_id', value: 'mallory' }, need: 'admin' },
  { method: 'DELETE', url: '/api/v1/lists/block/user_id/mallory', need: 'admin' },
  { method: 'POST', url: '/api/v1/rules', body: { version: 'access-1', thresholds: { default: 0.7 }, rules: [] }, need: 'admin' },
  { method: 'POST', url: '/api/v1/rules/access-1/activate', need: 'admin' },
  { method: 'POST', url: '/api/v1/rules/rollback', need: 'admin' },
  { method: 'POST', url: '/api/v1/rules/backtest?version=access-1', need: 'admin' },
];
const READS = ['/api/v1/summary', '/api/v1/features', '/api/v1/decisions', '/api/v1/models', '/api/v1/models/live', '/api/v1/models/challenger', '/api/v1/lists', '/api/v1/rules', '/metrics'];

describe('API keys and roles', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-access-'));
  const logged: { msg: string; route?: string; need?: string; role?: string; key?: string }[] = [];
  let app: RunningApp;
  const call = (method: string, url: string, key?: string, body?: unknown): Promise<Response> =>
    fetch(`${app.url}${url}`, {
      method,
      headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  before(async () => {
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logged.push(JSON.parse(line) as (typeof logged)[number]);
        done();
      },
    });
    const apiKeys = parseApiKeys(Object.entries(KEYS).map(([role, key]) => `${role}:${key}`).join(','));
    app = await startApp(loadConfig({ dataDir: path.join(dir, 'data'), port: 0, generator: false, trainOnStart: false, sinkFlushMs: 5, apiKeys }, {}), { logger: createLogger('warn', logs) });
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every write without a key (401), with a key lacking the role (403), and lets the right role through', async () => {
    for (const w of WRITES) {
      const route = `${w.method} ${w.url}`;
      assert.equal((await call(w.method, w.url, undefined, w.body)).status, 401, `${route} without a key`);
      assert.equal((await call(w.method, w.url, 'not-a-key-of-ours-at-all', w.body)).status, 401, `${route} with an unknown key`);
      assert.equal((await call(w.method, w.url, KEYS.read, w.body)).status, 403, `${route} with a read key`);
      const other = w.need === 'ingest' ? KEYS.admin : KEYS.ingest;
      const allowed = await call(w.method, w.url, w.need === 'ingest' ? KEYS.ingest : KEYS.admin, w.body);
      assert.ok(allowed.status !== 401 && allowed.status !== 403, `${route} with the ${w.need} role: ${allowed.status}`);
      if (w.need === 'admin') assert.equal((await call(w.method, w.url, other, w.body)).status, 403, `${route} with an ingest key`);
    }
  });

  it('lets read and admin keys read, and refuses an ingest key or none', async () => {
    for (const url of READS) {
      assert.equal((await call('GET', url)).status, 401, url);
      assert.equal((await call('GET', url, KEYS.ingest)).status, 403, url);
      assert.equal((await call('GET', url, KEYS.read)).status, 200, url);
      assert.equal((await call('GET', url, KEYS.admin)).status, 200, url);
    }
    const viaHeader = await fetch(`${app.url}/api/v1/summary`, { headers: { 'x-api-key': KEYS.read } });
    assert.equal(viaHeader.status, 200, 'X-API-Key works too');
    for (const url of ['/healthz', '/readyz', '/', '/api/v1/schemas', '/api/v1/schemas/event/1']) assert.equal((await call('GET', url)).status, 200, `${url} stays public`);
  });

  it('opens the live feed to a read key given in the query, as the dashboard does', async () => {
    const ws = (query: string): Promise<string> => upgrade(app.url, {}, query);
    assert.equal(await ws(''), '401');
    assert.equal(await ws(`?api_key=${KEYS.ingest}`), '403');
    assert.equal(await ws(`?api_key=${KEYS.read}`), 'open');
  });

  it('records traffic (GET /api/v1/capture) for a read key only, which rtds capture sends with --api-key', async () => {
    assert.equal((await call('GET', '/api/v1/capture')).status, 401);
    assert.equal((await call('GET', '/api/v1/capture', KEYS.ingest)).status, 403);
    const out = path.join(dir, 'capture');
    await assert.rejects(runCapture(['--from', app.url, '--out', out, '--quiet']), /answered 401 \(a key with the read role: --api-key\)/);
    // With the key it records until interrupted: the line saying so comes once the instance answered.
    let said = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => ((said += String(chunk)), true)) as typeof process.stderr.write;
    try {
      const capturing = runCapture(['--from', app.url, '--out', path.join(dir, 'capture-with-key'), '--api-key', KEYS.read]);
      await waitFor('the recording to begin', 10_000, () => (said.includes('capture: recording') ? true : undefined));
      process.emit('SIGINT');
      assert.equal((await capturing)?.stopped, 'interrupted');
    } finally {
      process.stderr.write = write;
    }
  });

  it('logs each refusal with its route and need, never the key', () => {
    const refusals = logged.filter((l) => l.msg.startsWith('refused'));
    assert.ok(refusals.some((l) => l.route === 'POST /api/v1/models/:version/activate' && l.need === 'admin' && l.role === 'ingest'));
    assert.ok(refusals.some((l) => l.route === 'GET /metrics' && l.key === 'missing'));
    const text = JSON.stringify(logged);
    for (const key of Object.values(KEYS)) assert.ok(!text.includes(key), 'no key in the logs');
  });

  it('refuses malformed keys in the configuration without repeating them', () => {
    assert.throws(() => parseApiKeys('root:abcdefghijklmnopq'), ApiKeyFormatError);
    assert.throws(() => parseApiKeys('read:short'), /at least 16 characters/);
    assert.throws(() => parseApiKeys('read:abcdefghijklmnopq,admin:abcdefghijklmnopq'), /twice/);
    assert.throws(
      () => loadConfig({}, { RTDS_API_KEYS: 'read:short-secret' }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('short-secret') && e.message.includes('RTDS_API_KEYS'),
    );
  });
});
