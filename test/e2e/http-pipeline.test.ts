import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { openDatabase } from '../../src/store/index.ts';

const T0 = Date.parse('2026-11-26T09:00:00Z');
const valid = Array.from({ length: 300 }, (_, i) => ({
  event_id: `e2e-${i}`,
  event_type: i % 5 === 0 ? 'login' : 'transaction',
  timestamp: new Date(T0 + i * 1000).toISOString(),
  user_id: `user-${i % 17}`,
  ...(i % 5 === 0 ? {} : { amount: 10 + (i % 40), currency: 'EUR', channel: 'web' }),
  country: i === 7 ? 'KP' : 'DE',
}));
/** After the batch's events, so the watermark of whichever partition holds it leaves it on time. */
const SYNC_TIME = T0 + 3_600_000;
const invalid = [
  { event_id: 'bad-no-user', event_type: 'transaction', timestamp: new Date(T0).toISOString(), amount: 5 },
  { event_id: 'bad-amount', event_type: 'transfer', timestamp: new Date(T0).toISOString(), user_id: 'u', amount: -1 },
  { event_id: 'bad-time', event_type: 'login', timestamp: 'not a time', user_id: 'u', country: 'Germany' },
];

describe('the embedded app over HTTP', () => {
  let app: RunningApp;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-e2e-'));
    app = await startApp(loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {}));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const post = (route: string, body: unknown): Promise<Response> =>
    fetch(`${app.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('is live and ready', async () => {
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${app.url}/readyz`)).status, 200);
  });

  it('streams decisions and the summary over /ws', async () => {
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/ws`);
    const seen = new Set<string>();
    let summaries = 0;
    const allSeen = new Promise<void>((resolve) =>
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { type: string; data: { event_id: string }[] };
        if (m.type === 'summary') summaries++;
        if (m.type === 'decisions') for (const d of m.data) seen.add(d.event_id);
        if (seen.has('e2e-0') && seen.has('e2e-1')) resolve();
      }),
    );
    await new Promise((resolve) => ws.once('open', resolve));
    const res = await post('/api/v1/events', valid.slice(0, 2));
    assert.equal(res.status, 202);
    await allSeen;
    assert.ok(summaries >= 1, 'a summary arrives on connect');
    ws.close();
  });

  it('accepts a batch, refusing each invalid event with its fields and reasons', async () => {
    const res = await post('/api/v1/events', [...valid.slice(2), ...invalid]);
    assert.equal(res.status, 202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; event_id: string; errors: { field: string; reason: string }[] }[] };
    assert.equal(body.accepted, valid.length - 2);
    assert.deepEqual(
      body.rejected.map((r) => [r.event_id, r.errors.map((e) => e.field).sort()]),
      [
        ['bad-no-user', ['user_id']],
        ['bad-amount', ['amount']],
        ['bad-time', ['country', 'timestamp']],
      ],
    );
  });

  it('answers 400 and dead-letters a body that is not JSON', async () => {
    const res = await post('/api/v1/events', '{"event_id": "broken", ');
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { rejected: { errors: { reason: string }[] }[] }).rejected[0]!.errors[0]!.reason, /not valid JSON/);
  });

  it('decides synchronously with an explained decision, degraded to rules only without a model', async () => {
    const res = await post('/api/v1/decide', { event_id: 'sync-1', event_type: 'withdrawal', timestamp: SYNC_TIME, user_id: 'sync-user', amount: 2500, channel: 'atm', country: 'DE' });
    assert.equal(res.status, 200);
    const d = (await res.json()) as { decision: string; reasons: { code: string; source: string }[]; degraded: string; model_version: string | null; reason: string };
    assert.equal(d.decision, 'flagged', 'the ATM limit fires');
    assert.ok(d.reasons.some((r) => r.code === 'atm_limit' && r.source === 'rule'));
    assert.equal(d.degraded, 'rules_only');
    assert.equal(d.model_version, null);
    assert.match(d.reason, /exceeds the atm limit/);
  });

  it('returns the stored decision when a decided event is sent again, and refuses its id with another body', async () => {
    const same = await post('/api/v1/decide', { event_id: 'sync-1', event_type: 'withdrawal', timestamp: new Date(SYNC_TIME).toISOString(), user_id: 'sync-user', amount: 2500, channel: 'atm', country: 'DE' });
    assert.equal(same.status, 200, 'the same body, its time written otherwise');
    assert.equal(((await same.json()) as { decision: string }).decision, 'flagged');
    const other = await post('/api/v1/decide', { event_id: 'sync-1', event_type: 'withdrawal', timestamp: SYNC_TIME, user_id: 'sync-user', amount: 1, channel: 'atm', country: 'DE' });
    assert.equal(other.status, 409);
    const refusal = (await other.json()) as { code: string; event_id: string; body_hash: string; decided_body_hash: string; error: string };
    assert.equal(refusal.code, 'conflict');
    assert.equal(refusal.event_id, 'sync-1');
    assert.notEqual(refusal.body_hash, refusal.decided_body_hash);
    assert.ok(refusal.error.includes(refusal.body_hash) && refusal.error.includes(refusal.decided_body_hash), refusal.error);
  });

  it('shows an event with its decision, features and reasons, and a refused one with its reasons', async () => {
    await app.sink.flush();
    const res = await fetch(`${app.url}/api/v1/events/sync-1`);
    const body = (await res.json()) as { status: string; event: { amount: number }; decision: { decision: string }; features: Record<string, number>; reasons: unknown[] };
    assert.equal(body.status, 'decided');
    assert.equal(body.event.amount, 2500);
    assert.equal(body.features.amount, 2500);
    assert.equal(body.features.first_event, 1);
    assert.ok(body.reasons.length > 0);
    const refused = (await (await fetch(`${app.url}/api/v1/events/bad-amount`)).json()) as { status: string; dead_letters: { errors: { field: string }[] }[] };
    assert.equal(refused.status, 'dead_letter');
    assert.equal(refused.dead_letters[0]!.errors[0]!.field, 'amount');
    assert.equal((await fetch(`${app.url}/api/v1/events/nope`)).status, 404);
  });

  it('lists decisions with filters and follows the cursor', async () => {
    await app.sink.flush();
    const rejected = (await (await fetch(`${app.url}/api/v1/decisions?decision=rejected`)).json()) as { items: { event_id: string }[] };
    assert.ok(rejected.items.some((d) => d.event_id === 'e2e-7'), 'the blocked country is rejected');
    const first = (await (await fetch(`${app.url}/api/v1/decisions?limit=2&user_id=user-3`)).json()) as { items: { event_id: string }[]; next_cursor: string };
    const second = (await (await fetch(`${app.url}/api/v1/decisions?limit=2&user_id=user-3&cursor=${first.next_cursor}`)).json()) as { items: { event_id: string }[] };
    assert.equal(first.items.length, 2);
    assert.equal(second.items.length, 2);
    assert.equal(new Set([...first.items, ...second.items].map((d) => d.event_id)).size, 4);
    assert.equal((await fetch(`${app.url}/api/v1/decisions?cursor=garbage`)).status, 400);
    assert.equal((await fetch(`${app.url}/api/v1/decisions?decision=maybe`)).status, 400);
  });

  it('exposes Prometheus metrics for events, decisions, dead letters and latency', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    // sync-1 re-sent with its body was accepted again and answered from its claim and the store;
    // with another body it was refused: each decided once.
    const accepted = Number(/rtds_events_in_total\{source="http"\} (\d+)/.exec(text)?.[1]);
    const duplicates = Number(/rtds_duplicate_events_total (\d+)/.exec(text)?.[1]);
    assert.equal(duplicates, 1);
    assert.equal(accepted - duplicates, 301, '300 + sync-1, each decided once');
    assert.match(text, /rtds_conflicting_events_total\{source="http"\} 1/);
    assert.match(text, /rtds_dead_letters_total\{source="http"\} 5/);
    assert.match(text, /rtds_decisions_total\{decision="rejected",event_type="transaction"\} [1-9]/);
    assert.match(text, /rtds_decision_latency_seconds_bucket/);
    // Measured at the scrape: 17 users, in each entity kind of the default set that their events reach.
    const entities = Number(/rtds_feature_state_entities (\d+)/.exec(text)?.[1]);
    assert.ok(entities >= 17 && entities <= 3 * 18, `${entities} entities`);
    const bytes = Number(/rtds_feature_state_bytes (\d+)/.exec(text)?.[1]);
    assert.ok(bytes > entities * 50 && bytes < entities * 20_000, `${bytes} bytes for ${entities} entities`);
  });

  it('lists the feature set decisions are made from', async () => {
    const body = (await (await fetch(`${app.url}/api/v1/features`)).json()) as { feature_set: string; features: { name: string }[] };
    assert.equal(body.feature_set, DEFAULT_FEATURE_SET.version);
    assert.deepEqual(body.features.map((f) => f.name), [...DEFAULT_FEATURE_SET.names]);
  });

  it('accepts labels and refuses malformed ones, dead-lettered with the reason', async () => {
    const res = await post('/api/v1/labels', [{ event_id: 'e2e-3', is_fraud: true }, { event_id: 'e2e-4' }]);
    assert.equal(res.status, 202);
    assert.deepEqual(((await res.json()) as { accepted: number }).accepted, 1);
  });

  it('after a re-send and shutdown, the store holds exactly one decision per valid event and every invalid one as a dead letter', async () => {
    assert.equal((await post('/api/v1/events', valid)).status, 202, 're-send every event');
    await app.stop();
    const db = await openDatabase({ dataDir });
    try {
      const [row] = await db.query<{ events: number; decisions: number; distinct_events: number }>(
        'SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events',
      );
      assert.deepEqual(row, { events: valid.length + 1, decisions: valid.length + 1, distinct_events: valid.length + 1 });
      const missing = await db.query('SELECT e.event_id FROM events e LEFT JOIN decisions d USING (event_id) WHERE d.event_id IS NULL');
      assert.deepEqual(missing, []);
      const letters = await db.query<{ event_id: string | null; source: string; errors: { field: string; reason: string }[] }>('SELECT event_id, source, errors FROM dead_letters ORDER BY id');
      assert.equal(letters.length, 6);
      assert.deepEqual(
        letters.filter((l) => l.source === 'labels').map((l) => [l.event_id, l.errors]),
        [['e2e-4', [{ field: 'is_fraud', reason: 'is required' }]]],
        'the refused label',
      );
      assert.deepEqual(letters.slice(0, 3).map((l) => l.event_id), ['bad-no-user', 'bad-amount', 'bad-time']);
      assert.deepEqual(letters.filter((l) => l.event_id === 'sync-1').map((l) => [l.source, l.errors[0]!.field]), [['http', 'event_id']], 'the re-send with another body');
      assert.ok(letters.every((l) => l.errors.length > 0 && l.errors.every((e) => e.reason.length > 0)));
      const [label] = await db.query<{ is_fraud: boolean }>("SELECT is_fraud FROM labels WHERE event_id = 'e2e-3'");
      assert.equal(label!.is_fraud, true);
    } finally {
      await db.close();
    }
  });
});
