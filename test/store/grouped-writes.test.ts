// Round trips shared by callers asking together: the generic rounds, and the sink's flushes grouped into one transaction while a write is under way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, validateEvent } from '../../src/contracts/index.ts';
import { DecisionSink, findDecision, SharedRoundTrips, type Database, type DecidedEvent } from '../../src/store/index.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

/** A gate a test opens by hand: what waits on it waits for the test, not for a clock. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('shared round trips', () => {
  it('sends the asks of one turn in one round trip, and those asked while it runs together in the next', async () => {
    const rounds: string[][] = [];
    const first = gate();
    const trips = new SharedRoundTrips<string, string>(async (asks) => {
      rounds.push([...asks]);
      if (rounds.length === 1) await first.opened;
      return asks.map((a) => a.toUpperCase());
    });
    const together = [trips.ask(['a']), trips.ask(['b', 'c'])];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(rounds, [['a', 'b', 'c']], 'one turn: one round trip');
    const meanwhile = [trips.ask(['d']), trips.ask(['e']), trips.ask(['f'])];
    first.open();
    assert.deepEqual(await Promise.all([...together, ...meanwhile]), [['A'], ['B', 'C'], ['D'], ['E'], ['F']]);
    assert.deepEqual(rounds, [['a', 'b', 'c'], ['d', 'e', 'f']]);
  });

  it('takes whole callers up to its bound (one caller past it alone), and fails only the callers of a failed round', async () => {
    const rounds: string[][] = [];
    const trips = new SharedRoundTrips<string, string>(async (asks) => {
      rounds.push([...asks]);
      if (asks.includes('bad')) throw new Error('refused');
      return [...asks];
    }, 3);
    const answers = await Promise.allSettled([trips.ask(['a', 'b']), trips.ask(['c', 'd']), trips.ask(['e', 'f', 'g', 'h']), trips.ask(['bad']), trips.ask(['i'])]);
    assert.deepEqual(rounds, [['a', 'b'], ['c', 'd'], ['e', 'f', 'g', 'h'], ['bad', 'i']]);
    assert.deepEqual(
      answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message)),
      [['a', 'b'], ['c', 'd'], ['e', 'f', 'g', 'h'], 'refused', 'refused'],
    );
    assert.deepEqual(await trips.ask(['j']), ['j'], 'the next round goes on');
  });
});

function decided(id: string): DecidedEvent {
  const v = validateEvent({ event_id: id, event_type: 'login', timestamp: Date.UTC(2026, 10, 26), user_id: 'u' });
  assert.ok(v.ok);
  const decision = { decision_id: decisionIdFor(id), event_id: id, decision: 'approved' as const, risk_score: 0.1, reason: 'r', reasons: [], timestamp: new Date().toISOString(), processing_time_ms: 1, model_version: null, rules_version: 'r1', late: false, history: 'complete' as const, degraded: 'none' as const, event_time_source: 'event' as const };
  return { event: v.event, decision };
}

onBothStores((kind, open, cleanup) => {
  describe(`the sink's flushes on ${kind}`, () => {
    const store = openedStore(open, cleanup);

    it('writes the rows of every flush made while a write is under way in one next transaction, and answers each flush once its rows are stored', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const db = store.db!;
      let transactions = 0;
      const held = gate();
      // The first write waits for the test: the flushes below are all made while it is under way.
      const gated: Database = {
        kind: db.kind,
        claims: db.claims,
        query: <T,>(sql: string, params?: unknown[]) => db.query<T>(sql, params),
        close: () => db.close(),
        batch: async (statements) => {
          if (++transactions === 1) await held.opened;
          return db.batch(statements);
        },
      };
      // A timer that never fires on its own within the test: only the flushes seal.
      const sink = new DecisionSink(gated, { batchSize: 1000, flushMs: 60_000, concurrency: 1, log: `grouped-${kind}` });
      sink.write(decided('g-first'));
      const firstFlush = sink.flush();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(transactions, 1, 'the first flush is being written');
      const ids = Array.from({ length: 20 }, (_, i) => `g-${i}`);
      const stored = ids.map(async (id) => {
        sink.write(decided(id));
        await sink.flush();
        return (await findDecision(db, id))?.decision_id;
      });
      held.open();
      await firstFlush;
      assert.equal((await findDecision(db, 'g-first'))?.decision_id, decisionIdFor('g-first'));
      assert.deepEqual(await Promise.all(stored), ids.map(decisionIdFor), 'each flush answered once its row is stored');
      assert.equal(transactions, 2, 'the twenty flushes made meanwhile share one transaction');
      await sink.close();
    });
  });
});
