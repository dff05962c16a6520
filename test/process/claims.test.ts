import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyHash } from '../../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet } from '../../src/decide/index.ts';
import { DEFAULT_FEATURE_SET, featureIndex } from '../../src/features/index.ts';
import { DecisionPipeline, MicroBatchSize, Processor, type EventClaims, type ProcessorOutput } from '../../src/process/index.ts';
import { RulesOnlyScorer } from '../../src/score/index.ts';
import type { ClaimHolder, ClaimRequest, DeadLetter } from '../../src/store/index.ts';
import type { BatchHandler, LogRecord } from '../../src/transport/log.ts';

const T0 = Date.parse('2026-11-26T12:00:00Z');

/** The store's claims, in memory: the first record asking for an id holds it. */
class MemoryClaims implements EventClaims {
  readonly held = new Map<string, ClaimHolder>();
  rounds = 0;
  /** What happened, in order: each claim asked (its ids) — the test's outputs add their own. */
  readonly trace: string[] = [];
  async claim(requests: readonly ClaimRequest[]): Promise<ClaimHolder[]> {
    this.rounds++;
    this.trace.push(`claim ${requests.map((r) => r.event_id).join(',')}`);
    assert.equal(new Set(requests.map((r) => r.event_id)).size, requests.length, 'one request per id');
    return requests.map((r) => {
      const held = this.held.get(r.event_id);
      if (held !== undefined) return held;
      const holder = { body_hash: r.body_hash, position: r.position };
      this.held.set(r.event_id, holder);
      return holder;
    });
  }
}

const body = (id: string, user: string, time: number | string = T0, amount = 40): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', timestamp: time, user_id: user, amount, channel: 'web', country: 'DE' });
const record = (partition: number, offset: number, value: Record<string, unknown>): LogRecord => ({ partition, offset, key: String(value.user_id), value, acceptedAt: T0 });

/** Run batches through a fresh processor on `claims`; every result handed on, by kind. */
async function run(claims: MemoryClaims, batches: LogRecord[][], microBatch?: MicroBatchSize): Promise<{ decided: Map<string, { user: string; hash: string | undefined; firstEvent: number }[]>; conflicts: DeadLetter[]; duplicates: string[] }> {
  const pipeline = new DecisionPipeline({ scorers: [new RulesOnlyScorer(DEFAULT_FEATURE_SET)], engine: new DecisionEngine(defaultRuleSet(0.7)), features: DEFAULT_FEATURE_SET, eventTime: { maxOutOfOrdernessMs: 5000, allowedLatenessMs: 0, dedupeWindowMs: 600_000 } });
  const out = { decided: new Map<string, { user: string; hash: string | undefined; firstEvent: number }[]>(), conflicts: [] as DeadLetter[], duplicates: [] as string[] };
  const output: ProcessorOutput = {
    forward: () => assert.fail('one stage: nothing is passed on'),
    decided: (r) => {
      claims.trace.push(`decided ${r.event.event_id}`);
      const list = out.decided.get(r.event.event_id) ?? [];
      list.push({ user: r.event.user_id, hash: r.body_hash, firstEvent: r.features[featureIndex('first_event')]! });
      out.decided.set(r.event.event_id, list);
    },
    deadLetter: (letter) => assert.fail(`no record is invalid: ${JSON.stringify(letter)}`),
    duplicate: (id) => void out.duplicates.push(id),
    conflict: (letter) => void out.conflicts.push(letter),
    ready: async () => undefined,
  };
  const source = { start: async (handler: BatchHandler) => void (await batches.reduce<Promise<unknown>>((p, b) => p.then(() => handler(b)), Promise.resolve())), stop: async () => undefined, lag: () => 0, progress: () => ({ member: null, partitions: [], problem: null }) };
  await new Processor(source, pipeline, output, { claims, microBatch }).start();
  return out;
}

describe('the processor claims event ids before deciding', () => {
  const alice = body('x', 'alice');
  const bob = body('x', 'bob');
  // alice's and bob's records of one id in two partitions, re-sent in each; one round trip per micro-batch.
  const batch = [record(0, 0, alice), record(1, 0, bob), record(1, 1, bob), record(0, 1, { ...alice, timestamp: new Date(T0).toISOString() })];

  it('decides the first record of an id, skips re-sends of its body and dead-letters another body with both hashes, in one round trip', async () => {
    const claims = new MemoryClaims();
    const out = await run(claims, [batch]);
    assert.equal(claims.rounds, 1);
    assert.deepEqual(out.decided.get('x'), [{ user: 'alice', hash: bodyHash(alice), firstEvent: 1 }]);
    assert.deepEqual(out.duplicates, ['x'], 'alice again, her time written otherwise');
    assert.equal(out.conflicts.length, 2, "bob's two records");
    for (const letter of out.conflicts) {
      assert.equal(letter.source, 'log');
      assert.equal(letter.event_id, 'x');
      assert.deepEqual(letter.errors, [{ field: 'event_id', reason: `already decided with another body (sha256 ${bodyHash(alice)}); this one is sha256 ${bodyHash(bob)}` }]);
      assert.equal(JSON.parse(letter.payload).user_id, 'bob', 'the refused body is kept to be fixed and replayed');
    }
  });

  it('keeps refused re-sends out of the state: the next event of the losing user is still its first', async () => {
    const out = await run(new MemoryClaims(), [batch, [record(1, 2, body('y', 'bob', T0 + 1000))]]);
    assert.deepEqual(out.decided.get('y'), [{ user: 'bob', hash: bodyHash(body('y', 'bob', T0 + 1000)), firstEvent: 1 }]);
  });

  it('refuses a later record with another body whichever partition it reaches, and decides the holding record again when it is read again', async () => {
    const claims = new MemoryClaims();
    await run(claims, [[record(0, 0, alice)]]);
    const late = await run(claims, [[record(1, 7, bob)]]);
    assert.equal(late.decided.size, 0);
    assert.equal(late.conflicts.length, 1);
    // A restart (fresh state) reading the partition again: the record holding the claim is decided again, the store keeps one.
    const again = await run(claims, [[record(0, 0, alice), record(1, 7, bob)]]);
    assert.deepEqual(again.decided.get('x'), [{ user: 'alice', hash: bodyHash(alice), firstEvent: 1 }]);
    assert.equal(again.conflicts.length, 1);
  });

  it('asks the claim of the next micro-batch before deciding this one, and judges a re-send in a later micro-batch against the first', async () => {
    const claims = new MemoryClaims();
    const records = [record(0, 0, body('m1', 'alice')), record(0, 1, body('m2', 'alice', T0 + 1)), record(0, 2, body('m1', 'alice', T0, 41)), record(0, 3, body('m3', 'alice', T0 + 2))];
    const out = await run(claims, [records], new MicroBatchSize({ budgetMs: 20, min: 1, max: 2 }));
    assert.deepEqual(claims.trace, ['claim m1,m2', 'claim m1,m3', 'decided m1', 'decided m2', 'decided m3']);
    assert.deepEqual([...out.decided.keys()], ['m1', 'm2', 'm3']);
    assert.deepEqual(out.conflicts.map((l) => l.event_id), ['m1'], 'the other body of m1, a micro-batch later');
  });
});
