// The ingest edge's claim look-ups: submits made together (concurrent HTTP requests) share one query, and each is answered for its own events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyHash } from '../../src/contracts/index.ts';
import { EventIngest } from '../../src/ingest/event-ingest.ts';
import { claimedBodies, claimEvents, type DeadLetter } from '../../src/store/index.ts';
import { PartitionedLog } from '../../src/transport/embedded/partitioned-log.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const body = (id: string, amount: number): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', timestamp: T0, user_id: `user-${id}`, amount, channel: 'web', country: 'DE' });

onBothStores((kind, open, cleanup) => {
  describe(`claim look-ups of concurrent submits on ${kind}`, () => {
    const store = openedStore(open, cleanup);

    it('looks up the claims of thirty submits made together in one query: free ids appended, their holders accepted again, other bodies refused as conflicts', async (t) => {
      if (store.skip !== undefined) return t.skip(store.skip);
      const db = store.db!;
      const ids = (what: string): string[] => Array.from({ length: 10 }, (_, i) => `${kind}-${what}-${i}`);
      const [free, resent, conflicting] = [ids('free'), ids('resent'), ids('conflicting')];
      await claimEvents(db, 'lookups.events', [...resent, ...conflicting].map((id, i) => ({ event_id: id, body_hash: bodyHash(body(id, 10)), position: { partition: 0, offset: i } })));
      const lookups: string[][] = [];
      const log = new PartitionedLog(4);
      const letters: DeadLetter[] = [];
      const ingest = new EventIngest({
        log,
        deadLetter: (letter) => void letters.push(letter),
        claimedBodies: (eventIds) => (lookups.push([...eventIds]), claimedBodies(db, eventIds)),
      });
      const submits = [...free.map((id) => body(id, 10)), ...resent.map((id) => body(id, 10)), ...conflicting.map((id) => body(id, 99))].map((b) => ingest.submit([b], 'http', { claims: 'required' }));
      const results = await Promise.all(submits);

      assert.equal(lookups.length, 1, 'one query for the thirty submits');
      assert.equal(lookups[0]!.length, 30);
      const appended = results.flatMap((r) => r.accepted.filter((a) => a.appended).map((a) => a.event.event_id));
      const acceptedAgain = results.flatMap((r) => r.accepted.filter((a) => !a.appended).map((a) => a.event.event_id));
      const refused = results.flatMap((r) => r.rejected.map((x) => [x.event_id, x.conflict?.decided_body_hash]));
      assert.deepEqual(appended, free);
      assert.deepEqual(acceptedAgain, resent);
      assert.deepEqual(refused, conflicting.map((id) => [id, bodyHash(body(id, 10))]));
      assert.equal([0, 1, 2, 3].reduce((n, p) => n + log.endOffset(p), 0), free.length, 'only the free ids reach the log');
      assert.deepEqual(letters.map((l) => l.event_id), conflicting, 'each conflict dead-lettered');
    });
  });
});
