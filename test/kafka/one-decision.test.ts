// Exactly one decision per event id on Kafka with two processors: re-sends straight onto the events topic, under other keys, with the same body or another, on time or late.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import fc from 'fast-check';
import pg from 'pg';
import { bodyHash } from '../../src/contracts/index.ts';
import { openDatabase } from '../../src/store/index.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { openKafkaTestbed, readCommittedByKafka, spawnProcessor, TEST_BROKERS, type KafkaTestbed, type ProcessorLog } from '../support/kafka.ts';

const PARTITIONS = 4;
/** Each run waits on two processors and a broker: fewer than the embedded suite's. */
const RUNS = Math.max(3, Math.ceil(Number(process.env.RTDS_FUZZ_RUNS ?? 30) / 6));
const USERS = ['alice', 'bob', 'carol'];
const LATE = Date.parse('2026-11-26T08:00:00Z');
const PUSHED = LATE + 3_600_000;
const ON_TIME = PUSHED + 3_600_000;
const SETTLE_MS = 60_000;

describe('exactly one decision per event id on Kafka, two processors', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let client: pg.Client;
  let producer: Producer<string, string, string, string>;
  let topic: string;
  const processors: { child: ChildProcess; log: ProcessorLog }[] = [];
  /** Every event id sent, over all runs. */
  const ids = new Set<string>();

  const produce = (records: { key: string; body: Record<string, unknown> }[]): Promise<unknown> => producer.send({ messages: records.map((r) => ({ topic, key: r.key, value: JSON.stringify(r.body) })) });
  const event = (id: string, user: string, time: number | string, amount = 40): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', timestamp: time, user_id: user, amount, channel: 'web', country: 'DE' });
  const query = async <T extends object>(sql: string, params: unknown[] = []): Promise<T[]> => (await client.query(sql, params)).rows as T[];

  /** Polls until `done` holds of the store (a condition, not a fixed sleep). */
  const until = async (what: string, done: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + SETTLE_MS;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`not settled after ${SETTLE_MS} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  before(async () => {
    const opened = await openKafkaTestbed(PARTITIONS);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    topic = topicNames(bed.prefix).events;
    client = new pg.Client({ connectionString: bed.db.url });
    await client.connect();
    await ensureTopics(TEST_BROKERS, topicNames(bed.prefix), PARTITIONS);
    // The schema before the processors: two starting together would both migrate it.
    await (await openDatabase({ databaseUrl: bed.db.url, dataDir: bed.dataDir })).close();
    const env = { RTDS_DATABASE_URL: bed.db.url, RTDS_KAFKA_TOPIC_PREFIX: bed.prefix, RTDS_KAFKA_GROUP: `group-${bed.prefix}`, RTDS_PARTITIONS: String(PARTITIONS), RTDS_DATA_DIR: bed.dataDir };
    processors.push(...(await Promise.all(['a', 'b'].map((instance) => spawnProcessor({ ...env, RTDS_INSTANCE_ID: instance })))));
    // Both own partitions before anything is sent: no rebalance mixes into the runs.
    await Promise.all(processors.map((p) => p.log.until((log) => log.ownedPartitions() > 0, 60_000)));
    producer = new Producer({ clientId: 'one-decision-test', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    // Every user's partition an hour ahead of LATE, so events at LATE are late.
    await produce(USERS.map((user) => ({ key: user, body: event(`push-${user}`, user, PUSHED) })));
    for (const user of USERS) ids.add(`push-${user}`);
    await until('the pushing events decided', async () => (await query<{ n: number }>('SELECT count(*)::int AS n FROM decisions'))[0]!.n === USERS.length);
  });
  after(async () => {
    for (const p of processors) p.child.kill('SIGKILL');
    if (skip !== undefined) return;
    await producer?.close();
    await client.end();
    await bed.close();
  });

  it('property: each id has one decision, of a body sent, and every record with another body is dead-lettered once with both hashes; one decision per id on the decisions topic', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // A record of one of a few ids, under its user's key or another's; groups are produced one after the other.
    const record = fc.record({ id: fc.integer({ min: 0, max: 3 }), user: fc.integer({ min: 0, max: USERS.length - 1 }), amount: fc.constantFrom(40, 900), late: fc.boolean(), inMs: fc.boolean(), otherKey: fc.boolean() });
    const interleaving = fc.array(fc.array(record, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(interleaving, async (groups) => {
        const prefix = `k${run++}-`;
        const sent: { id: string; hash: string; late: boolean; user: string }[] = [];
        for (const group of groups) {
          const records = group.map((r) => {
            const time = r.late ? LATE : ON_TIME;
            const user = USERS[r.user]!;
            const body = event(`${prefix}${r.id}`, user, r.inMs ? time : new Date(time).toISOString(), r.amount);
            sent.push({ id: String(body.event_id), hash: bodyHash(body), late: r.late, user });
            return { key: r.otherKey ? USERS[(r.user + 1) % USERS.length]! : user, body };
          });
          await produce(records);
        }
        const runIds = [...new Set(sent.map((s) => s.id))];
        for (const id of runIds) ids.add(id);
        // Settled: every id decided, and as many conflicts dead-lettered as records with another body than the one holding their id.
        const holders = async (): Promise<Map<string, string>> => new Map((await query<{ event_id: string; body_hash: string }>('SELECT event_id, body_hash FROM event_claims c JOIN decisions d USING (event_id) WHERE event_id = ANY($1)', [runIds])).map((r) => [r.event_id, r.body_hash]));
        const letters = (): Promise<{ event_id: string; payload: string; reason: string; source: string }[]> =>
          query("SELECT event_id, payload, errors->0->>'reason' AS reason, source FROM dead_letters WHERE event_id = ANY($1) AND errors->0->>'field' = 'event_id'", [runIds]);
        await until(`run ${prefix}`, async () => {
          const held = await holders();
          return held.size === runIds.length && (await letters()).length === sent.filter((s) => s.hash !== held.get(s.id)).length;
        });
        const held = await holders();
        const decided = await query<{ event_id: string; late: boolean; user_id: string }>('SELECT d.event_id, d.late, e.user_id FROM decisions d JOIN events e USING (event_id) WHERE d.event_id = ANY($1)', [runIds]);
        assert.equal(decided.length, runIds.length, 'one decision and one event per id');
        for (const d of decided) {
          const body = sent.find((s) => s.id === d.event_id && s.hash === held.get(d.event_id));
          assert.ok(body !== undefined, `${d.event_id}: the decided body was sent`);
          assert.deepEqual([d.user_id, d.late], [body.user, body.late], `${d.event_id}: the stored event and its lateness are the decided body's`);
        }
        const refused = (await letters()).map((l) => {
          assert.equal(l.source, 'log');
          assert.ok(l.reason.includes(held.get(l.event_id)!), 'the dead letter names the decided body');
          const hash = bodyHash(JSON.parse(l.payload) as object);
          assert.ok(l.reason.includes(hash), 'and its own');
          return `${l.event_id} ${hash}`;
        });
        assert.deepEqual(refused.sort(), sent.filter((s) => s.hash !== held.get(s.id)).map((s) => `${s.id} ${s.hash}`).sort(), 'one dead letter per record with another body');
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
    // Read by Kafka's own consumer: the JS client's read_committed lets aborted records through (see readCommittedByKafka).
    const onTopic = await readCommittedByKafka(topicNames(bed.prefix).decisions, PARTITIONS);
    const published = onTopic.map((m) => (JSON.parse(m.value) as { event_id: string }).event_id);
    assert.deepEqual(published.sort(), [...ids].sort(), 'each id decided once on the decisions topic');
  });
});
