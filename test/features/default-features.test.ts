// The default set's signals beyond the user: merchants, shared devices and addresses, the user's history with a merchant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { validateEvent, type EventInput, type Label, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { replayFeatures } from '../../src/process/index.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const eventTime = eventTimeOptions(loadConfig({}, {}));

let ids = 0;
function payment(at: number, user: string, fields: Partial<EventInput> = {}): RtdsEvent {
  const checked = validateEvent({ event_id: `e${++ids}`, event_type: 'transaction', timestamp: new Date(at).toISOString(), user_id: user, amount: 20, channel: 'web', ...fields });
  assert.ok(checked.ok);
  return checked.event;
}

/** The default set's raw values by name, per event, replayed in one partition (the whole entity's state). */
function values(events: RtdsEvent[], labels?: Map<string, Label>): Record<string, number>[] {
  return replayFeatures(events, DEFAULT_FEATURE_SET, eventTime, 1, labels).map((r) => Object.fromEntries(DEFAULT_FEATURE_SET.names.map((n, i) => [n, r.vector[i]!])));
}

describe("the default set's entity features", () => {
  it('counts the distinct users of a device and of an IP address over 24 hours', () => {
    const shared = [1, 2, 3, 4, 5].map((u, i) => payment(T0 + i * HOUR, `u${u}`, { device_id: 'dev_ring', ip_address: `10.0.0.${u}` }));
    const batch = [1, 2, 3].map((u, i) => payment(T0 + 6 * HOUR + i * MINUTE, `c${u}`, { device_id: `dev_c${u}`, ip_address: '10.9.9.9' }));
    const dayLater = payment(T0 + 6 * HOUR + 26 * HOUR, 'c4', { device_id: 'dev_c4', ip_address: '10.9.9.9' });
    const v = values([...shared, ...batch, dayLater]);
    assert.deepEqual(v.slice(0, 5).map((x) => x.device_users_24h), [1, 2, 3, 4, 5]);
    assert.deepEqual(v.slice(0, 5).map((x) => x.ip_users_24h), [1, 1, 1, 1, 1]);
    assert.deepEqual(v.slice(5, 8).map((x) => x.ip_users_24h), [1, 2, 3]);
    assert.deepEqual(v.slice(5, 8).map((x) => x.device_users_24h), [1, 1, 1]);
    assert.equal(v[8]!.ip_users_24h, 1, 'a day later the batch is out of the window');
    assert.equal(values([payment(T0, 'u9')])[0]!.device_users_24h, 0, 'no device, no count');
  });

  it("counts the merchant's events of the last hour, and the user's own history with the merchant over 30 days", () => {
    const events = [
      payment(T0, 'u1', { merchant_id: 'm1' }),
      payment(T0 + 10 * MINUTE, 'u2', { merchant_id: 'm1' }),
      payment(T0 + 20 * MINUTE, 'u1', { merchant_id: 'm1' }),
      payment(T0 + 30 * MINUTE, 'u1', { merchant_id: 'm2' }),
      payment(T0 + 3 * HOUR, 'u3', { merchant_id: 'm1' }),
      payment(T0 + 40 * DAY, 'u1', { merchant_id: 'm1' }),
    ];
    const v = values(events);
    assert.deepEqual(v.map((x) => x.merchant_events_1h), [1, 2, 3, 1, 1, 1]);
    assert.deepEqual(v.map((x) => x.user_merchant_events_30d), [1, 1, 2, 1, 1, 1]);
    assert.deepEqual(v.map((x) => x.new_merchant), [0, 0, 0, 1, 0, 0], 'a first payment to a merchant, by a user seen before (30 days on, u1 is new again)');
  });

  it("reads the merchant's fraud rate over the 30 days that end 7 days before the event, from verdicts known by then", () => {
    const past = Array.from({ length: 10 }, (_, i) => payment(T0 + i * DAY, `p${i}`, { merchant_id: 'm7' }));
    const labels = new Map<string, Label>();
    for (const e of past.slice(0, 2)) labels.set(e.event_id, { event_id: e.event_id, is_fraud: true, labeled_at: new Date(e.event_time + 2 * DAY).toISOString() });
    labels.set(past[9]!.event_id, { event_id: past[9]!.event_id, is_fraud: true, labeled_at: new Date(past[9]!.event_time + DAY).toISOString() });
    const recent = payment(T0 + 9 * DAY + HOUR, 'q', { merchant_id: 'm7' });
    const later = payment(T0 + 18 * DAY, 'q', { merchant_id: 'm7' });
    const v = values([...past, recent, later], labels);
    assert.equal(v[10]!.merchant_fraud_rate_30d, 1, 'only the first days are 7 days old: both judged fraud');
    assert.equal(v[11]!.merchant_fraud_rate_30d, 3 / 11, 'all eleven earlier events are 7 days old, three judged fraud');
    assert.equal(values([payment(T0, 'q')])[0]!.merchant_fraud_rate_30d, 0, 'no merchant, the default');
  });
});
