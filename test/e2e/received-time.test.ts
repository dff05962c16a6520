// An event without a timestamp is decided on the time RTDS received it: on time, and the decision says so.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { StoredDecision } from '../../src/store/index.ts';
import { epochMs } from '../../src/transport/log.ts';

const untimed = { event_id: 'rt-untimed', event_type: 'withdrawal', user_id: 'rt-user', amount: 40, currency: 'EUR', channel: 'atm', country: 'DE' };

describe('an event without a timestamp, embedded over HTTP', () => {
  let app: RunningApp;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-received-'));
    app = await startApp(loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {}));
  });
  after(async () => {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const decide = async (body: unknown): Promise<StoredDecision> => {
    const res = await fetch(`${app.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as StoredDecision;
  };

  let receivedFrom = 0;
  let receivedBy = 0;

  it('is decided on the time received, on time behind live traffic, and the decision says so', async () => {
    // Live traffic of the same user moves its partition's watermark to now.
    const live = await decide({ ...untimed, event_id: 'rt-live', timestamp: new Date().toISOString() });
    assert.deepEqual([live.event_time_source, live.late], ['event', false]);
    receivedFrom = Math.floor(epochMs());
    const d = await decide(untimed);
    receivedBy = epochMs();
    assert.equal(d.event_time_source, 'received');
    assert.equal(d.late, false);
    // The README's old fixed timestamp, for contrast: far behind the watermark, so late.
    const old = await decide({ ...untimed, event_id: 'rt-old', timestamp: '2026-11-26T10:00:00Z' });
    assert.deepEqual([old.event_time_source, old.late], ['event', true]);
  });

  it('answers a re-send of the same body with the same decision', async () => {
    const again = await decide(untimed);
    assert.deepEqual([again.decision_id, again.event_time_source], ['dec_rt-untimed', 'received']);
  });

  it('is stored with the time received as its event time, and read back with its source', async () => {
    await app.sink.flush();
    const body = (await (await fetch(`${app.url}/api/v1/events/rt-untimed`)).json()) as { status: string; event: { timestamp: string }; decision: StoredDecision };
    assert.equal(body.status, 'decided');
    assert.equal(body.decision.event_time_source, 'received');
    const stored = Date.parse(body.event.timestamp);
    assert.ok(stored >= receivedFrom && stored <= receivedBy, `stored event time ${body.event.timestamp} within [${new Date(receivedFrom).toISOString()}, ${new Date(receivedBy).toISOString()}]`);
    const listed = (await (await fetch(`${app.url}/api/v1/decisions?user_id=rt-user`)).json()) as { items: StoredDecision[] };
    assert.deepEqual(
      listed.items.map((d) => [d.event_id, d.event_time_source]).sort(),
      [['rt-live', 'event'], ['rt-old', 'event'], ['rt-untimed', 'received']],
    );
  });
});
