// Decisions written by COPY in the binary format are the rows the INSERT path writes: every column, every kind of value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, type Decision } from '../../src/contracts/index.ts';
import { insertDecisions, type Database, type DecisionRecord } from '../../src/store/index.ts';
import { copyDecisions } from '../../src/store/decisions.ts';
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

function copySuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`decisions copied in the binary format on ${kind}`, () => {
    const s = openedStore(open, cleanup);

    it('store the same row, column for column, as the same decisions inserted', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      const batch = (prefix: string): DecisionRecord[] => Array.from({ length: 24 }, (_, i) => record(prefix, i));
      await db.batch([copyDecisions(batch('copied'), 'features-test')]);
      await db.batch([insertDecisions(batch('inserted'), { writer: 'test', featureSet: 'features-test' })]);
      const copied = await stored(db, 'copied');
      assert.equal(copied.length, 24);
      assert.deepEqual(copied, await stored(db, 'inserted'));
    });

    it('refuse a decision whose time is not one, naming the decision, before anything is sent', (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const bad = record('bad', 1);
      bad.decision.timestamp = 'yesterday';
      assert.throws(() => copyDecisions([record('bad', 0), bad]), /decision\.timestamp of event "bad-1"/);
    });
  });
}

onBothStores(copySuite);
