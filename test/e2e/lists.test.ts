import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
let n = 0;
const event = (user: string) => ({ event_id: `l-${n++}`, event_type: 'transaction', timestamp: T0 + n * 1000, user_id: user, amount: 25, channel: 'web', country: 'DE' });

describe('block and allow lists changed at runtime', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-lists-'));
  // Changes apply through the API's own follow: no background poll races the test.
  const config = loadConfig({ dataDir: path.join(dir, 'data'), port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, rulesPollMs: 3_600_000 }, {});
  let app: RunningApp;
  const send = (method: string, url: string, body?: unknown): Promise<Response> =>
    fetch(`${app.url}${url}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const decide = async (user: string): Promise<{ decision: string; rules_version: string; reasons: { code: string }[] }> => (await (await send('POST', '/api/v1/decide', event(user))).json()) as never;

  before(async () => {
    app = await startApp(config);
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a user from the moment it is blocked, and decides it by its score again once removed', async () => {
    const before = await decide('mallory');
    assert.equal(before.decision, 'approved');
    assert.equal(before.rules_version, 'builtin-1');

    const added = await send('POST', '/api/v1/lists/block', [{ field: 'user_id', value: 'mallory' }, { field: 'ip_address', value: '203.0.113.9' }]);
    assert.equal(added.status, 200);
    assert.deepEqual(await added.json(), { version: 1, served: 1 });
    const blocked = await decide('mallory');
    assert.equal(blocked.decision, 'rejected');
    assert.ok(blocked.reasons.some((r) => r.code === 'block_list'));
    assert.equal(blocked.rules_version, 'builtin-1+lists.1');
    assert.equal((await decide('ann')).decision, 'approved', 'others are untouched');

    const listed = (await (await send('GET', '/api/v1/lists')).json()) as { version: number; entries: unknown[] };
    assert.deepEqual(listed, {
      version: 1,
      entries: [
        { list: 'block', field: 'ip_address', value: '203.0.113.9' },
        { list: 'block', field: 'user_id', value: 'mallory' },
      ],
    });

    assert.deepEqual(await (await send('DELETE', '/api/v1/lists/block/user_id/mallory')).json(), { version: 2, served: 2 });
    const again = await decide('mallory');
    assert.equal(again.decision, 'approved');
    assert.equal(again.rules_version, 'builtin-1+lists.2');
    assert.equal((await send('DELETE', '/api/v1/lists/block/user_id/mallory')).status, 404);
  });

  it('refuses an entry it cannot apply, naming the problem', async () => {
    const wrongField = await send('POST', '/api/v1/lists/block', { field: 'email', value: 'x@example.com' });
    assert.equal(wrongField.status, 400);
    assert.match(((await wrongField.json()) as { error: string }).error, /field/);
    assert.equal((await send('POST', '/api/v1/lists/grey', { field: 'user_id', value: 'x' })).status, 400);
    assert.equal((await send('POST', '/api/v1/lists/allow', { field: 'user_id', value: '' })).status, 400);
  });
});
