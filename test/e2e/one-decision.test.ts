// Exactly one decision per event id over HTTP on the embedded transport: re-sends with the same body or another, on time or late, one after the other or racing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { bodyHash } from '../../src/contracts/index.ts';
import { findDecision, listDeadLetters, type StoredDecision, type StoredDeadLetter } from '../../src/store/index.ts';

const RUNS = Number(process.env.RTDS_FUZZ_RUNS ?? 30);
const USERS = ['alice', 'bob', 'carol'];
/** Late events happen here; every user's partition has seen an hour later first (see `before`). */
const LATE = Date.parse('2026-11-26T08:00:00Z');
const PUSHED = LATE + 3_600_000;
/** On-time events happen after that, later with each test, so none of them is late. */
let onTime = PUSHED + 3_600_000;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The fields a decision is the same decision by, whichever path answered it. */
const essentials = (d: Record<string, unknown> | StoredDecision): unknown[] => [d.decision_id, d.event_id, d.decision, d.risk_score, d.reason, d.timestamp, d.late, d.body_hash];

describe('exactly one decision per event id, embedded', () => {
  let app: RunningApp;
  let dataDir: string;
  /** How often each event id's decision was published (live feed, WebSocket): once each. */
  const published = new Map<string, number>();

  const post = async (route: string, body: unknown): Promise<Answer> => {
    const res = await fetch(`${app.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const event = (id: string, user: string, time: number | string, amount = 40): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', timestamp: time, user_id: user, amount, channel: 'web', country: 'DE' });

  /** Every record in the log decided or refused, and every row written: a condition, polled. */
  const settled = async (): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (app.lag() > 0) {
      if (Date.now() > deadline) throw new Error(`log not drained: lag ${app.lag()}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await app.sink.flush();
  };
  const conflictLetters = async (id: string): Promise<StoredDeadLetter[]> => (await listDeadLetters(app.db, 100, id)).filter((l) => l.errors.some((e) => e.field === 'event_id' && /already decided with another body/.test(e.reason)));

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-one-decision-'));
    // A generous budget: the machine is shared, and a 504 would say nothing about this property.
    app = await startApp(loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, decideTimeoutMs: 15_000 }, {}));
    app.feed.subscribe((d) => published.set(d.event_id, (published.get(d.event_id) ?? 0) + 1));
    for (const user of USERS) assert.equal((await post('/api/v1/decide', event(`push-${user}`, user, PUSHED))).status, 200);
  });
  after(async () => {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const timing of ['on time', 'late'] as const) {
    for (const order of ['one after the other', 'racing'] as const) {
      it(`two /decide of one id with other users and bodies, ${order}, ${timing}: one decision stored, one 200 with it, the other 409 and dead-lettered with both hashes`, async () => {
        const id = `pair-${timing}-${order}`.replace(/ /g, '-');
        const time = timing === 'late' ? LATE : (onTime += 1000);
        const alice = event(id, 'alice', time, 2500);
        const bob = event(id, 'bob', time, 40);
        const answers = order === 'racing' ? await Promise.all([post('/api/v1/decide', alice), post('/api/v1/decide', bob)]) : [await post('/api/v1/decide', alice), await post('/api/v1/decide', bob)];
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409], JSON.stringify(answers));
        const won = answers.findIndex((a) => a.status === 200);
        if (order === 'one after the other') assert.equal(won, 0, 'the first one sent holds the id');
        const [winner, loser] = won === 0 ? [alice, bob] : [bob, alice];
        await settled();

        const stored = (await findDecision(app.db, id))!;
        assert.deepEqual(essentials(answers[won]!.body), essentials(stored), 'the 200 is the stored decision');
        assert.equal(stored.body_hash, bodyHash(winner));
        assert.equal(stored.late, timing === 'late');
        const storedEvent = (await (await fetch(`${app.url}/api/v1/events/${id}`)).json()) as { event: { user_id: string } };
        assert.equal(storedEvent.event.user_id, winner.user_id);
        const refusal = answers[1 - won]!.body;
        assert.deepEqual([refusal.code, refusal.event_id, refusal.body_hash, refusal.decided_body_hash], ['conflict', id, bodyHash(loser), bodyHash(winner)]);
        const letters = await conflictLetters(id);
        assert.equal(letters.length, 1, 'one dead letter');
        assert.ok(letters[0]!.errors[0]!.reason.includes(bodyHash(winner)) && letters[0]!.errors[0]!.reason.includes(bodyHash(loser)), 'holding both hashes');
        assert.equal((JSON.parse(letters[0]!.payload) as { user_id: string }).user_id, loser.user_id);
        assert.equal(published.get(id), 1, 'published once');
      });
    }
  }

  it('two /decide of one id with the same body, racing, its time written two ways: both 200 with the one stored decision', async () => {
    const time = (onTime += 1000);
    const [a, b] = await Promise.all([post('/api/v1/decide', event('same-body', 'carol', time)), post('/api/v1/decide', event('same-body', 'carol', new Date(time).toISOString()))]);
    assert.deepEqual([a!.status, b!.status], [200, 200]);
    await settled();
    const stored = (await findDecision(app.db, 'same-body'))!;
    assert.deepEqual(essentials(a!.body), essentials(stored));
    assert.deepEqual(essentials(b!.body), essentials(stored));
    assert.deepEqual(await conflictLetters('same-body'), []);
    assert.equal(published.get('same-body'), 1);
  });

  it('POST /api/v1/events refuses a re-sent id with another body in its batch (dead-lettered), accepts its own body again without appending it, and answers 409 when every item conflicts', async () => {
    const time = (onTime += 1000);
    assert.equal((await post('/api/v1/decide', event('batch-held', 'alice', time))).status, 200);
    const mixed = await post('/api/v1/events', [event('batch-held', 'alice', time), event('batch-held', 'bob', time), event('batch-new', 'bob', time)]);
    assert.equal(mixed.status, 202);
    assert.deepEqual([mixed.body.accepted, mixed.body.event_ids], [2, ['batch-held', 'batch-new']]);
    const [rejection] = mixed.body.rejected as { index: number; errors: { field: string }[]; conflict: { body_hash: string; decided_body_hash: string } }[];
    assert.deepEqual([rejection!.index, rejection!.errors[0]!.field, rejection!.conflict], [1, 'event_id', { body_hash: bodyHash(event('batch-held', 'bob', time)), decided_body_hash: bodyHash(event('batch-held', 'alice', time)) }]);
    const all = await post('/api/v1/events', [event('batch-held', 'carol', time)]);
    assert.equal(all.status, 409);
    assert.equal(all.body.code, 'conflict');
    await settled();
    assert.equal((await conflictLetters('batch-held')).length, 2);
    assert.equal(published.get('batch-held'), 1);
    assert.equal(published.get('batch-new'), 1);
  });

  it('property: over random interleavings of sends and re-sends (same body or another, on time or late, /decide or /events), each id has one decision, of a body accepted, that every 200 equals, and every other body was refused or dead-lettered', async () => {
    const send = fc.record({ id: fc.integer({ min: 0, max: 2 }), user: fc.integer({ min: 0, max: USERS.length - 1 }), amount: fc.constantFrom(40, 900), late: fc.boolean(), inMs: fc.boolean(), route: fc.constantFrom('decide', 'events') });
    // Groups run one after the other; the sends of a group race.
    const interleaving = fc.array(fc.array(send, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(interleaving, async (groups) => {
        const prefix = `prop-${run++}-`;
        const time = (onTime += 1000);
        const sent: { id: string; body: Record<string, unknown>; hash: string; route: string; answer: Answer }[] = [];
        for (const group of groups) {
          await Promise.all(
            group.map(async (s) => {
              const t = s.late ? LATE : time;
              const body = event(`${prefix}${s.id}`, USERS[s.user]!, s.inMs ? t : new Date(t).toISOString(), s.amount);
              const answer = await post(s.route === 'decide' ? '/api/v1/decide' : '/api/v1/events', s.route === 'decide' ? body : [body]);
              sent.push({ id: String(body.event_id), body, hash: bodyHash(body), route: s.route, answer });
            }),
          );
        }
        await settled();
        for (const id of new Set(sent.map((s) => s.id))) {
          const mine = sent.filter((s) => s.id === id);
          const accepted = mine.filter((s) => s.answer.status === 200 || (s.answer.status === 202 && (s.answer.body.event_ids as string[]).includes(id)));
          const stored = await findDecision(app.db, id);
          assert.ok(stored !== undefined, `${id} decided`);
          assert.equal(published.get(id), 1, `${id} published once`);
          const held = stored.body_hash!;
          assert.ok(accepted.some((s) => s.hash === held), `${id}: the stored body was accepted`);
          const heldBody = mine.find((s) => s.hash === held)!.body;
          assert.equal(stored.late, heldBody.timestamp === LATE || heldBody.timestamp === new Date(LATE).toISOString(), `${id}: late as its body`);
          for (const s of mine) {
            if (s.route === 'decide') {
              if (s.hash === held) assert.deepEqual([s.answer.status, ...essentials(s.answer.body)], [200, ...essentials(stored)], `${id}: a 200 is the stored decision`);
              else assert.deepEqual([s.answer.status, s.answer.body.code, s.answer.body.decided_body_hash], [409, 'conflict', held], `${id}: another body is refused`);
            } else if (s.hash === held) assert.equal(s.answer.status, 202, `${id}: its body is accepted again`);
          }
          // Each other body refused once: at the edge, or by the processor after it was accepted.
          const others = mine.filter((s) => s.hash !== held).map((s) => s.hash).sort();
          const letters = (await conflictLetters(id)).map((l) => {
            assert.ok(l.errors[0]!.reason.includes(held), 'the dead letter names the decided body');
            return bodyHash(JSON.parse(l.payload) as object);
          });
          assert.deepEqual(letters.sort(), others, `${id}: one dead letter per other body`);
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
