import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventTimeOptions } from '../../src/config/index.ts';
import { FeatureSet, parseFeatureSpecText } from '../../src/features/index.ts';
import { decodeCarried, PartitionTask, type CarriedEvent } from '../../src/process/index.ts';
import { repartitionTopic, topicNames } from '../../src/transport/kafka/topics.ts';
import { partitionFor } from '../../src/transport/log.ts';
import { openProcessorGroup, readCommittedByKafka, type ProcessorGroup, type ProcessorLog } from '../support/kafka.ts';

const EVENTS = 30_000;
const PARTITIONS = 6;

/** The user, a merchant, a device and an IP address: four stages, three repartition hops. */
const SPECS = `
features:
  - { name: user_count_1h, entity: user_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_count_1h, entity: merchant_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_amount_1h, entity: merchant_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: sum, field: amount }
  - { name: merchant_users_24h, entity: merchant_id, window: { kind: hopping, size: 24h, hop: 1h }, aggregate: distinct, field: user_id }
  - { name: device_users_24h, entity: device_id, window: { kind: hopping, size: 24h, hop: 1h }, aggregate: distinct, field: user_id }
  - { name: ip_count_1h, entity: ip_address, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_share, expression: "user_count_1h / max(merchant_count_1h, 1)" }
`;

describe('entity stages on Kafka: two processors, one SIGKILLed mid-stream', () => {
  let skip: string | undefined;
  let group: ProcessorGroup;
  const features = new FeatureSet(parseFeatureSpecText(SPECS));

  before(async () => {
    const opened = await openProcessorGroup(PARTITIONS, EVENTS, 23, SPECS);
    if ('skip' in opened) return void (skip = opened.skip);
    group = opened;
  });
  after(async () => {
    if (skip === undefined) await group.close();
  });

  const start = (instance: string): Promise<{ child: ChildProcess; log: ProcessorLog }> => group.start(instance);
  const until = (done: (decisions: number) => boolean, ms: number): Promise<number> => group.decisionsUntil(done, ms);

  it('decides every event once, each merchant, device and IP feature equal to a replay of its stage\'s committed input', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const [a, b] = await Promise.all([start('a'), start('b')]);
    const atKill = await until((n) => n >= EVENTS * 0.3, 120_000);
    b!.child.kill('SIGKILL');
    await until((n) => n >= EVENTS, 240_000);
    t.diagnostic(`SIGKILLed at ${atKill} decisions; a restored ${a!.log.restores} user partitions from the store and ${a!.log.stageRestores} later-stage partitions from their topics`);
    assert.ok(atKill < EVENTS, 'the kill happened mid-stream');
    assert.ok(a!.log.stageRestores > 0, "the survivor took over later-stage partitions and rebuilt them from their input topics");

    const { rows: counts } = await group.client.query<{ decisions: number; distinct_events: number; events: number }>(
      'SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events, (SELECT count(*) FROM events)::int AS events',
    );
    assert.deepEqual(counts[0], { decisions: EVENTS, distinct_events: EVENTS, events: EVENTS });

    // The oracle: each later stage's input as Kafka's own read_committed consumer reads it, replayed
    // partition by partition in offset order through one fresh task — what the stage counted, once each.
    const { rows } = await group.client.query<{ event_id: string; features: Uint8Array }>('SELECT event_id, features FROM decisions');
    const stored = new Map(rows.map((r) => [r.event_id, new Float32Array(new Uint8Array(r.features).buffer)]));
    const eventTime = eventTimeOptions(group.bed.config());
    let compared = 0;
    for (let s = 1; s < features.stages.length; s++) {
      const stage = features.stages[s]!;
      const records = await readCommittedByKafka(repartitionTopic(group.bed.prefix, stage.name), PARTITIONS);
      const byPartition = new Map<number, CarriedEvent[]>();
      for (const r of records) {
        const p = partitionFor(r.key, PARTITIONS);
        byPartition.set(p, [...(byPartition.get(p) ?? []), decodeCarried(JSON.parse(r.value), features.names.length)]);
      }
      const seen = new Set<string>();
      const indices = stage.features.map((name) => features.indexOf(name));
      for (const carried of byPartition.values()) {
        const task = new PartitionTask(features, eventTime, s);
        for (const c of carried) {
          const v = new Float64Array(features.names.length);
          assert.ok(task.step(c.event, v) !== null, `${c.event.event_id} once in ${stage.name}'s committed input`);
          assert.ok(!seen.has(c.event.event_id));
          seen.add(c.event.event_id);
          const decided = stored.get(c.event.event_id);
          assert.ok(decided !== undefined, c.event.event_id);
          for (const i of indices) assert.equal(decided[i], Math.fround(v[i]!), `${features.names[i]} of ${c.event.event_id}`);
          compared++;
        }
      }
      t.diagnostic(`${stage.name}: ${seen.size} events through ${byPartition.size} partitions`);
    }
    assert.ok(compared > EVENTS, `every later-stage feature compared (${compared})`);
    // Exactly one each: a stage that decided on a record of an aborted transaction would decide the
    // committed copy again after restoring from the committed records only (ReadCommittedConsumer).
    const onTopic = await readCommittedByKafka(topicNames(group.bed.prefix).decisions, PARTITIONS);
    assert.equal(onTopic.length, EVENTS, 'one record per decision on the topic');
    assert.equal(new Set(onTopic.map((m) => (JSON.parse(m.value) as { decision_id: string }).decision_id)).size, EVENTS, 'every decision on the topic');
  });
});
