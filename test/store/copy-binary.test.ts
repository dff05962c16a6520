// Decisions and events written by COPY in the binary format are the rows the INSERT path writes: every column, every kind of value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, type Decision, type RtdsEvent } from '../../src/contracts/index.ts';
import { insertDecisions, type Database, type DecisionRecord } from '../../src/store/index.ts';
import { copyDecisions } from '../../src/store/decisions.ts';
import { copyEvents, insertEvents, type LoggedEvent } from '../../src/store/events.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

/** Decision `i` of a batch, each one different in what its columns hold: nulls, extremes, text a line-based format must escape. */
function record(prefix: string, i: number): DecisionRecord {
  // Fields as a producer past the edge's validation might send them (a Kafka record from another producer).
  const eventId = `${prefix}-${i}`;
  const event = {
    event_type: i % 2 === 0 ? 'transaction' : 'login',
    user_id: ['plain', 'tab\there', 'new\nline', 'back\\slash', 'ünïcødé 🙂', "quote'\""][i % 6]!,
    channel: i % 3 === 0 ? undefined : 'web',
    merchant_id: i % 4 === 0 ? 'm-1' : undefined,
  };
  const decision: Decision = {
    decision_id: decisionIdFor(eventId),
    event_id: eventId,
    decision: (['approved', 'flagged', 'rejected'] as const)[i % 3]!,
    risk_score: [0, 1, 0.1 + 0.2, 1e-300, 0.999999999999][i % 5]!,
    reason: `line one\nline two\t\\ ${'é'.repeat(i)}`,
    reasons: [
      { code: 'model_score', source: 'model', message: `scored "${i}"` },
      ...(i % 2 === 0 ? [{ code: 'model_feature', source: 'model' as const, message: 'amount = 12 raised the score by 0.10', feature: 'amount', contribution: 0.1 }] : []),
    ],
    // Whole milliseconds, as a JavaScript clock gives them; one batch spans a few distinct times.
    timestamp: new Date(Date.UTC(2026, 11, 1, 3, 0, 0, 7 * Math.floor(i / 3))).toISOString(),
    processing_time_ms: i === 0 ? 0 : 0.123456789 * i,
    model_version: i % 7 === 0 ? null : 'v3',
    rules_version: 'builtin-1',
    late: i % 2 === 1,
    history: i % 5 === 0 ? 'partial' : 'complete',
    degraded: i % 7 === 0 ? 'rules_only' : 'none',
    event_time_source: i % 3 === 0 ? 'received' : 'event',
  };
  return {
    decision,
    event,
    features: i % 4 === 3 ? undefined : Float64Array.from({ length: 44 }, (_, f) => (f - 20) * 0.37 + i),
    shadow: i % 2 === 0 ? { model_version: 'v4', score: 0.5 + i / 1000 } : undefined,
    trace_id: i % 3 === 1 ? `${i}`.padStart(32, 'a') : undefined,
  };
}

/** Every stored column of the decisions with ids starting `prefix`, but the time each was stored. */
async function stored(db: Database, prefix: string): Promise<Record<string, unknown>[]> {
  // The time to the microsecond, which a Date read back would round to the millisecond.
  const rows = await db.query<Record<string, unknown>>("SELECT *, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS time_us FROM decisions WHERE event_id LIKE $1 ORDER BY event_id", [`${prefix}-%`]);
  const unprefixed = (id: unknown): string => (id as string).replace(prefix, '');
  return rows.map(({ created_at: _stored, event_id, decision_id, ...row }) => ({ ...row, event_id: unprefixed(event_id), decision_id: unprefixed(decision_id) }));
}

/** Event `i` of a batch, each one different in what its columns hold: absent fields, extremes, text a line-based format must escape, metadata. */
function loggedEvent(prefix: string, i: number): LoggedEvent {
  const time = Date.UTC(2026, 11, 1, 3, 0, 0, 7 * i) + (i === 4 ? 86_400_000 * 365 * 7000 : 0);
  const text = ['plain', 'tab\there', 'new\nline', 'back\\slash', 'ünïcødé 🙂', "quote'\""][i % 6]!;
  const event: RtdsEvent = {
    event_id: `${prefix}-${i}`,
    event_type: i % 2 === 0 ? 'transaction' : 'login',
    timestamp: new Date(time).toISOString(),
    event_time: time,
    event_time_source: i % 3 === 0 ? 'received' : 'event',
    user_id: text,
    session_id: i % 3 === 0 ? undefined : `s-${text}`,
    ip_address: i % 4 === 0 ? undefined : i % 2 === 0 ? '10.0.0.1' : '2001:db8::1',
    country: i % 5 === 0 ? undefined : 'DE',
    channel: i % 3 === 1 ? undefined : 'web',
    amount: [undefined, 0, 0.1 + 0.2, 1e300, 12.5, 5e-324][i % 6],
    currency: i % 6 === 0 ? undefined : 'EUR',
    merchant_id: i % 4 === 1 ? undefined : `m-${text}`,
    device_id: i % 4 === 2 ? undefined : 'd-1',
    metadata: i % 3 === 1 ? { nested: { list: [1, `two ${text}`, null, true], 'ünï': '🙂' }, n: -0.5 } : undefined,
  };
  return { event, position: i % 4 === 3 ? undefined : { partition: i % 12, offset: i === 2 ? Number.MAX_SAFE_INTEGER : i * 1000 } };
}

/** Every stored column of the events with ids starting `prefix`, but the time each was stored. */
async function storedEvents(db: Database, prefix: string): Promise<Record<string, unknown>[]> {
  const rows = await db.query<Record<string, unknown>>("SELECT *, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS time_us FROM events WHERE event_id LIKE $1 ORDER BY event_id", [`${prefix}-%`]);
  return rows.map(({ created_at: _stored, event_id, ...row }) => ({ ...row, event_id: (event_id as string).replace(prefix, '') }));
}

function copySuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`rows copied in the binary format on ${kind}`, () => {
    const s = openedStore(open, cleanup);

    it('decisions store the same row, column for column, as the same decisions inserted', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      const batch = (prefix: string): DecisionRecord[] => Array.from({ length: 24 }, (_, i) => record(prefix, i));
      await db.batch([copyDecisions(batch('copied'), 'features-test')]);
      await db.batch([insertDecisions(batch('inserted'), { writer: 'test', featureSet: 'features-test' })]);
      const copied = await stored(db, 'copied');
      assert.equal(copied.length, 24);
      assert.deepEqual(copied, await stored(db, 'inserted'));
    });

    it('a decision whose time is not one is refused, named, before anything is sent', (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const bad = record('bad', 1);
      bad.decision.timestamp = 'yesterday';
      assert.throws(() => copyDecisions([record('bad', 0), bad]), /decision\.timestamp of event "bad-1"/);
    });

    it('events store the same row, column for column, as the same events inserted', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      const batch = (prefix: string): LoggedEvent[] => Array.from({ length: 24 }, (_, i) => loggedEvent(prefix, i));
      await db.batch([copyEvents(batch('ev-copied'), 'rtds.events')]);
      await db.batch([insertEvents(batch('ev-inserted'), 'rtds.events')]);
      const copied = await storedEvents(db, 'ev-copied');
      assert.equal(copied.length, 24);
      assert.deepEqual(copied, await storedEvents(db, 'ev-inserted'));
      assert.equal(copied.filter((r) => String(r.log_offset) === String(Number.MAX_SAFE_INTEGER)).length, 1, 'a 64-bit offset whole');
    });

    it('an event whose time no date can hold is refused, named, before anything is sent', (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const bad = loggedEvent('ev-bad', 1);
      bad.event.event_time = 9e15;
      assert.throws(() => copyEvents([loggedEvent('ev-bad', 0), bad]), /timestamp of event "ev-bad-1"/);
    });
  });
}

onBothStores(copySuite);
