import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { replayFeatures } from '../../src/process/index.ts';

const T0 = Date.parse('2026-11-26T08:00:00Z');
const events = Array.from({ length: 90 }, (_, i) => ({
  event_id: `r-${i}`,
  event_type: i % 7 === 3 ? 'login' : 'transaction',
  timestamp: T0 + i * 45_000,
  user_id: `user-${i % 4}`,
  ...(i % 7 === 3 ? {} : { amount: 20 + ((i * 37) % 400) }),
  country: i % 11 === 0 ? 'FR' : 'DE',
  device_id: `dev-${i % 5}`,
  channel: 'web',
}));

describe('the embedded app restarted', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-restart-'));
  const config = loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 }, {});
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const decideAll = async (app: RunningApp, batch: typeof events): Promise<void> => {
    for (const e of batch) {
      const res = await fetch(`${app.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(e) });
      assert.equal(res.status, 200, e.event_id);
    }
  };

  it('continues every feature exactly where the previous run left it', async () => {
    const first = await startApp(config);
    await decideAll(first, events.slice(0, 60));
    await first.stop();

    const second = await startApp(config);
    try {
      await decideAll(second, events.slice(60));
      await second.sink.flush();
      // What one uninterrupted processor computes, partition by partition, in arrival order.
      const history = events.map((e): RtdsEvent => {
        const checked = validateEvent(e);
        assert.ok(checked.ok);
        return checked.event;
      });
      const expected = new Map<string, Float64Array>();
      for (const r of replayFeatures(history, DEFAULT_FEATURE_SET, eventTimeOptions(config), config.partitions)) expected.set(r.event.event_id, r.vector);
      for (const e of events.slice(60)) {
        const body = (await (await fetch(`${second.url}/api/v1/events/${e.event_id}`)).json()) as { features: Record<string, number> };
        const want = Float32Array.from(expected.get(e.event_id)!);
        DEFAULT_FEATURE_SET.names.forEach((name, i) => {
          assert.ok(Math.abs(body.features[name]! - want[i]!) <= 1e-6 * Math.max(1, Math.abs(want[i]!)), `${e.event_id} ${name}: ${body.features[name]} after the restart, ${want[i]} without`);
        });
      }
      const last = (await (await fetch(`${second.url}/api/v1/events/r-89`)).json()) as { features: Record<string, number> };
      assert.equal(last.features.user_events_30d, 23, 'the user’s events from both runs count');
    } finally {
      await second.stop();
    }
  });
});
