// Repartition topic names: legal for Kafka, one per stage, refused for what no entity field can be.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repartitionTopic, repartitionTopicSpec, TopicNameError } from '../../src/transport/kafka/topics.ts';

describe('repartition topic names', () => {
  it('names a stage by its entity fields, "+" written "-" since Kafka allows only [a-zA-Z0-9._-]', () => {
    assert.equal(repartitionTopic('rtds.', 'merchant_id'), 'rtds.repartition.merchant_id');
    assert.equal(repartitionTopic('rtds.', 'user_id+device_id'), 'rtds.repartition.user_id-device_id');
    assert.match(repartitionTopic('t.1.', 'ip_address+country'), /^[a-zA-Z0-9._-]+$/);
  });

  it('refuses a stage that is no entity field or combination of them, and a name over 249 characters', () => {
    for (const stage of ['', 'merchant-id', 'a+', 'device id', 'user_id/x']) assert.throws(() => repartitionTopic('rtds.', stage), TopicNameError, stage);
    assert.throws(() => repartitionTopic('rtds.', 'x'.repeat(240)), TopicNameError);
  });

  it('asks for deletion by age with the given retention, never compaction', () => {
    assert.deepEqual(repartitionTopicSpec('p.', 'device_id', 6, 86_400_000), { name: 'p.repartition.device_id', partitions: 6, configs: { 'retention.ms': '86400000', 'cleanup.policy': 'delete' } });
    assert.throws(() => repartitionTopicSpec('p.', 'device_id', 6, 0), RangeError);
  });
});
