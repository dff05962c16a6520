import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { Decision } from '../../src/contracts/index.ts';

const T0 = Date.parse('2026-11-26T09:00:00Z');
const MINUTE = 60_000;

interface Explained {
  decision: Decision;
  features: Record<string, number | null>;
}

describe('late events over HTTP (embedded)', () => {
  let app: RunningApp;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-late-'));
    // One partition: one watermark, moved by every event below.
    app = await startApp(loadConfig({ dataDir, port: 0, partitions: 1, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {}));
  });
  after(async () => {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const decide = async (id: string, offsetMs: number, user: string, amount: number): Promise<Decision> => {
    const res = await fetch(`${app.url}/api/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event_id: id, event_type: 'transaction', timestamp: new Date(T0 + offsetMs).toISOString(), user_id: user, amount, currency: 'EUR', country: 'DE', device_id: 'd1', channel: 'web' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Decision;
  };
  /** Feature vectors are stored as 32-bit floats. */
const near = (actual: number | null | undefined, expected: number, name: string): void => assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= 1e-5 * Math.max(1, expected), `${name}: ${actual} ≠ ${expected}`);
  const explained = async (id: string): Promise<Explained> => (await (await fetch(`${app.url}/api/v1/events/${id}`)).json()) as Explained;

  it('decides a late event from the windows of its own time, and one beyond the history kept as partial, never from zeros', async () => {
    // Alice pays 20 EUR every minute for ten minutes; then another user's event moves the watermark 3 h on.
    for (let i = 0; i < 10; i++) await decide(`alice-${i}`, i * MINUTE, 'alice', 20);
    await decide('bob-0', 3 * 60 * MINUTE, 'bob', 5);

    // 30 min behind the watermark: within the late history (1 h), so every window is whole.
    const within = await decide('alice-late-30m', 2.5 * 60 * MINUTE, 'alice', 25);
    assert.equal(within.late, true);
    assert.equal(within.history, 'complete');
    const w = (await explained('alice-late-30m')).features;
    assert.equal(w.user_events_30d, 11, 'her ten payments and itself, as if it had joined');
    near(w.mean_amount_30d, (10 * 20 + 25) / 11, 'mean_amount_30d');
    near(w.amount_to_avg, 25 / ((10 * 20 + 25) / 11), 'amount_to_avg');
    assert.equal(w.partial_history, 0);

    // Almost 3 h behind: its minute, hour and day windows began before the state kept; its month is whole.
    const beyond = await decide('alice-late-3h', 10 * MINUTE, 'alice', 25);
    assert.equal(beyond.late, true);
    assert.equal(beyond.history, 'partial');
    assert.ok(beyond.reasons.some((r) => r.code === 'partial_history'));
    assert.match(beyond.reason, /features are unknown/);
    const b = (await explained('alice-late-3h')).features;
    for (const name of ['count_1m', 'count_1h', 'count_24h', 'session_events']) assert.equal(b[name], null, `${name} is unknown`);
    assert.equal(b.user_events_30d, 11);
    near(b.amount_to_avg, 25 / ((10 * 20 + 25) / 11), 'amount_to_avg');
    assert.equal(b.partial_history, 1);

    // Two days behind: none of a newcomer's history is known, so the ratio to a mean is not amount ÷ 1.
    const old = await decide('carol-2d', -2 * 24 * 60 * MINUTE, 'carol', 2500);
    assert.equal(old.history, 'partial');
    const c = (await explained('carol-2d')).features;
    assert.equal(c.amount_to_avg, null);
    assert.equal(c.amount, 2500);

    // Counted by how late they were.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(metrics, /rtds_late_event_lateness_seconds_count 3\b/);
    assert.match(metrics, /rtds_late_event_lateness_seconds_bucket\{le="3600"\} 1\b/);
    assert.match(metrics, /rtds_partial_history_decisions_total 2\b/);
  });

  it('leaves later on-time events unchanged by the late ones', async () => {
    await decide('alice-next', 3 * 60 * MINUTE + 1000, 'alice', 20);
    const f = (await explained('alice-next')).features;
    // Her ten payments and this one: the late ones joined nothing.
    assert.equal(f.user_events_30d, 11);
    assert.equal(f.mean_amount_30d, 20);
  });
});
