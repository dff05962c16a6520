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

  it('backtests a candidate on stored decisions: mix, changes, hits per rule, precision and recall, checked by hand', async () => {
    const T1 = Date.parse('2026-12-01T00:00:00Z');
    const amounts = [50, 200, 300, 80, 500, 20, 700, 90, 1200, 10];
    const fraud = [false, true, false, false, true, false, true, false, true, false];
    const live: { decision: string; risk_score: number }[] = [];
    for (const [k, amount] of amounts.entries()) {
      const res = await post('/api/v1/decide', { event_id: `bt-${k}`, event_type: 'transaction', timestamp: T1 + k * 1000, user_id: `bt-user-${k}`, amount, channel: 'web', country: 'DE' });
      live.push((await res.json()) as { decision: string; risk_score: number });
    }
    await post('/api/v1/labels', amounts.map((_, k) => ({ event_id: `bt-${k}`, is_fraud: fraud[k] })));
    await app.sink.flush();

    const candidate = { version: 'cand-1', thresholds: { default: 0.7 }, rules: [{ id: 'over_300', kind: 'condition', when: 'event.amount > 300.0', outcome: 'rejected' }, { id: 'never', kind: 'condition', when: "event.country == 'ZZ'", outcome: 'flagged' }] };
    const res = await post(`/api/v1/rules/backtest?since=${new Date(T1).toISOString()}`, candidate);
    assert.equal(res.status, 200);
    const report = (await res.json()) as { candidate: string; events: number; labelled: number; mix: { live: Record<string, number>; candidate: Record<string, number> }; changed: Record<string, number>; hits: Record<string, number>; catch: { candidate: { precision: number; recall: number; caught: number; missed: number; false_alarms: number } } };

    // By hand: the candidate rejects above 300 and otherwise goes by the score it had (flag from 0.5, reject from 0.7).
    const byScore = (s: number): string => (s >= 0.7 ? 'rejected' : s >= 0.5 ? 'flagged' : 'approved');
    const expected = amounts.map((a, k) => (a > 300 ? 'rejected' : byScore(live[k]!.risk_score)));
    const count = (xs: string[]) => ({ approved: xs.filter((x) => x === 'approved').length, flagged: xs.filter((x) => x === 'flagged').length, rejected: xs.filter((x) => x === 'rejected').length });
    assert.equal(report.candidate, 'cand-1');
    assert.equal(report.events, 10);
    assert.equal(report.labelled, 10);
    assert.deepEqual(report.mix.live, count(live.map((d) => d.decision)));
    assert.deepEqual(report.mix.candidate, count(expected));
    assert.equal(
      Object.values(report.changed).reduce((a, b) => a + b, 0),
      expected.filter((x, k) => x !== live[k]!.decision).length,
    );
    assert.deepEqual(report.hits, { over_300: 3, never: 0 });
    const stopped = expected.map((x) => x !== 'approved');
    const caught = stopped.filter((x, k) => x && fraud[k]).length;
    assert.equal(report.catch.candidate.caught, caught);
    assert.equal(report.catch.candidate.missed, fraud.filter((f, k) => f && !stopped[k]).length);
    assert.equal(report.catch.candidate.false_alarms, stopped.filter((x, k) => x && !fraud[k]).length);
    assert.equal(report.catch.candidate.recall, caught / 4);

    assert.equal((await post('/api/v1/rules/backtest?version=strict-9')).status, 404);
    assert.equal((await post('/api/v1/rules/backtest', { version: 'x', thresholds: { default: 0.7 }, rules: [{ id: 'bad', kind: 'condition', when: 'event.nope > 1', outcome: 'flagged' }] })).status, 422);
  });
});
