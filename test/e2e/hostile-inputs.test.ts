// Hostile HTTP inputs, generated: nothing answers 5xx or hangs, every refusal is explained and dead-lettered, and a valid event is still decided and stored afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

/** Longest any answer may take: far above a normal one, far below "hangs". */
const ANSWER_WITHIN_MS = 10_000;
const RUNS = Number(process.env.RTDS_FUZZ_RUNS ?? 60);

/** Strings as hostile clients write them: NUL, lone surrogates, quotes, escapes, any code point, sometimes huge. */
const hostileText = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', '\uffff', '"', '\\', '%00', '\n', '😀', '\u202e'), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 12 }).map((parts) => parts.join('')),
  fc.integer({ min: 129, max: 300_000 }).map((n) => 'x'.repeat(n)),
);
const hostileNumber = fc.constantFrom(1e300, -1, 8_640_000_000_000_001, 9_007_199_254_740_992, Number.MAX_VALUE, 0, 0.5, -0, 1.7e308);
const hostileTime = fc.oneof(hostileNumber, fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '+275760-09-13T00:00:00Z', ''), hostileText);
/** Nesting from harmless to past every limit (deeper bodies are built as text below: JSON.stringify itself overflows there). */
const nested = fc.integer({ min: 1, max: 1_000 }).map((depth) => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { k: v } : [v];
  return v;
});
const anyValue = fc.oneof(hostileText, hostileNumber, fc.boolean(), fc.constant(null), nested, fc.dictionary(hostileText, hostileText, { maxKeys: 4 }));

let serial = 0;
const validEvent = (): Record<string, unknown> => ({
  event_id: `ok-${process.pid}-${serial++}`,
  event_type: 'transaction',
  timestamp: new Date().toISOString(),
  user_id: `u-${serial % 7}`,
  amount: 42.5,
  currency: 'EUR',
  channel: 'web',
  country: 'DE',
});

/** A valid event with some fields replaced or added by hostile values. */
const mutatedEvent = fc
  .record({
    replace: fc.dictionary(fc.constantFrom('event_id', 'event_type', 'timestamp', 'user_id', 'session_id', 'ip_address', 'country', 'channel', 'amount', 'currency', 'merchant_id', 'device_id', 'metadata', 'extra'), anyValue, { maxKeys: 3 }),
    time: fc.option(hostileTime, { nil: undefined }),
    metadata: fc.option(fc.oneof(nested.map((n) => ({ n })), fc.dictionary(hostileText, anyValue, { maxKeys: 3 })), { nil: undefined }),
  })
  .map(({ replace, time, metadata }) => ({ ...validEvent(), ...replace, ...(time === undefined ? {} : { timestamp: time }), ...(metadata === undefined ? {} : { metadata }) }));

const mutatedLabel = fc.record({ event_id: fc.oneof(hostileText, fc.constant('ok-1')), is_fraud: fc.oneof(fc.boolean(), anyValue), labeled_at: fc.option(hostileTime, { nil: undefined }) });

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Each backend's app, and every refusal it owes a dead letter for. */
function hostileSuite(name: string, open: () => Promise<{ dataDir: string; databaseUrl?: string; close(): Promise<void> } | { skip: string }>): void {
  describe(`hostile HTTP inputs on ${name}`, () => {
    let app: RunningApp;
    let skip: string | undefined;
    let close: () => Promise<void> = async () => undefined;
    /** Dead letters the answers promised: one per refused item, one per body refused whole. */
    let owed = 0;

    before(async () => {
      const opened = await open();
      if ('skip' in opened) return void (skip = opened.skip);
      close = opened.close;
      // A generous decide budget: what is asserted is a decision or a refusal for each input, not how fast
      // the store confirms it on a busy machine (a 503 past the budget would be an answer of neither kind).
      app = await startApp(
        loadConfig({ dataDir: opened.dataDir, databaseUrl: opened.databaseUrl, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, maxBatchEvents: 50, decideTimeoutMs: 30_000 }, {}),
      );
    });
    after(async () => {
      if (skip !== undefined) return;
      await app.stop();
      await close();
    });

    /** Send a body (JSON unless given as text) and check the answer's invariants: in time, no 5xx, every refusal explained. */
    const send = async (route: string, body: unknown, options: { raw?: boolean; method?: string } = {}): Promise<Answer> => {
      const res = await fetch(`${app.url}${route}`, {
        method: options.method ?? 'POST',
        headers: { 'content-type': 'application/json' },
        body: options.raw === true ? (body as string) : JSON.stringify(body),
        signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${route} answered ${res.status}: ${text.slice(0, 300)}`);
      const parsed = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
      if (res.status >= 400) assert.ok(typeof parsed.error === 'string' && parsed.error.length > 0, `${route} ${res.status} without a reason: ${text.slice(0, 300)}`);
      for (const r of (parsed.rejected ?? []) as { errors: { field: string; reason: string }[] }[]) {
        assert.ok(r.errors.length > 0 && r.errors.every((e) => e.field.length > 0 && e.reason.length > 0), `a refusal without its field and reason: ${JSON.stringify(r).slice(0, 300)}`);
      }
      return { status: res.status, body: parsed };
    };
    /** Refusals for what an item holds; a re-send of a generated id with another body (409, conflict) is judged by test/e2e/one-decision.test.ts. */
    const refusedItems = (a: Answer): number => ((a.body.rejected ?? []) as { conflict?: unknown }[]).filter((r) => r.conflict === undefined).length;

    it('events, alone and in batches: accepted or refused with every reason, each refusal dead-lettered', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      await fc.assert(
        fc.asyncProperty(fc.array(mutatedEvent, { minLength: 1, maxLength: 4 }), async (events) => {
          const a = await send('/api/v1/events', events.length === 1 ? events[0] : events);
          assert.ok([202, 400, 409].includes(a.status), `status ${a.status}`);
          // A body refused whole (nested too deep) is one refusal of the body, not of each item.
          const whole = (a.body.rejected as { errors: { field: string }[] }[] | undefined)?.[0]?.errors[0]?.field === '(body)';
          if (!whole) assert.equal(Number(a.body.accepted) + ((a.body.rejected ?? []) as unknown[]).length, events.length, 'every item is accepted or refused');
          owed += refusedItems(a);
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });

    it('bodies that are not JSON, nest too deep or batch too much: refused whole with the reason (400 / 413) and dead-lettered', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      await fc.assert(
        fc.asyncProperty(fc.oneof(hostileText, fc.constant('['.repeat(100_000)), fc.integer({ min: 1, max: 200_000 }).map((d) => `[${'{"k":'.repeat(d)}1${'}'.repeat(d)}]`)), async (text) => {
          const a = await send('/api/v1/events', text, { raw: true });
          owed += refusedItems(a);
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
      const tooMany = await send('/api/v1/events', Array.from({ length: 51 }, validEvent));
      assert.equal(tooMany.status, 413);
      assert.match(String(tooMany.body.error), /at most 50 items/);
      owed += 1;
    });

    it('/decide with hostile events: a decision (stored) or a refusal with reasons, dead-lettered', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      await fc.assert(
        fc.asyncProperty(mutatedEvent, async (event) => {
          const a = await send('/api/v1/decide', event);
          assert.ok([200, 400, 409].includes(a.status), `status ${a.status}: ${JSON.stringify(a.body).slice(0, 200)}`);
          if (a.status === 400) owed += refusedItems(a);
          else if (a.status === 200) {
            const stored = await fetch(`${app.url}/api/v1/events/${encodeURIComponent(String(a.body.event_id))}`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
            assert.equal(((await stored.json()) as { status: string }).status, 'decided', 'a /decide answer is stored before it is sent');
          }
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });

    it('labels: stored or refused with reasons, each refusal dead-lettered', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      await fc.assert(
        fc.asyncProperty(fc.array(mutatedLabel, { minLength: 1, maxLength: 3 }), async (labels) => {
          const a = await send('/api/v1/labels', labels);
          assert.ok([202, 400].includes(a.status), `status ${a.status}`);
          owed += refusedItems(a);
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });

    it('rules, lists, backtests and lookups with hostile values: answered without a 5xx', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      await fc.assert(
        fc.asyncProperty(anyValue, hostileText, async (value, text) => {
          await send('/api/v1/rules', { version: text, rules: [{ id: text, when: text, then: 'flag' }], extra: value });
          await send('/api/v1/rules/backtest', { version: 'candidate', rules: [{ id: 'r', when: text, then: 'flag' }] });
          await send('/api/v1/lists/block', { field: 'user_id', value: text });
          await send('/api/v1/lists/block', value);
          const id = encodeURIComponent((text.slice(0, 2000) as string & { toWellFormed(): string }).toWellFormed());
          await send(`/api/v1/events/${id}`, undefined, { method: 'GET' });
          await send(`/api/v1/decisions?user_id=${id}`, undefined, { method: 'GET' });
          await send(`/api/v1/dead-letters?event_id=${id}`, undefined, { method: 'GET' });
        }),
        { numRuns: Math.ceil(RUNS / 2), includeErrorInReport: true },
      );
    });

    it('afterwards a valid event is still decided and stored, and every refusal is in the dead-letter store', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const event = validEvent();
      const decided = await send('/api/v1/decide', event);
      assert.equal(decided.status, 200);
      assert.equal(decided.body.event_id, event.event_id);
      const stored = (await (await fetch(`${app.url}/api/v1/events/${String(event.event_id)}`)).json()) as { status: string; decision: { decision: string } };
      assert.equal(stored.status, 'decided');
      assert.equal(stored.decision.decision, decided.body.decision);
      await app.sink.flush();
      const [row] = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM dead_letters WHERE errors->0->>'reason' NOT LIKE 'already decided with another body%'");
      assert.equal(row!.n, owed, 'one dead letter per refusal');
      const ready = await fetch(`${app.url}/readyz`);
      assert.equal(ready.status, 200, 'still ready');
    });
  });
}

hostileSuite('embedded PGlite', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-hostile-'));
  return { dataDir, close: async () => rmSync(dataDir, { recursive: true, force: true }) };
});

hostileSuite('PostgreSQL', async () => {
  const created: TestDatabase | { skip: string } = await createTestDatabase();
  if ('skip' in created) return created;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-hostile-pg-'));
  return {
    dataDir,
    databaseUrl: created.url,
    close: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await created.drop();
    },
  };
});
