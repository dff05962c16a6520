// A processor's Kafka transaction that fails to commit is aborted, and says so (rtds_kafka_transaction_aborts_total).
import assert from 'node:assert/strict';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { after, before, describe, it } from 'node:test';
import { ensureTopicSpecs } from '../../src/transport/kafka/topics.ts';
import { TransactionalOutput } from '../../src/transport/kafka/transactional-output.ts';
import { kafkaAvailable, TEST_BROKERS, testTopicPrefix } from '../support/kafka.ts';

describe('a Kafka transaction that fails', () => {
  let skip: string | undefined;
  const topic = `${testTopicPrefix()}small`;
  const seen = { committed: 0, aborted: 0 };
  let output: TransactionalOutput;
  // Never joins a group: the commit fails on its first send, before the offsets.
  const consumer = new Consumer({ groupId: `${topic}.group`, clientId: 'abort-test', bootstrapBrokers: TEST_BROKERS, deserializers: stringDeserializers });

  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) return void (skip = available.skip);
    // A topic whose records may not exceed 1,000 bytes: the broker refuses a larger one inside the transaction.
    await ensureTopicSpecs(TEST_BROKERS, [{ name: topic, partitions: 1, configs: { 'max.message.bytes': '1000' } }]);
    output = new TransactionalOutput({
      brokers: TEST_BROKERS,
      clientId: 'abort-test',
      transactionalId: `${topic}.tx`,
      batchSize: 100,
      compression: 'none',
      transactionTimeoutMs: 10_000,
      onCommitted: () => seen.committed++,
      onAborted: () => seen.aborted++,
    });
  });
  after(async () => {
    await output?.close();
    await consumer.close();
  });

  it('is aborted once, counted as an abort and not as a commit', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    output.publish(topic, 'k', 'x'.repeat(5000));
    output.seal();
    await assert.rejects(output.commit(consumer, [], Promise.resolve()));
    assert.deepEqual(seen, { committed: 0, aborted: 1 });
    // Nothing left open: closing aborts nothing more.
    await output.close();
    assert.equal(seen.aborted, 1);
  });
});
