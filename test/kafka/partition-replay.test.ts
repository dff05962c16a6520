// Replaying one partition for a stage's restore: committed records only, in order, up to the group's committed offset.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { KafkaRecordSource, type RebalanceInfo } from '../../src/transport/kafka/kafka-source.ts';
import { PartitionReplayError, replayPartition } from '../../src/transport/kafka/partition-replay.ts';
import { groupCommittedOffsets } from '../../src/transport/kafka/stable-offsets.ts';
import { ensureTopicSpecs, repartitionTopicSpec } from '../../src/transport/kafka/topics.ts';
import { kafkaAvailable, TEST_BROKERS, testTopicPrefix } from '../support/kafka.ts';

type StringProducer = Producer<string, string, string, string>;

/** Partition 0: the mixed history; 1: never written; 2: aborted transactions only. */
const MIXED = 0;
const EMPTY = 1;
const ALL_ABORTED = 2;

describe('partition replay on Kafka', () => {
  let skip: string | undefined;
  let topic: string;
  const producers: StringProducer[] = [];
  /** Offset of each committed value of the mixed partition, as the producers were told. */
  const offsetOf = new Map<string, bigint>();
  let mixedEnd: bigint;
  let abortedEnd: bigint;

  const replay = async (partition: number, end: bigint): Promise<{ values: string[]; offsets: bigint[]; from: bigint; records: number }> => {
    const values: string[] = [];
    const offsets: bigint[] = [];
    const summary = await replayPartition({
      brokers: TEST_BROKERS,
      clientId: 'partition-replay-test',
      topic,
      partition,
      end,
      stallTimeoutMs: 5_000,
      onRecords: (records) => {
        for (const r of records) {
          values.push(r.value!);
          offsets.push(r.offset);
        }
      },
    });
    return { values, offsets, ...summary };
  };

  const transactional = (): StringProducer => {
    const p = new Producer({ clientId: 'partition-replay-test', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers, idempotent: true, transactionalId: `replay-test-${randomBytes(4).toString('hex')}` });
    producers.push(p);
    return p;
  };
  const messages = (partition: number, values: string[]): { topic: string; partition: number; key: string; value: string }[] => values.map((value) => ({ topic, partition, key: `k-${value}`, value }));
  const record = (sent: { offsets?: { partition: number; offset: bigint }[] }, values: string[]): void => {
    const first = sent.offsets![0]!.offset;
    values.forEach((v, i) => offsetOf.set(v, first + BigInt(i)));
  };
  const endOf = async (partition: number): Promise<bigint> => {
    const admin = new Admin({ clientId: 'partition-replay-test', bootstrapBrokers: TEST_BROKERS });
    try {
      const listed = await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1n }] }] });
      return listed[0]!.partitions[0]!.offset;
    } finally {
      await admin.close();
    }
  };

  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) return void (skip = available.skip);
    const spec = repartitionTopicSpec(testTopicPrefix(), 'merchant_id', 3, 3_600_000);
    topic = spec.name;
    await ensureTopicSpecs(TEST_BROKERS, [spec]);
    const stage = transactional();
    const other = transactional();
    const plain = new Producer({ clientId: 'partition-replay-test', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    producers.push(plain);
    // One producer committing and aborting in turn (as a stage does across rebalances), a record
    // outside any transaction, and another producer's aborted transaction open across a commit.
    const steps: [string[], 'commit' | 'abort' | 'plain'][] = [
      [['a1', 'a2'], 'commit'],
      [['b1', 'b2'], 'abort'],
      [['c1'], 'commit'],
      [['n1'], 'plain'],
      [['d1', 'd2', 'd3'], 'abort'],
      [['e1', 'e2'], 'commit'],
    ];
    for (const [values, outcome] of steps) {
      if (outcome === 'plain') {
        record(await plain.send({ messages: messages(MIXED, values) }), values);
        continue;
      }
      const tx = await stage.beginTransaction();
      const sent = await tx.send({ messages: messages(MIXED, values) });
      if (outcome === 'commit') {
        await tx.commit();
        record(sent, values);
      } else await tx.abort();
    }
    const open = await other.beginTransaction();
    await open.send({ messages: messages(MIXED, ['x1']) });
    const tx = await stage.beginTransaction();
    const sent = await tx.send({ messages: messages(MIXED, ['f1']) });
    await tx.commit();
    record(sent, ['f1']);
    await open.abort();
    for (const values of [['z1', 'z2'], ['z3']]) {
      const aborted = await stage.beginTransaction();
      await aborted.send({ messages: messages(ALL_ABORTED, values) });
      await aborted.abort();
    }
    mixedEnd = await endOf(MIXED);
    abortedEnd = await endOf(ALL_ABORTED);
  });

  after(async () => {
    await Promise.all(producers.map((p) => p.close()));
  });

  it('hands exactly the committed records, in offset order, up to the log end', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const all = ['a1', 'a2', 'c1', 'n1', 'e1', 'e2', 'f1'];
    const replayed = await replay(MIXED, mixedEnd);
    assert.deepEqual(replayed.values, all);
    assert.deepEqual(replayed.offsets, all.map((v) => offsetOf.get(v)));
    assert.deepEqual([replayed.from, replayed.records], [0n, all.length]);
  });

  it('stops at the end offset, also where markers and aborted records lie between the last record and the end', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const c1 = offsetOf.get('c1')!;
    assert.deepEqual((await replay(MIXED, c1)).values, ['a1', 'a2']);
    assert.deepEqual((await replay(MIXED, c1 + 1n)).values, ['a1', 'a2', 'c1']);
    // c1's commit marker, then n1: an end at the marker ends after c1.
    assert.deepEqual((await replay(MIXED, c1 + 2n)).values, ['a1', 'a2', 'c1']);
    // Up to e1, across the aborted d1..d3 and their marker.
    assert.deepEqual((await replay(MIXED, offsetOf.get('e1')! + 1n)).values, ['a1', 'a2', 'c1', 'n1', 'e1']);
  });

  it('ends at once with nothing for end 0, for a partition never written, and for one holding only aborted transactions', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.deepEqual(await replay(MIXED, 0n), { values: [], offsets: [], from: 0n, records: 0 });
    assert.deepEqual(await replay(EMPTY, await endOf(EMPTY)), { values: [], offsets: [], from: 0n, records: 0 });
    assert.ok(abortedEnd >= 5n, `three aborted records and two markers, end ${abortedEnd}`);
    assert.deepEqual((await replay(ALL_ABORTED, abortedEnd)).values, []);
  });

  it('fails, instead of waiting, for an end past the end of the log', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await assert.rejects(replay(EMPTY, 3n), (err: unknown) => err instanceof PartitionReplayError && err.partition === EMPTY && err.offset === 0n && /log ends at 0/.test(err.message));
  });

  /** A fresh group that committed `offset` on the mixed partition, and nothing on the others. */
  const groupAt = async (offset: bigint): Promise<string> => {
    const groupId = `replay-test-${randomBytes(4).toString('hex')}`;
    const admin = new Admin({ clientId: 'partition-replay-test', bootstrapBrokers: TEST_BROKERS });
    try {
      await admin.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: [{ partition: MIXED, offset }] }] });
    } finally {
      await admin.close();
    }
    return groupId;
  };

  it("replays up to a group's committed offsets, read without joining the group", async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const committedAt = offsetOf.get('n1')! + 1n;
    const groupId = await groupAt(committedAt);
    const committed = await groupCommittedOffsets(TEST_BROKERS, 'partition-replay-test', groupId, topic, [MIXED, EMPTY], 5_000);
    assert.deepEqual(committed, new Map([[MIXED, committedAt], [EMPTY, undefined]]));
    assert.deepEqual((await replay(MIXED, committed.get(MIXED)!)).values, ['a1', 'a2', 'c1', 'n1']);
  });

  it("hands a group member exactly the committed records, though the client's own filter lets a producer's earlier aborted transaction through", async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // b1 b2 and d1..d3 are one producer's two aborted transactions in one fetch: the client keeps the later range only.
    const committed = ['a1', 'a2', 'c1', 'n1', 'e1', 'e2', 'f1'].map((v) => Number(offsetOf.get(v)));
    const last = committed.at(-1)!;
    const delivered: number[] = [];
    let allRead!: () => void;
    const read = new Promise<void>((resolve) => (allRead = resolve));
    const groupId = `replay-test-${randomBytes(4).toString('hex')}`;
    const source = new KafkaRecordSource({ brokers: TEST_BROKERS, groupId, clientId: 'partition-replay-test', topic, maxWaitMs: 50, sessionTimeoutMs: 6_000, maxRecordBytes: 1_000_000 });
    await source.start((batch) => {
      for (const r of batch) if (r.partition === MIXED) delivered.push(r.offset);
      if (delivered.includes(last)) allRead();
      return Promise.resolve({ durable: Promise.resolve() });
    });
    try {
      await read;
      assert.deepEqual(delivered, committed);
    } finally {
      await source.stop();
    }
  });

  it('hands a source joining its group the committed offsets of the partitions it now owns: where their restore ends', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const committedAt = offsetOf.get('c1')! + 1n;
    const groupId = await groupAt(committedAt);
    let assigned!: (info: RebalanceInfo) => void;
    const rebalanced = new Promise<RebalanceInfo>((resolve) => (assigned = resolve));
    const source = new KafkaRecordSource({ brokers: TEST_BROKERS, groupId, clientId: 'partition-replay-test', topic, maxWaitMs: 50, sessionTimeoutMs: 6_000, maxRecordBytes: 1_000_000, onRebalance: (info) => assigned(info) });
    await source.start(() => Promise.resolve({ durable: Promise.resolve() }));
    try {
      const info = await rebalanced;
      assert.deepEqual(info.committed, new Map([[MIXED, committedAt], [EMPTY, undefined], [ALL_ABORTED, undefined]]));
      assert.deepEqual((await replay(MIXED, info.committed.get(MIXED)!)).values, ['a1', 'a2', 'c1']);
    } finally {
      await source.stop();
    }
  });
});
