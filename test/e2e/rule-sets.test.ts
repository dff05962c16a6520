import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { decideAcrossChange } from '../support/decisions.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, k) => ({ event_id: `rs-${from + k}`, event_type: 'transaction', timestamp: T0 + (from + k) * 100, user_id: `user-${(from + k) % 19}`, amount: 150, channel: 'web', country: 'DE' }));
const strict = (version: string, over: number) => ({
  version,
  thresholds: { default: 0.7 },
  rules: [{ id: 'over_limit', kind: 'condition', when: `event.amount > ${over}.0`, outcome: 'rejected', message: 'amount {event.amount} over the new limit' }],
});

describe('rule sets versioned in the store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-rulesets-'));
  // Activations apply through the API's own follow: no background poll races the test.
  const config = loadConfig({ dataDir: path.join(dir, 'data'), port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, rulesPollMs: 3_600_000 }, {});
  let app: RunningApp;
  const post = (url: string, body?: unknown): Promise<Response> =>
    fetch(`${app.url}${url}`, { method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });

  before(async () => {
    app = await startApp(config);
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a rule set that does not validate or compile, with each problem and its path', async () => {
    const res = await post('/api/v1/rules', { version: 'bad', thresholds: { default: 0.7 }, rules: [{ id: 'typo', kind: 'condition', when: 'features.count_1hour > 3.0', outcome: 'flagged' }] });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { problems: string[] };
    assert.deepEqual(body.problems, ['/rules/0/when (typo): no feature "count_1hour" in the feature set']);
    assert.equal((await post('/api/v1/rules', { version: 'bad', thresholds: { default: 3 }, rules: [] })).status, 422);
    assert.equal((await post('/api/v1/rules/bad/activate')).status, 404, 'nothing refused was stored');
  });

  it('stores versions once, switches every event from the next batch on without a lost one, and rolls back', async () => {
    assert.deepEqual(await (await post('/api/v1/rules', strict('strict-1', 100))).json(), { version: 'strict-1', stored: true });
    assert.deepEqual(await (await post('/api/v1/rules', strict('strict-1', 100))).json(), { version: 'strict-1', stored: false }, 'the same again changes nothing');
    assert.equal((await post('/api/v1/rules', strict('strict-1', 500))).status, 409, 'a version is immutable');

    const decided = await decideAcrossChange(app, batch, async () => {
      const activated = await post('/api/v1/rules/strict-1/activate');
      assert.deepEqual(await activated.json(), { active: 'strict-1', served: 'strict-1' });
    });

    assert.equal(decided.size, 900);
    for (const e of batch(0, 300)) assert.equal(decided.get(e.event_id)!.rules_version, 'builtin-1', e.event_id);
    for (const e of batch(600, 300)) {
      const d = decided.get(e.event_id)!;
      assert.equal(d.rules_version, 'strict-1', e.event_id);
      assert.equal(d.decision, 'rejected');
      assert.ok(d.reasons.some((r) => r.code === 'over_limit' && r.message === 'amount 150 over the new limit'));
    }
    // Events in flight during the switch: each decided once, by whole rule sets, consistently.
    for (const d of decided.values()) assert.equal(d.rules_version === 'strict-1', d.decision === 'rejected', d.event_id);

    assert.equal((await post('/api/v1/rules/rollback')).status, 409, 'no earlier stored rule set');
    await post('/api/v1/rules', strict('strict-2', 1000));
    await post('/api/v1/rules/strict-2/activate');
    assert.deepEqual(await (await post('/api/v1/rules/rollback')).json(), { active: 'strict-1', served: 'strict-1' });
    const listed = (await (await fetch(`${app.url}/api/v1/rules`)).json()) as { active: string; served: string; versions: { version: string; rules: number }[] };
    assert.equal(listed.active, 'strict-1');
    assert.deepEqual(
      listed.versions.map((v) => [v.version, v.rules]),
      [
        ['strict-1', 1],
        ['strict-2', 1],
      ],
    );
  });
});
