import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { decisionIdFor, validateEvent, type Decision, type RtdsEvent } from '../../src/contracts/index.ts';
import { CursorError, DecisionSink, insertDecisions, listDecisions, openDatabase, upsertLabels, type Database, type DecisionQuery, type Statement } from '../../src/store/index.ts';
import type { SqlStatement } from '../../src/store/statement.ts';
import { createTestDatabase, onBothStores, openedStore, type TestDatabase } from '../support/postgres.ts';

/** Event i, decided i seconds after the first: distinct in each field the explorer searches by, from the overrides. */
function decided(i: number, overrides: Partial<Decision> = {}, fields: Record<string, unknown> = {}): { event: RtdsEvent; decision: Decision } {
  const checked = validateEvent({ event_id: `s${i}`, event_type: 'transaction', timestamp: Date.UTC(2026, 10, 20, 9, 0, i), user_id: 'u-plain', amount: 10, channel: 'web', ...fields });
  assert.ok(checked.ok);
  const event = checked.event;
  return {
    event,
    decision: {
      decision_id: decisionIdFor(event.event_id),
      event_id: event.event_id,
      decision: 'approved',
      risk_score: 0.1,
      reason: 'test',
      reasons: [{ code: 'model_score', source: 'model', message: 'test' }],
      timestamp: new Date(Date.UTC(2026, 10, 20, 10, 0, i)).toISOString(),
      processing_time_ms: 0.2,
      model_version: 'v1',
      rules_version: 'r1',
      late: false,
      history: 'complete',
      degraded: 'none',
      event_time_source: 'event',
      ...overrides,
    },
  };
}

async function store(db: Database, rows: readonly { event: RtdsEvent; decision: Decision }[]): Promise<void> {
  const sink = new DecisionSink(db, { batchSize: 100, flushMs: 5, concurrency: 1 });
  for (const row of rows) sink.write(row);
  await sink.close();
}

/** Every event id `q` finds, page after page. */
async function allIds(db: Database, q: Omit<DecisionQuery, 'limit' | 'cursor'>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listDecisions(db, { ...q, limit: 2, cursor });
    ids.push(...page.items.map((d) => d.event_id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return ids;
}

function searchSuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`searching decisions on ${kind}`, () => {
    const s = openedStore(open, cleanup);

    it('finds by each filter exactly the decisions it names, newest first', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      await store(db, [
        decided(1),
        decided(2, { decision: 'rejected', risk_score: 0.95 }),
        decided(3, { decision: 'flagged', risk_score: 0.6 }, { event_type: 'login', amount: undefined }),
        decided(4, {}, { channel: 'atm', merchant_id: 'm-7' }),
        decided(5, {}, { user_id: 'u-other' }),
        decided(6, { reasons: [{ code: 'model_score', source: 'model', message: 'x' }, { code: 'atm_limit', source: 'rule', message: 'over the limit' }] }),
        decided(7, { late: true }),
        decided(8, { degraded: 'rules_only', model_version: null }),
      ]);
      const expected: [Omit<DecisionQuery, 'limit' | 'cursor'>, string[]][] = [
        [{}, ['s8', 's7', 's6', 's5', 's4', 's3', 's2', 's1']],
        [{ decision: 'rejected' }, ['s2']],
        [{ decision: 'approved' }, ['s8', 's7', 's6', 's5', 's4', 's1']],
        [{ event_type: 'login' }, ['s3']],
        [{ channel: 'atm' }, ['s4']],
        [{ user_id: 'u-other' }, ['s5']],
        [{ merchant_id: 'm-7' }, ['s4']],
        [{ min_score: 0.5 }, ['s3', 's2']],
        [{ min_score: 0.5, max_score: 0.9 }, ['s3']],
        [{ max_score: 0.2 }, ['s8', 's7', 's6', 's5', 's4', 's1']],
        [{ since: new Date(Date.UTC(2026, 10, 20, 10, 0, 3)).toISOString(), until: new Date(Date.UTC(2026, 10, 20, 10, 0, 5)).toISOString() }, ['s4', 's3']],
        [{ rule: 'atm_limit' }, ['s6']],
        [{ rule: 'model_score', late: true }, ['s7']],
        [{ late: false, degraded: false }, ['s6', 's5', 's4', 's3', 's2', 's1']],
        [{ degraded: true }, ['s8']],
        [{ channel: 'web', decision: 'flagged', event_type: 'login' }, ['s3']],
        [{ channel: 'web', decision: 'flagged', event_type: 'transaction' }, []],
      ];
      for (const [q, ids] of expected) assert.deepEqual(await allIds(db, q), ids, JSON.stringify(q));
      const [row] = (await listDecisions(db, { merchant_id: 'm-7', limit: 1 })).items;
      assert.deepEqual([row!.event_type, row!.user_id, row!.channel, row!.merchant_id, row!.is_fraud], ['transaction', 'u-plain', 'atm', 'm-7', null], 'the event fields searched by, read back');
    });

    it('carries a verdict onto its decision whichever is stored first, and a revised verdict replaces it', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      await db.batch([upsertLabels([{ event_id: 's2', is_fraud: true }, { event_id: 's21', is_fraud: false }])]);
      // s21 is decided after its label arrived.
      await store(db, [decided(21)]);
      assert.deepEqual(await allIds(db, { label: 'fraud' }), ['s2']);
      assert.deepEqual(await allIds(db, { label: 'legit' }), ['s21']);
      const [waiting] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM labels_awaiting_decision');
      assert.equal(waiting!.n, 0, 'no verdict left waiting for its decision');
      await db.batch([upsertLabels([{ event_id: 's2', is_fraud: false }, { event_id: 's5', is_fraud: true }])]);
      assert.deepEqual(await allIds(db, { label: 'fraud' }), ['s5']);
      assert.deepEqual(await allIds(db, { label: 'legit' }), ['s21', 's2']);
      assert.deepEqual(await allIds(db, { label: 'unlabelled' }), ['s8', 's7', 's6', 's4', 's3', 's1']);
      assert.equal((await listDecisions(db, { label: 'fraud', limit: 1 })).items[0]!.is_fraud, true);
    });

    it('pages either way with opaque cursors: forward to the end and back to the start', async (t) => {
      if (s.skip !== undefined) return t.skip(s.skip);
      const db = s.db!;
      // Two decisions in one millisecond: the page order breaks the tie by decision id.
      const same = new Date(Date.UTC(2026, 10, 20, 10, 0, 30)).toISOString();
      await store(db, [decided(31, { timestamp: same }, { user_id: 'u-pager' }), decided(32, { timestamp: same }, { user_id: 'u-pager' }), ...[33, 34, 35].map((i) => decided(i, {}, { user_id: 'u-pager|x' }))]);
      const q = { user_id: 'u-pager' };
      const first = await listDecisions(db, { ...q, limit: 1 });
      assert.equal(first.prev_cursor, null, 'nothing newer than the first page');
      const second = await listDecisions(db, { ...q, limit: 1, cursor: first.next_cursor! });
      assert.deepEqual([first.items[0]!.event_id, second.items[0]!.event_id], ['s32', 's31']);
      assert.equal(second.next_cursor, null, 'nothing older than the last page');
      const back = await listDecisions(db, { ...q, limit: 1, cursor: second.prev_cursor! });
      assert.deepEqual(back.items.map((d) => d.event_id), ['s32']);
      assert.equal(back.prev_cursor, null, 'back at the newest');
      assert.notEqual(back.next_cursor, null);

      // A user id holding the separator an old cursor format split on.
      const ids = await allIds(db, { user_id: 'u-pager|x' });
      assert.deepEqual(ids, ['s35', 's34', 's33']);
      let page = await listDecisions(db, { user_id: 'u-pager|x', limit: 1 });
      while (page.next_cursor !== null) page = await listDecisions(db, { user_id: 'u-pager|x', limit: 1, cursor: page.next_cursor });
      const backwards = [page.items[0]!.event_id];
      while (page.prev_cursor !== null) {
        page = await listDecisions(db, { user_id: 'u-pager|x', limit: 1, cursor: page.prev_cursor });
        backwards.push(page.items[0]!.event_id);
      }
      assert.deepEqual(backwards, [...ids].reverse());
      for (const bad of ['garbage', Buffer.from('["older","not a time","x"]').toString('base64url'), Buffer.from('["sideways","2026-11-20T10:00:00.000Z","x"]').toString('base64url')]) {
        await assert.rejects(listDecisions(db, { limit: 1, cursor: bad }), CursorError);
      }
    });
  });
}

onBothStores(searchSuite);

/**
 * Two transactions on their own connections, one holding its write open while the other writes:
 * neither sees the other's rows until it commits, which is where a verdict could miss its decision.
 */
describe('a verdict and its decision written at the same moment on PostgreSQL', () => {
  let made: TestDatabase | { skip: string };
  before(async () => {
    made = await createTestDatabase();
    if (!('skip' in made)) await (await openDatabase({ databaseUrl: made.url, dataDir: '.' })).close();
  });
  after(async () => {
    if (!('skip' in made)) await made.drop();
  });

  const client = (): pg.Client => new pg.Client({ connectionString: (made as TestDatabase).url });
  const sql = (s: Statement): SqlStatement => {
    assert.ok('sql' in s);
    return s;
  };

  /** Run `first` and leave it open; start `second`; once it has finished or waits on a lock, commit `first`, then `second`. */
  async function overlapping(first: Statement, second: Statement): Promise<void> {
    const [a, b] = [client(), client()];
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query('BEGIN');
      await a.query(sql(first).sql, sql(first).params);
      await b.query('BEGIN');
      const pid = ((await b.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;
      let done = false;
      const running = b.query(sql(second).sql, sql(second).params).then(() => void (done = true));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await a.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [pid]);
        if (done || waiting.rowCount! > 0) break;
        if (Date.now() > deadline) throw new Error('the second write neither finished nor waited');
        await new Promise((resolve) => setImmediate(resolve));
      }
      await a.query('COMMIT');
      await running;
      await b.query('COMMIT');
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }

  const verdictOf = async (eventId: string): Promise<unknown> => {
    const c = client();
    await c.connect();
    try {
      return (await c.query('SELECT label FROM decisions WHERE decision_id = $1', [decisionIdFor(eventId)])).rows[0]?.label;
    } finally {
      await c.end();
    }
  };

  it('the decision written first, the label while it is open: the label finds it', async (t) => {
    if ('skip' in made) return t.skip(made.skip);
    const { event, decision } = decided(900);
    await overlapping(insertDecisions([{ event, decision }], { writer: 'test' }), upsertLabels([{ event_id: event.event_id, is_fraud: true }]));
    assert.equal(await verdictOf(event.event_id), 'fraud');
  });

  it('the label written first, the decision while it is open: the decision takes it', async (t) => {
    if ('skip' in made) return t.skip(made.skip);
    const { event, decision } = decided(901);
    await overlapping(upsertLabels([{ event_id: event.event_id, is_fraud: false }]), insertDecisions([{ event, decision }], { writer: 'test' }));
    assert.equal(await verdictOf(event.event_id), 'legit');
  });
});
