// Repartition records written by the previous version (layout 1, features as JSON numbers) still count: read as input, and when a stage is rebuilt from its topic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { validateEvent, type EventInput, type RtdsEvent } from '../../src/contracts/index.ts';
import { idempotentProducer, KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { groupCommittedOffsets } from '../../src/transport/kafka/stable-offsets.ts';
import { repartitionTopic, topicNames } from '../../src/transport/kafka/topics.ts';
import { partitionFor } from '../../src/transport/log.ts';
import { openProcessorGroup, TEST_BROKERS, type ProcessorGroup } from '../support/kafka.ts';

const PARTITIONS = 2;
const OLD = 20;
const MERCHANT = 'm-old';

/** The user and a merchant: two stages, the merchant's input a repartition topic. */
const SPECS = `
features:
  - { name: user_count_1h, entity: user_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_count_1h, entity: merchant_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
`;

/** A record as the previous version's user stage wrote it for the merchant stage: layout 1, the features as JSON numbers (the merchant's a placeholder). */
function layout1(event: RtdsEvent, offset: number): string {
  return JSON.stringify({ v: 1, event, features: [1, null], late: false, behind_ms: 0, unknown: false, body_hash: null, position: { partition: 0, offset }, accepted_at: event.event_time });
}

/** An event at the merchant, as a client sends it. */
const body = (id: string, time: number): EventInput => ({ event_id: id, event_type: 'transaction', timestamp: new Date(time).toISOString(), user_id: `u-${id}`, merchant_id: MERCHANT, amount: 10 });

function event(id: string, time: number): RtdsEvent {
  const checked = validateEvent(body(id, time));
  assert.ok(checked.ok, id);
  return checked.event;
}

describe('repartition records of the previous layout', () => {
  let skip: string | undefined;
  let group: ProcessorGroup;
  // An hour ago: every event falls in one merchant window of an hour, within the time bounds of live events.
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 50 * 60_000;

  before(async () => {
    const opened = await openProcessorGroup(PARTITIONS, 0, 0, SPECS);
    if ('skip' in opened) return void (skip = opened.skip);
    group = opened;
  });
  after(async () => {
    if (skip === undefined) await group.close();
  });

  /** The stored merchant_count_1h of each decided event among `ids` (float32, as decisions keep their vectors). */
  async function merchantCounts(ids: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await group.client.query<{ event_id: string; features: Buffer }>('SELECT event_id, features FROM decisions WHERE event_id = ANY($1)', [ids]);
    return new Map(rows.map((r) => [r.event_id, new Float32Array(new Uint8Array(r.features).buffer)[1]!]));
  }

  it('are decided as input, and count again when a new processor rebuilds the stage from its topic', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const first = await group.start('a');
    // Written as the previous version would have, to the partition its user stage chose for the merchant.
    const producer = idempotentProducer({ brokers: TEST_BROKERS, clientId: 'test-layout-1', compression: 'none' });
    const old = Array.from({ length: OLD }, (_, i) => event(`old-${i}`, t0 + i * 60_000));
    const topic = repartitionTopic(group.bed.prefix, 'merchant_id');
    const partition = partitionFor(MERCHANT, PARTITIONS);
    await producer.send({ messages: old.map((e, i) => ({ topic, key: MERCHANT, value: layout1(e, 1_000 + i), partition })) });
    await producer.close();
    // Nothing else is on the topics: the store's decisions are these.
    await group.decisionsUntil((n) => n >= OLD, 60_000);
    const counted = await merchantCounts(old.map((e) => e.event_id));
    // In the merchant's window each old event counts itself and those before it.
    assert.deepEqual(
      old.map((e) => counted.get(e.event_id)),
      old.map((_, i) => i + 1),
    );

    // Killed once its merchant stage has committed past them (a decision is stored before its
    // offset commits): the next processor then rebuilds them from the topic, rather than reading
    // them again as input.
    const deadline = Date.now() + 60_000;
    while (((await groupCommittedOffsets(TEST_BROKERS, 'test-offsets', `group-${group.bed.prefix}.merchant_id`, topic, [partition], 5_000)).get(partition) ?? 0n) < BigInt(OLD)) {
      if (Date.now() > deadline) throw new Error('the merchant stage did not commit past the old records within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A new processor rebuilds the merchant stage from its input topic, which holds only layout-1 records.
    first.child.kill('SIGKILL');
    const second = await group.start('b');
    const events = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'test-new', topic: topicNames(group.bed.prefix).events, lingerMs: 0, batchSize: 10, compression: 'none' });
    const fresh = body('new-0', t0 + OLD * 60_000);
    await events.append(fresh.user_id, fresh);
    await events.close();
    await group.decisionsUntil((n) => n >= OLD + 1, 60_000);
    const count = (await merchantCounts([fresh.event_id])).get(fresh.event_id);
    assert.equal(count, OLD + 1, 'the new event counts the old ones, read back from their layout-1 records, and itself');
    // The processor's log line of the rebuild may reach this test after the decision reached the store.
    await second.log.until((log) => log.stageRestoredEvents >= OLD, 30_000);
    t.diagnostic(`${second.log.stageRestores} merchant partitions rebuilt from ${second.log.stageRestoredEvents} records`);
  });
});
