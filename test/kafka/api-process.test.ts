import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { SystemHealth } from '../../src/api/health.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import type { GroupView } from '../../src/transport/transport.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';
import { openKafkaTestbed, type KafkaTestbed } from '../support/kafka.ts';
import { waitFor } from '../support/wait.ts';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const event = (i: number): Record<string, unknown> => ({
  event_id: `api-${i}`,
  event_type: 'transaction',
  timestamp: new Date(T0 + i * 1000).toISOString(),
  user_id: `user-${i % 5}`,
  amount: 20 + i,
  channel: 'app',
  country: 'FR',
});

describe('an API process without a processor, on Kafka', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let api: RunningApp;
  let processor: RunningApp;

  before(async () => {
    const opened = await openKafkaTestbed(3);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    // Two processes' worth: the processor decides; the API only ingests and reads. The decide budget is
    // generous: on a fresh broker the first transaction waits for Kafka to create its transaction log.
    processor = await startApp(bed.config(), { roles: { api: false, processor: true } });
    api = await startApp(bed.config({ decideTimeoutMs: 30_000 }), { roles: { api: true, processor: false } });
  });
  after(async () => {
    if (skip !== undefined) return;
    await api.stop();
    await processor.stop();
    await bed.close();
  });

  it('answers POST /api/v1/decide with the decision another process made, and again from the store', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const decide = (): Promise<Response> => fetch(`${api.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event(1)) });
    const first = await decide();
    assert.equal(first.status, 200);
    const decision = (await first.json()) as { decision_id: string; decision: string; event_id: string; risk_score: number; reason: string; timestamp: string };
    assert.equal(decision.event_id, 'api-1');
    assert.equal(decision.decision_id, 'dec_api-1');
    // The same event again: the stored decision, not a second one, not a timeout.
    const again = await decide();
    assert.equal(again.status, 200);
    const stored = (await again.json()) as typeof decision;
    const essentials = (d: typeof decision): unknown[] => [d.decision_id, d.decision, d.risk_score, d.reason, d.timestamp];
    assert.deepEqual(essentials(stored), essentials(decision));
  });

  it('streams every committed decision over /ws, with the event fields a viewer needs', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const ws = new WebSocket(`${api.url.replace('http', 'ws')}/ws`);
    const wanted = new Set(['api-10', 'api-11', 'api-12', 'api-13']);
    const seen = new Map<string, { user_id: string; amount: number; event_type: string }>();
    const allSeen = new Promise<void>((resolve) =>
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { type: string; data: { event_id: string; user_id: string; amount: number; event_type: string }[] };
        if (m.type !== 'decisions') return;
        for (const d of m.data) if (wanted.has(d.event_id)) seen.set(d.event_id, d);
        if (seen.size === wanted.size) resolve();
      }),
    );
    await new Promise((resolve) => ws.once('open', resolve));
    const res = await fetch(`${api.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([10, 11, 12, 13].map(event)) });
    assert.equal(res.status, 202);
    await allSeen;
    ws.close();
    assert.deepEqual(
      { user_id: seen.get('api-12')!.user_id, amount: seen.get('api-12')!.amount, event_type: seen.get('api-12')!.event_type },
      { user_id: 'user-2', amount: 32, event_type: 'transaction' },
    );
    // The API process counts what it saw on the topic, though it decided nothing itself.
    assert.ok((await (await fetch(`${api.url}/metrics`)).text()).match(/rtds_decisions_total\{[^}]*\} [1-9]/), 'decisions counted from the topic');
  });

  it('shows on System Health the processors of every stage group and the partitions each owns, though none runs in the API process', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // Each stage's group settles on the processor as its only member, owning every partition of the stage's input.
    const settled = (groups: GroupView[]): boolean =>
      groups.length > 0 && groups.every((g) => g.members.length === 1 && g.members[0]!.owns.some((o) => o.partitions.join() === [...Array(bed.partitions).keys()].join()));
    const health = await waitFor('every stage group to have its processor', 60_000, async () => {
      const h = (await (await fetch(`${api.url}/api/v1/health`)).json()) as SystemHealth;
      return h.log.groups !== null && !('error' in h.log.groups) && settled(h.log.groups) ? h : undefined;
    });
    const groups = health.log.groups as GroupView[];
    assert.equal(groups[0]!.group, bed.config().kafkaGroup, 'the user stage’s group comes first');
    assert.ok(groups.every((g) => g.state === 'STABLE'), JSON.stringify(groups.map((g) => [g.group, g.state])));
    // One processor instance: the same client in every group.
    assert.equal(new Set(groups.map((g) => g.members[0]!.client_id)).size, 1);
    const log = health.components.find((c) => c.name === 'log')!;
    assert.equal(log.status, 'ok', log.reason);
    assert.match(log.reason, /1 processor in (group|each of)/);
    assert.deepEqual(health.log.inputs, [], 'the API process reads no stage input itself');

    // The page shows the same, row by row.
    const browser = await launchBrowser();
    if ('skip' in browser) return t.skip(browser.skip);
    try {
      const page = await browser.newPage();
      await page.goto(`${api.url}/health`);
      const rows = page.locator('#group-members tr');
      await rows.first().waitFor();
      assert.equal(await rows.count(), groups.length);
      const first = await rows.first().innerText();
      assert.ok(first.includes(groups[0]!.group) && first.includes([...Array(bed.partitions).keys()].join(', ')), first);
      assert.match(first, /stable/);
      const overflow = await screenshotWidths(page, 'health-kafka');
      assert.deepEqual(overflow, { 390: 0, 1440: 0 });
    } finally {
      await browser.close();
    }
  });
});
