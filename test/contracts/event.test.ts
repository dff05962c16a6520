import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, parsePublishedDecision, publishDecision, validateEvent, validateLabel } from '../../src/contracts/index.ts';

const good = {
  event_id: 'evt-1',
  event_type: 'transaction',
  timestamp: '2026-11-26T10:00:00.250Z',
  user_id: 'u-1',
  amount: 12.5,
  currency: 'EUR',
  country: 'DE',
  channel: 'web',
  ip_address: '2001:db8::1',
  device_id: 'd-1',
  metadata: { basket: 3 },
};

const fields = (input: unknown): Record<string, string> => {
  const v = validateEvent(input);
  assert.equal(v.ok, false);
  return Object.fromEntries((v as { errors: { field: string; reason: string }[] }).errors.map((e) => [e.field, e.reason]));
};

describe('event contract', () => {
  it('accepts a complete event and normalises its event time to epoch ms', () => {
    const v = validateEvent(good);
    assert.ok(v.ok);
    assert.equal(v.event.event_time, Date.parse('2026-11-26T10:00:00.250Z'));
    assert.equal('event_time' in good, false, 'the input object is not modified');
  });

  it('accepts epoch milliseconds as the timestamp and an event without optional fields', () => {
    const v = validateEvent({ event_id: 'e', event_type: 'login', timestamp: 1_700_000_000_000, user_id: 'u' });
    assert.ok(v.ok);
    assert.equal(v.event.event_time, 1_700_000_000_000);
  });

  it('names every bad field with its reason at once', () => {
    const errors = fields({ ...good, timestamp: 'yesterday', country: 'de', amount: -3, ip_address: '300.1.1.1', currency: 'euro', channel: 'Web', extra: 1 });
    assert.deepEqual(Object.keys(errors).sort(), ['amount', 'channel', 'country', 'currency', 'extra', 'ip_address', 'timestamp']);
    assert.match(errors.timestamp!, /RFC 3339/);
    assert.match(errors.country!, /ISO 3166-1/);
    assert.match(errors.amount!, /≥ 0/);
    assert.match(errors.extra!, /not a field/);
  });

  it('reports missing required fields and an unknown event type', () => {
    const errors = fields({ event_type: 'teleport', amount: 1 });
    assert.equal(errors.event_id, 'is required');
    assert.equal(errors.user_id, 'is required');
    assert.equal(errors.timestamp, 'is required');
    assert.match(errors.event_type!, /unknown event type "teleport"/);
  });

  it('without a timestamp takes the time received, and says so; with no time received it is refused', () => {
    const { timestamp: _t, ...untimed } = good;
    const receivedAt = Date.parse('2026-11-30T12:00:00.000Z') + 0.734;
    const v = validateEvent(untimed, { receivedAt });
    assert.ok(v.ok);
    assert.equal(v.event.event_time, Date.parse('2026-11-30T12:00:00.000Z'), 'whole milliseconds, as a timestamp has');
    assert.equal(v.event.event_time_source, 'received');
    assert.equal('timestamp' in v.event, false, 'the event is not given a timestamp: its body stays as sent');
    assert.deepEqual(fields(untimed), { timestamp: 'is required' });
    // A timestamp of its own wins over the time received.
    const timed = validateEvent(good, { receivedAt });
    assert.ok(timed.ok);
    assert.deepEqual([timed.event.event_time, timed.event.event_time_source], [Date.parse(good.timestamp), 'event']);
    // The time received is bounded like a timestamp: a Kafka record's time is its producer's to set.
    const timeBounds = { maxAgeMs: 86_400_000, maxAheadMs: 86_400_000 };
    const stale = validateEvent(untimed, { receivedAt: Date.parse('2020-01-01T00:00:00Z'), timeBounds, now: receivedAt });
    assert.match(!stale.ok ? stale.errors[0]!.reason : '', /^is absent, and the time received is more than 1 days in the past/);
  });

  it('requires an amount on money-moving events only', () => {
    const { amount: _a, ...noAmount } = good;
    assert.match(fields(noAmount).amount!, /required for transaction/);
    assert.ok(validateEvent({ ...noAmount, event_type: 'login' }).ok);
  });

  it('refuses oversized metadata, non-objects and non-finite amounts', () => {
    assert.match(fields({ ...good, metadata: { blob: 'x'.repeat(17_000) } }).metadata!, /16384 bytes/);
    assert.equal(fields('not an object')['(root)'], 'must be a JSON object');
    assert.ok(fields({ ...good, amount: Number.POSITIVE_INFINITY }).amount);
    assert.ok(fields({ ...good, event_id: 'x'.repeat(129) }).event_id);
  });

  it('refuses every string the store cannot hold, naming the field: NUL and unpaired surrogates, in fields and metadata keys and values', () => {
    for (const field of ['event_id', 'user_id', 'session_id', 'merchant_id', 'device_id']) {
      assert.match(fields({ ...good, [field]: `a\u0000b` })[field]!, /NUL/, field);
      assert.match(fields({ ...good, [field]: `a\udc00` })[field]!, /unpaired UTF-16 surrogate/, field);
    }
    assert.match(fields({ ...good, metadata: { note: 'x\u0000' } })['metadata.note']!, /NUL/);
    assert.match(fields({ ...good, metadata: { deep: [{ k: '\ud800' }] } })['metadata.deep.0.k']!, /surrogate/);
    assert.match(fields({ ...good, metadata: { 'k\u0000': 1 } }).metadata!, /key that contains a NUL/);
    assert.ok(validateEvent({ ...good, user_id: 'emoji 😀 ok', metadata: { note: '😀', tab: 'a\tb' } }).ok, 'paired surrogates and other control characters are storable');
  });

  it('refuses metadata nested past its depth limit without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    assert.match(fields({ ...good, metadata: deep }).metadata!, /at most 32 levels/);
    let ok: unknown = 1;
    for (let i = 0; i < 31; i++) ok = { d: ok };
    assert.ok(validateEvent({ ...good, metadata: ok }).ok, '32 levels are accepted');
  });

  it('refuses event times outside 1970–9999 always, and outside the live bounds around now where they apply', () => {
    for (const timestamp of [1e300, 8_640_000_000_000_001, '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z']) {
      assert.ok(fields({ ...good, timestamp }).timestamp, String(timestamp));
    }
    const now = Date.parse('2026-11-30T12:00:00Z');
    const timeBounds = { maxAgeMs: 10 * 365.25 * 86_400_000, maxAheadMs: 86_400_000 };
    const at = (timestamp: string): boolean => validateEvent({ ...good, timestamp }, { timeBounds, now }).ok;
    assert.equal(at('2026-12-01T11:59:59Z'), true, 'within a day ahead');
    assert.equal(at('2026-12-01T12:00:01Z'), false, 'more than a day ahead');
    assert.equal(at('2016-12-01T00:00:00Z'), true, 'within ten years back');
    assert.equal(at('2016-11-29T00:00:00Z'), false, 'more than ten years back');
    const late = validateEvent({ ...good, timestamp: '2027-01-01T00:00:00Z' }, { timeBounds, now });
    assert.match(!late.ok ? late.errors[0]!.reason : '', /more than 1 days in the future \(RTDS_MAX_EVENT_AHEAD_MS\)/);
    assert.ok(validateEvent({ ...good, timestamp: '2001-01-01T00:00:00Z' }).ok, 'history (no live bounds) may be old');
  });

  it('keeps the event id of an invalid event so its dead letter can be found', () => {
    const v = validateEvent({ ...good, amount: 'ten' });
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.event_id, 'evt-1');
  });

  it('derives the same decision id from the same event id, and different ones otherwise', () => {
    assert.equal(decisionIdFor('a'), decisionIdFor('a'));
    assert.notEqual(decisionIdFor('a'), decisionIdFor('b'));
  });

  it('validates labels with their field errors', () => {
    assert.ok(validateLabel({ event_id: 'e', is_fraud: true }).ok);
    const bad = validateLabel({ event_id: 'e', is_fraud: 'yes' });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.errors[0]!.field, 'is_fraud');
  });

  it('refuses labels the store cannot hold: NUL in the id, labeled_at out of range or too far ahead', () => {
    const reasons = (input: unknown, now?: number): Record<string, string> => {
      const v = validateLabel(input, now === undefined ? {} : { timeBounds: { maxAgeMs: 1, maxAheadMs: 86_400_000 }, now });
      assert.equal(v.ok, false, JSON.stringify(input));
      return Object.fromEntries((v as { errors: { field: string; reason: string }[] }).errors.map((e) => [e.field, e.reason]));
    };
    assert.match(reasons({ event_id: 'e\u0000', is_fraud: true }).event_id!, /NUL/);
    assert.ok(reasons({ event_id: 'e', is_fraud: true, labeled_at: 9_007_199_254_740_992 }).labeled_at);
    assert.ok(reasons({ event_id: 'e', is_fraud: true, labeled_at: '0000-01-01T00:00:00Z' }).labeled_at);
    const now = Date.parse('2026-11-30T12:00:00Z');
    assert.match(reasons({ event_id: 'e', is_fraud: true, labeled_at: '2026-12-05T00:00:00Z' }, now).labeled_at!, /future/);
    assert.ok(validateLabel({ event_id: 'e', is_fraud: true, labeled_at: '2001-01-01T00:00:00Z' }, { timeBounds: { maxAgeMs: 1, maxAheadMs: 1 }, now }).ok, 'a verdict on an old event is no age problem');
  });
});

describe('published decision', () => {
  const decision = {
    decision_id: 'dec_e1',
    event_id: 'e1',
    decision: 'flagged' as const,
    risk_score: 0.6,
    reason: 'r',
    reasons: [],
    timestamp: '2026-11-26T12:00:00.000Z',
    processing_time_ms: 1,
    model_version: null,
    rules_version: 'r1',
    late: false,
    history: 'complete' as const,
    degraded: 'none' as const,
    event_time_source: 'event' as const,
  };

  it('carries the event fields a reader routes by, and reads back from its JSON', () => {
    const published = publishDecision({ event_type: 'login', user_id: 'u1', country: 'DE' }, decision);
    assert.deepEqual([published.event_type, published.user_id, published.amount, published.country, published.channel], ['login', 'u1', null, 'DE', null]);
    assert.deepEqual(parsePublishedDecision(JSON.stringify(published)), published);
  });

  it('publishes every field of the decision, in its order, then the event fields, the body hash and the trace', () => {
    const published = publishDecision({ event_type: 'transaction', user_id: 'u1', amount: 12.5, channel: 'web' }, decision, 'hash', 'trace');
    assert.equal(JSON.stringify(published), JSON.stringify({ ...decision, event_type: 'transaction', user_id: 'u1', amount: 12.5, country: null, channel: 'web', body_hash: 'hash', trace_id: 'trace' }));
  });

  it('reads anything else on the topic as no decision', () => {
    for (const text of ['end-of-read-1', '{}', '[]', 'null', JSON.stringify({ ...decision, event_type: 'login', decision: 'maybe' }), JSON.stringify(decision)]) {
      assert.equal(parsePublishedDecision(text), undefined, text);
    }
  });
});
