import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decisionIdFor, type Decision, type RtdsEvent } from '../../src/contracts/index.ts';
import { PipelineMetrics } from '../../src/observe/index.ts';
import { DecisionSink, listDeadLetters, type Database, type DecidedEvent, type IsolatedRow } from '../../src/store/index.ts';
import { onBothStores } from '../support/postgres.ts';

const BASE = Date.UTC(2026, 10, 26, 12);

/** Rows built by hand, past the edge's validation, as a Kafka record from another producer might be. */
function row(eventId: string, overrides: Partial<RtdsEvent> = {}): DecidedEvent {
  const event: RtdsEvent = { event_id: eventId, event_type: 'login', timestamp: new Date(BASE).toISOString(), event_time: BASE, event_time_source: 'event', user_id: 'u1', metadata: { note: 'fine' }, ...overrides };
  const decision: Decision = {
    decision_id: decisionIdFor(eventId),
    event_id: eventId,
    decision: 'approved',
    risk_score: 0.1,
    reason: 'approved for test',
    reasons: [{ code: 'model_score', source: 'model', message: 'test' }],
    timestamp: new Date(BASE + 5).toISOString(),
    processing_time_ms: 0.3,
    model_version: 'v1',
    rules_version: 'builtin-1',
    late: false,
    history: 'complete',
    degraded: 'none',
    event_time_source: 'event',
  };
  return { event, decision };
}

/** 10 KB that do not compress (a repeated letter would, and then fit the index). */
const LONG_ID = `long-${Array.from({ length: 10 * 1024 }, (_, i) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[(i * 7919 + ((i * i) % 104_729)) % 62]).join('')}`;
/** Each poisoned row, and what the refusal must say (PGlite and PostgreSQL word them alike). */
const POISONED: { row: DecidedEvent; reason: RegExp }[] = [
  { row: row('nul-metadata', { metadata: { note: 'a\u0000b' } }), reason: /\\u0000|unicode escape|invalid byte sequence/i },
  { row: row('nul-user', { user_id: 'al\u0000ice' }), reason: /invalid byte sequence for encoding "UTF8": 0x00/ },
  { row: row('lone-surrogate', { metadata: { note: 'x\udc00y' } }), reason: /surrogate/i },
  { row: row(LONG_ID), reason: /index row/i },
  { row: row('date-beyond-js', { event_time: 8_640_000_000_000_001 }), reason: /outside the range of a date|out of range/i },
  // A date JavaScript holds but PostgreSQL does not (its first is 4713 BC).
  { row: row('before-4713-bc', { event_time: Date.parse('-010000-01-01T00:00:00Z') }), reason: /out of range/i },
];

async function counts(db: Database): Promise<{ events: number; decisions: number }> {
  const [c] = await db.query<{ events: number; decisions: number }>('SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM decisions)::int AS decisions');
  return c!;
}

function poisonSuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`a poisoned batch on ${kind}`, () => {
    let db: Database | undefined;
    let skip: string | undefined;
    const metrics = new PipelineMetrics({ defaultMetrics: false });
    const isolated: IsolatedRow[] = [];
    let sink: DecisionSink;
    before(async () => {
      const opened = await open();
      if ('skip' in opened) return void (skip = opened.skip);
      db = opened;
      sink = new DecisionSink(db, {
        batchSize: 100,
        flushMs: 5,
        concurrency: 2,
        onIsolated: (r) => {
          isolated.push(r);
          metrics.storeRowsIsolated.inc({ table: r.table, reason: r.reason });
        },
      });
    });
    after(async () => {
      await db?.close();
      await cleanup();
    });

    it('stores every valid row, dead-letters each poisoned one with the database’s reason, and keeps writing', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const valid = Array.from({ length: 40 }, (_, i) => row(`ok-${i}`, { user_id: `u${i % 4}` }));
      // Poisoned rows spread through one batch, so bisection has to find each.
      POISONED.forEach((p, i) => valid.splice(i * 7, 0, p.row));
      for (const r of valid) sink.write(r);
      await sink.flush();

      assert.deepEqual(await counts(db!), { events: 40, decisions: 40 });
      const letters = await listDeadLetters(db!, 100);
      for (const { row: r, reason } of POISONED) {
        const id = r.event.event_id.slice(0, 256);
        const letter = letters.find((l) => l.event_id === id);
        assert.ok(letter, `${id.slice(0, 20)} dead-lettered`);
        assert.equal(letter.source, 'store');
        assert.match(letter.errors[0]!.reason, reason, `${id.slice(0, 20)}: ${letter.errors[0]!.reason}`);
        assert.equal((JSON.parse(letter.payload) as { event_id: string }).event_id, r.event.event_id, 'the payload keeps the whole event to fix and replay');
      }
      assert.deepEqual(
        isolated.map((r) => r.event_id?.slice(0, 256)).sort(),
        POISONED.map((p) => p.row.event.event_id.slice(0, 256)).sort(),
      );
      const counted = (await metrics.storeRowsIsolated.get()).values.reduce((sum, v) => sum + v.value, 0);
      assert.equal(counted, POISONED.length, 'rtds_store_rows_isolated_total counts each one');

      // The store was not stopped: a later batch lands at once.
      for (let i = 0; i < 10; i++) sink.write(row(`later-${i}`));
      await sink.flush();
      assert.deepEqual(await counts(db!), { events: 50, decisions: 50 });
    });

    it('isolates poison in a replayed batch too (the INSERT path after a COPY meets stored rows)', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      isolated.length = 0;
      // Stored rows first, so the COPY fails on their keys and the batch goes by INSERT … ON CONFLICT.
      const replay = [row('ok-0'), row('ok-1'), row('date-beyond-js', { event_time: 8_640_000_000_000_001 }), row('nul-user', { user_id: 'al\u0000ice' }), row('new-after-replay')];
      for (const r of replay) sink.write(r);
      await sink.flush();
      assert.deepEqual(await counts(db!), { events: 51, decisions: 51 });
      assert.deepEqual(isolated.map((r) => r.event_id).sort(), ['date-beyond-js', 'nul-user']);
      assert.ok(isolated.every((r) => r.reason === 'encoding' || r.reason.startsWith('22')), `refused for their data: ${isolated.map((r) => r.reason).join(', ')}`);
    });

    it('stores a dead letter holding NUL, lone surrogates and a 10 KB id, made safe and marked so', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      isolated.length = 0;
      sink.writeDeadLetter({ source: 'http', event_id: `${LONG_ID}\u0000`, payload: 'not json \u0000 \ud800 end', errors: [{ field: 'metadata.\u0000', reason: 'bad \udc00' }] });
      sink.writeDeadLetter({ source: 'http', event_id: 'plain-letter', payload: '{"event_id":"plain-letter"}', errors: [{ field: 'user_id', reason: 'is required' }] });
      sink.write(row('beside-letters'));
      await sink.close();
      assert.deepEqual(isolated, [], 'nothing had to be set aside');
      const [long] = await listDeadLetters(db!, 1, LONG_ID.slice(0, 256));
      assert.ok(long);
      assert.equal(long.payload, 'not json \\u0000 \\ud800 end');
      assert.deepEqual(long.errors[0], { field: 'metadata.\\u0000', reason: 'bad \\udc00' });
      assert.ok(long.errors.some((e) => e.field === 'event_id' && /cut/.test(e.reason)));
      assert.ok(long.errors.some((e) => e.field === 'payload' && /escaped|written as/.test(e.reason)));
      const [plain] = await listDeadLetters(db!, 1, 'plain-letter');
      assert.equal(plain!.payload, '{"event_id":"plain-letter"}', 'a storable payload is kept as received');
      assert.deepEqual(await counts(db!), { events: 52, decisions: 52 });
    });
  });
}

onBothStores(poisonSuite);
