import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { topicNames } from '../../src/transport/kafka/topics.ts';
import { openProcessorGroup, readCommittedByKafka, type ProcessorGroup, type ProcessorLog } from '../support/kafka.ts';

const EVENTS = 200_000;
const PARTITIONS = 12;

describe('scale-out under a backlog: processors joining and dying while the group drains', () => {
  let skip: string | undefined;
  let group: ProcessorGroup;
  let client: pg.Client;
  let prefix: string;

  before(async () => {
    const opened = await openProcessorGroup(PARTITIONS, EVENTS, 11);
    if ('skip' in opened) return void (skip = opened.skip);
    group = opened;
    ({ client } = group);
    ({ prefix } = group.bed);
  });
  after(async () => {
    if (skip === undefined) await group.close();
  });

  const start = (instance: string): Promise<{ child: ChildProcess; log: ProcessorLog }> => group.start(instance);
  const until = (done: (decisions: number) => boolean, ms: number): Promise<number> => group.decisionsUntil(done, ms);

  it('gives every event one decision in PostgreSQL and on the topic, and the group does not storm', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const [first, second] = await Promise.all([start('a'), start('b')]);
    await until((n) => n >= EVENTS * 0.2, 240_000);
    const third = await start('c');
    // The third has partitions of its own and has decided some of them: then one of the first two dies.
    await third.log.until((log) => log.ownedPartitions() > 0, 60_000);
    const atKill = await until((n) => n >= EVENTS * 0.4, 240_000);
    second!.child.kill('SIGKILL');
    // Every event passes the default set's four stages: a few minutes on two cores shared with the broker and PostgreSQL.
    await until((n) => n >= EVENTS, 360_000);
    t.diagnostic(`SIGKILLed at ${atKill} decisions`);

    const { rows: counts } = await client.query<{ decisions: number; distinct_events: number; events: number }>(
      'SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events, (SELECT count(*) FROM events)::int AS events',
    );
    assert.deepEqual(counts[0], { decisions: EVENTS, distinct_events: EVENTS, events: EVENTS });
    assert.ok(atKill < EVENTS, 'the kill happened mid-drain');
    // Read by Kafka's own consumer: the JS client's read_committed lets aborted records through (see readCommittedByKafka).
    const onTopic = await readCommittedByKafka(topicNames(prefix).decisions, PARTITIONS);
    assert.equal(new Set(onTopic.map((m) => (JSON.parse(m.value) as { decision_id: string }).decision_id)).size, EVENTS);
    assert.equal(onTopic.length, EVENTS, 'each decision once on the decisions topic, read committed');

    // No storm: the group changed membership three times (two start, one joins, one dies), so each
    // survivor joined a handful of generations (a commit refused after a rebalance is no failure),
    // and restored each partition a bounded number of times.
    const logs = [first!, second!, third].map((p) => p.log);
    for (const [name, log] of [['a', first!.log], ['c', third.log]] as const) {
      t.diagnostic(`${name}: generations ${log.generations.join(',')}, restores ${log.restores}, source errors ${log.sourceErrors}`);
      assert.ok(log.generations.length <= 6, `${name} joined ${log.generations.length} generations`);
      assert.ok(log.sourceErrors <= 2, `${name} reported ${log.sourceErrors} source failures`);
    }
    const restores = logs.reduce((sum, log) => sum + log.restores, 0);
    assert.ok(restores <= 4 * PARTITIONS, `partition restores: ${restores}`);
  });
});
