import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, validateEvent, type Decision, type RtdsEvent } from '../../src/contracts/index.ts';
import { DecisionSink, storedHistory, findDecision, findEvent, labelsReceivedSince, listDeadLetters, listDecisions, loadPartitionHistory, migrate, upsertLabels, findLabel, type Database } from '../../src/store/index.ts';
import { compareChallenger } from '../../src/api/challenger.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

function event(i: number): RtdsEvent {
  const v = validateEvent({ event_id: `e${i}`, event_type: i % 2 === 0 ? 'transaction' : 'login', timestamp: Date.UTC(2026, 10, 26, 12, 0, i), user_id: `u${i % 3}`, amount: i % 2 === 0 ? i * 10 : undefined, metadata: { i } });
  assert.ok(v.ok);
  return v.event;
}
function decision(e: RtdsEvent, outcome: Decision['decision'], score: number): Decision {
  return {
    decision_id: decisionIdFor(e.event_id),
    event_id: e.event_id,
    decision: outcome,
    risk_score: score,
    reason: `${outcome} for test`,
    reasons: [{ code: 'model_score', source: 'model', message: 'test' }],
    timestamp: new Date(e.event_time + 5).toISOString(),
    processing_time_ms: 0.4,
    model_version: 'v1',
    rules_version: 'builtin-1',
    late: false,
    history: 'complete',
    degraded: 'none',
    event_time_source: e.event_time_source,
  };
}

/** The same behaviour is pinned on embedded PGlite and on the machine's PostgreSQL. */
function storeSuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`store on ${kind}`, () => {
    const store = openedStore(open, cleanup);

    it('migrates once: a second run applies nothing', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      assert.deepEqual(await migrate(store.db!), []);
    });

    it('re-sending an event id never creates a second event or decision', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 2 });
      const events = Array.from({ length: 20 }, (_, i) => event(i));
      for (const e of events) sink.write({ event: e, decision: decision(e, 'approved', 0.1) });
      // The same ids again, in the same batch and in a later one, with a different outcome.
      sink.write({ event: events[0]!, decision: decision(events[0]!, 'rejected', 0.9) });
      await sink.flush();
      for (const e of events.slice(0, 5)) sink.write({ event: e, decision: decision(e, 'rejected', 0.9) });
      await sink.close();
      const [counts] = await store.db!.query<{ events: number; decisions: number }>('SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM decisions)::int AS decisions');
      assert.deepEqual(counts, { events: 20, decisions: 20 });
      assert.equal((await findDecision(store.db!, 'e0'))!.decision, 'approved', 'the first decision stands');
    });

    it('stores the event fields, JSONB metadata and event time faithfully', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const stored = await findEvent(store.db!, 'e4');
      assert.equal(stored!.timestamp, new Date(Date.UTC(2026, 10, 26, 12, 0, 4)).toISOString());
      assert.equal(stored!.amount, 40);
      assert.deepEqual(stored!.metadata, { i: 4 });
      assert.equal(stored!.user_id, 'u1');
      assert.equal((await findEvent(store.db!, 'e1'))!.amount, undefined);
    });

    it('stores text with tabs, newlines, backslashes and non-ASCII exactly (the COPY path escapes them)', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const tricky = 'tab\there\nnew line \\N back\\slash\r — 東京 \u0001';
      const checked = validateEvent({ event_id: 'e-tricky\t1', event_type: 'login', timestamp: Date.UTC(2026, 10, 26, 13), user_id: 'u\\x', device_id: tricky, metadata: { note: tricky, nested: [tricky] } });
      assert.ok(checked.ok);
      const d = { ...decision(checked.event, 'flagged', 0.5), reason: tricky };
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 1 });
      sink.write({ event: checked.event, decision: d, features: Float64Array.from([0.25, -1, 3e-8]) });
      await sink.close();
      const stored = await findEvent(store.db!, 'e-tricky\t1');
      assert.equal(stored!.device_id, tricky);
      assert.equal(stored!.user_id, 'u\\x');
      assert.deepEqual(stored!.metadata, { note: tricky, nested: [tricky] });
      const storedDecision = await findDecision(store.db!, 'e-tricky\t1');
      assert.equal(storedDecision!.reason, tricky);
      assert.deepEqual(Object.values(storedDecision!.features!).slice(0, 3), [0.25, -1, 3e-8]);
    });

    it('lists decisions newest first with filters and a stable cursor', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listDecisions(store.db!, { limit: 6, cursor, event_type: 'transaction' });
        seen.push(...page.items.map((d) => d.event_id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `e${18 - 2 * i}`));
      const byUser = await listDecisions(store.db!, { limit: 100, user_id: 'u0' });
      assert.ok(byUser.items.length > 0 && byUser.items.every((d) => d.user_id === 'u0'));
      assert.equal((await listDecisions(store.db!, { limit: 100, decision: 'rejected' })).items.length, 0);
    });

    it('keeps dead letters with their reasons and the latest label per event', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 2 });
      sink.writeDeadLetter({ source: 'http', event_id: 'bad-1', payload: '{"event_id":"bad-1"}', errors: [{ field: 'user_id', reason: 'is required' }] });
      await sink.close();
      const [letter] = await listDeadLetters(store.db!, 10, 'bad-1');
      assert.deepEqual(letter!.errors, [{ field: 'user_id', reason: 'is required' }]);
      await store.db!.batch([upsertLabels([{ event_id: 'e2', is_fraud: false }, { event_id: 'e2', is_fraud: true }])]);
      assert.equal((await findLabel(store.db!, 'e2'))!.is_fraud, true);
    });

    it("restores a partition's history from its own log only, in offset order", async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      // Two topics sharing the database, with the same partition and offsets.
      for (const [log, base] of [['topic-a', 100], ['topic-b', 200]] as const) {
        const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 1, log });
        for (let offset = 2; offset >= 0; offset--) {
          const e = event(base + offset);
          sink.write({ event: e, decision: decision(e, 'approved', 0.1), position: { partition: 3, offset } });
        }
        await sink.close();
      }
      const knownAt = Date.UTC(2026, 11, 3);
      await store.db!.batch([upsertLabels([{ event_id: 'e100', is_fraud: true, labeled_at: knownAt }, { event_id: 'e101', is_fraud: false }])]);
      const history = await loadPartitionHistory(store.db!, 'topic-a', 3, 2, { ms: 60_000, verdicts: true });
      assert.deepEqual(history.events.map((e) => validateEvent(e)), [event(100), event(101)].map((e) => validateEvent(e)), 'events as the processor saw them');
      // With the fraud verdicts on them, for label-driven features.
      assert.deepEqual(history.verdicts, [{ event: history.events[0], is_fraud: true, labeled_at: knownAt }]);
      // Only what is within reach of the latest event (101 s) is replayed.
      assert.deepEqual((await loadPartitionHistory(store.db!, 'topic-a', 3, 2, { ms: 500, verdicts: false })).events.map((e) => e.event_id), ['e101']);
    });

    it('follows labels as they are received: fraud and overturned verdicts, joined to their events', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const { now: since } = await labelsReceivedSince(store.db!, new Date());
      await store.db!.batch([upsertLabels([{ event_id: 'e4', is_fraud: false }, { event_id: 'e6', is_fraud: true, labeled_at: Date.UTC(2026, 11, 1) }, { event_id: 'not-stored', is_fraud: true }])]);
      const first = await labelsReceivedSince(store.db!, since);
      // e4 is a first "not fraud" (it changes no count); the unstored event's label waits for it.
      assert.deepEqual(
        first.labels.map((l) => [validateEvent(l.labelled.event), l.labelled.is_fraud, l.labelled.labeled_at]),
        [[validateEvent(event(6)), true, Date.UTC(2026, 11, 1)]],
      );
      await store.db!.batch([upsertLabels([{ event_id: 'e6', is_fraud: false, labeled_at: Date.UTC(2026, 11, 2) }, { event_id: 'e4', is_fraud: false }])]);
      const second = await labelsReceivedSince(store.db!, first.now);
      assert.deepEqual(
        second.labels.map((l) => [l.labelled.event.event_id, l.labelled.is_fraud, l.labelled.labeled_at]),
        [['e6', false, Date.UTC(2026, 11, 2)]],
        'the overturned verdict, and not the repeated one',
      );
    });

    it('reads stored history to train on: events in event-time order from a given time, with the latest verdicts', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 1 });
      // Written out of time order: the history comes back in event-time order.
      for (const i of [403, 400, 404, 401, 402]) sink.write({ event: event(i), decision: decision(event(i), 'approved', 0.1) });
      await sink.flush();
      await store.db!.batch([upsertLabels([{ event_id: 'e401', is_fraud: true, labeled_at: Date.UTC(2026, 11, 1) }, { event_id: 'e403', is_fraud: true }])]);
      await store.db!.batch([upsertLabels([{ event_id: 'e403', is_fraud: false, labeled_at: Date.UTC(2026, 11, 2) }])]);
      const history = await storedHistory(store.db!, new Date(Date.UTC(2026, 10, 26, 12, 0, 400)));
      // The event stored by an earlier test at 13:00 comes last.
      assert.deepEqual(
        history.events.map((e) => e.event_id),
        ['e400', 'e401', 'e402', 'e403', 'e404', 'e-tricky\t1'],
      );
      const pick = (e: RtdsEvent) => [e.event_time, e.event_type, e.user_id, e.amount, e.metadata];
      assert.deepEqual(pick(history.events[0]!), pick(event(400)), 'each event as the processor saw it');
      assert.deepEqual(
        [...history.labels.values()].sort((a, b) => a.event_id.localeCompare(b.event_id)),
        [
          { event_id: 'e401', is_fraud: true, labeled_at: Date.UTC(2026, 11, 1) },
          { event_id: 'e403', is_fraud: false, labeled_at: Date.UTC(2026, 11, 2) },
        ],
      );
      assert.ok((await storedHistory(store.db!)).events.length > history.events.length, 'without a start, every stored event');
    });

    it("keeps a challenger's shadow score beside the decision, and pairs the two with the verdicts", async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const sink = new DecisionSink(store.db!, { batchSize: 100, flushMs: 5, concurrency: 1 });
      const events = Array.from({ length: 6 }, (_, i) => event(300 + i));
      // Champion scores 0.1 … 0.6; the challenger's are its reverse: it ranks the fraud (e304, e305) lowest.
      events.forEach((e, i) => sink.write({ event: e, decision: decision(e, 'approved', (i + 1) / 10), shadow: { model_version: 'v2', score: (6 - i) / 10 } }));
      // Re-sent with another shadow score: the first decision, and its shadow score, stand.
      sink.write({ event: events[0]!, decision: decision(events[0]!, 'approved', 0.1), shadow: { model_version: 'v2', score: 0.99 } });
      sink.write({ event: event(306), decision: decision(event(306), 'approved', 0.2) });
      await sink.flush();
      assert.deepEqual((await findDecision(store.db!, 'e300'))?.shadow, { model_version: 'v2', score: 0.6 });
      assert.equal((await findDecision(store.db!, 'e306'))?.shadow, undefined, 'no challenger ran');
      await store.db!.batch([upsertLabels([{ event_id: 'e304', is_fraud: true }, { event_id: 'e305', is_fraud: true }, { event_id: 'e300', is_fraud: false }, { event_id: 'e301', is_fraud: false }])]);

      const comparison = await compareChallenger(store.db!, 'v2', [0.35], 100);
      assert.equal(comparison.scored, 6);
      assert.equal(comparison.labelled, 4);
      assert.deepEqual(comparison.champions, ['v1']);
      assert.equal(comparison.champion_metrics?.roc_auc, 1, 'the champion ranks both frauds above both legitimate events');
      assert.equal(comparison.challenger_metrics?.roc_auc, 0, 'the challenger ranks them below');
      // At 0.35: champion above for e303–e305, challenger above for e300–e302: all six sides differ.
      assert.equal(comparison.changed, 6);
      assert.equal((await compareChallenger(store.db!, 'v3', [0.35], 100)).scored, 0);
    });
  });
}

onBothStores(storeSuite);
