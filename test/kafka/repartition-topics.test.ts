// Repartition topics on the broker: created with the asked partitions and retention; an existing one's retention raised, never lowered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { ensureTopics, ensureTopicSpecs, repartitionTopicSpec, topicNames } from '../../src/transport/kafka/topics.ts';
import { kafkaAvailable, TEST_BROKERS, testTopicPrefix } from '../support/kafka.ts';

const HOUR = 3_600_000;

describe('repartition topics on Kafka', () => {
  let skip: string | undefined;
  let admin: Admin;
  const prefix = testTopicPrefix();

  const configsOf = async (topic: string): Promise<Map<string, string | null | undefined>> => {
    const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['retention.ms', 'cleanup.policy'] }] });
    return new Map(described!.configs.map((c) => [c.name, c.value]));
  };
  const partitionsOf = async (topic: string): Promise<number> => (await admin.metadata({ topics: [topic] })).topics.get(topic)!.partitionsCount;

  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) return void (skip = available.skip);
    admin = new Admin({ clientId: 'repartition-topics-test', bootstrapBrokers: TEST_BROKERS });
  });
  after(async () => {
    await admin?.close();
  });

  it('creates each stage topic with its partitions, retention and delete policy; a second call creates nothing', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const specs = [repartitionTopicSpec(prefix, 'merchant_id', 3, 30 * 24 * HOUR), repartitionTopicSpec(prefix, 'user_id+device_id', 5, 24 * HOUR)];
    assert.deepEqual(await ensureTopicSpecs(TEST_BROKERS, specs), { created: specs.map((s) => s.name), altered: [] });
    assert.equal(await partitionsOf(`${prefix}repartition.merchant_id`), 3);
    assert.equal(await partitionsOf(`${prefix}repartition.user_id-device_id`), 5);
    assert.deepEqual(await configsOf(`${prefix}repartition.merchant_id`), new Map([['retention.ms', String(30 * 24 * HOUR)], ['cleanup.policy', 'delete']]));
    assert.equal((await configsOf(`${prefix}repartition.user_id-device_id`)).get('retention.ms'), String(24 * HOUR));
    assert.deepEqual(await ensureTopicSpecs(TEST_BROKERS, specs), { created: [], altered: [] });
  });

  it("raises an existing topic's shorter retention, never lowers it, and sets its cleanup policy back to delete", async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const name = `${prefix}repartition.device_id`;
    await ensureTopicSpecs(TEST_BROKERS, [{ name, partitions: 2, configs: { 'retention.ms': String(HOUR), 'cleanup.policy': 'compact' } }]);
    assert.deepEqual(await ensureTopicSpecs(TEST_BROKERS, [repartitionTopicSpec(prefix, 'device_id', 2, 48 * HOUR)]), { created: [], altered: [name] });
    assert.deepEqual(await configsOf(name), new Map([['retention.ms', String(48 * HOUR)], ['cleanup.policy', 'delete']]));
    assert.deepEqual(await ensureTopicSpecs(TEST_BROKERS, [repartitionTopicSpec(prefix, 'device_id', 2, 2 * HOUR)]), { created: [], altered: [] });
    assert.equal((await configsOf(name)).get('retention.ms'), String(48 * HOUR));
  });

  it('still creates the contract topics as before: the control topic with one partition, the others with the asked count', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const names = topicNames(`${prefix}contract.`);
    assert.deepEqual((await ensureTopics(TEST_BROKERS, names, 4)).sort(), Object.values(names).sort());
    assert.equal(await partitionsOf(names.control), 1);
    assert.equal(await partitionsOf(names.events), 4);
    assert.deepEqual(await ensureTopics(TEST_BROKERS, names, 4), []);
  });
});
