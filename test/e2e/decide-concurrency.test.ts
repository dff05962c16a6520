// Many /decide requests at once, their store round trips grouped: each decided exactly once, answered only once stored, a contested id one decision with 200s and 409s.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { bodyHash } from '../../src/contracts/index.ts';
import { findDecision } from '../../src/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const event = (id: string, user: string, amount: number): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', user_id: user, amount, currency: 'EUR', channel: 'web', country: 'DE' });

for (const kind of ['PGlite', 'PostgreSQL'] as const) {
  describe(`concurrent /decide on ${kind}`, () => {
    let app: RunningApp | undefined;
    let dataDir: string;
    let database: TestDatabase | undefined;
    let skip: string | undefined;
    /** How often each event id's decision was published: once each. */
    const published = new Map<string, number>();

    const decide = async (body: Record<string, unknown>): Promise<Answer> => {
      const res = await fetch(`${app!.url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-decide-concurrency-'));
      let databaseUrl: string | undefined;
      if (kind === 'PostgreSQL') {
        const made = await createTestDatabase();
        if ('skip' in made) return void (skip = made.skip);
        database = made;
        databaseUrl = made.url;
      }
      // A generous budget: the machine is shared, and a 504 or 503 would say nothing about these properties.
      app = await startApp(loadConfig({ dataDir, databaseUrl, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', decideTimeoutMs: 30_000 }, {}));
      app.feed.subscribe((d) => published.set(d.event_id, (published.get(d.event_id) ?? 0) + 1));
    });
    after(async () => {
      await app?.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('decides 120 distinct events sent at once exactly once each, and answers each only once its decision is stored', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const ids = Array.from({ length: 120 }, (_, i) => `${kind}-many-${i}`);
      const outcomes = await Promise.all(
        ids.map(async (id, i) => {
          const answer = await decide(event(id, `user-${i % 17}`, 10 + i));
          // Read the moment the answer is in: it must already be in the store.
          const stored = await findDecision(app!.db, id);
          return { answer, stored };
        }),
      );
      for (const [i, { answer, stored }] of outcomes.entries()) {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.event_id, ids[i]);
        assert.ok(stored !== undefined, `${ids[i]} answered before its decision was stored`);
        assert.equal(stored.decision_id, answer.body.decision_id);
        assert.equal(stored.decision, answer.body.decision);
      }
      assert.deepEqual(
        ids.filter((id) => published.get(id) !== 1),
        [],
        'each decided once',
      );
    });

    it('gives a contested id one decision: requests with its body answer it (200), those with another body 409, whichever arrive together', async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const id = `${kind}-contested`;
      const bodies = [event(id, 'alice', 2500), event(id, 'bob', 40)];
      // Sixteen at once, alternating the two bodies, then the same again once decided.
      const send = (): Promise<{ sent: number; answer: Answer }[]> => Promise.all(Array.from({ length: 16 }, async (_, i) => ({ sent: i % 2, answer: await decide(bodies[i % 2]!) })));
      const answers = [...(await send()), ...(await send())];

      const stored = await findDecision(app!.db, id);
      assert.ok(stored !== undefined);
      const won = bodies.findIndex((b) => bodyHash(b) === stored.body_hash);
      assert.ok(won >= 0, 'the stored decision is of one of the bodies sent');
      for (const { sent, answer } of answers) {
        if (sent === won) {
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal(answer.body.decision_id, stored.decision_id);
          assert.equal(answer.body.decision, stored.decision);
        } else {
          assert.equal(answer.status, 409, JSON.stringify(answer.body));
          assert.equal(answer.body.code, 'conflict');
          assert.equal(answer.body.decided_body_hash, stored.body_hash);
        }
      }
      assert.equal(published.get(id), 1, 'one decision published');
    });
  });
}
