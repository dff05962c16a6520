// Announcing model activations on the Kafka control topic, so every process switches at once rather than at its next poll.
import type { Config } from '../config/index.ts';
import { challengerChanged, modelActivated } from '../contracts/index.ts';
import type { RegistryChange } from '../score/index.ts';
import { idempotentProducer } from '../transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../transport/kafka/topics.ts';

/**
 * Publish a registry change (an activation, a new challenger) on the deployment's control topic
 * (created if missing). Changes are rare, so a producer lives for one announcement: the CLI and
 * the API share this path.
 */
export async function announceChange(config: Config & { kafkaBrokers: string }, change: RegistryChange): Promise<void> {
  const brokers = config.kafkaBrokers.split(',').map((b) => b.trim());
  const { control } = topicNames(config.kafkaTopicPrefix);
  await ensureTopics(brokers, { control }, 1);
  const producer = idempotentProducer({ brokers, clientId: `rtds-control-${process.pid}`, compression: 'none' });
  try {
    await producer.send({ messages: [{ topic: control, key: 'model', value: JSON.stringify(change.kind === 'active' ? modelActivated(change.version) : challengerChanged(change.version)) }] });
  } finally {
    await producer.close();
  }
}
