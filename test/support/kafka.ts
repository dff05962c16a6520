// The machine's Kafka broker for tests (started by infra/kafka/kafka.sh); skipped locally when down, required under CI.
import { randomBytes } from 'node:crypto';
import { Consumer, stringDeserializers, type Message } from '@platformatic/kafka';
import { connect } from 'node:net';

export const TEST_BROKERS = (process.env.RTDS_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

export async function kafkaAvailable(): Promise<true | { skip: string }> {
  const [host, port] = TEST_BROKERS[0]!.split(':');
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: host!, port: Number(port) }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
  if (reachable) return true;
  const reason = `no Kafka broker at ${TEST_BROKERS.join(',')} (start one with infra/kafka/kafka.sh start)`;
  if (process.env.CI === 'true') throw new Error(`Kafka is required under CI: ${reason}`);
  return { skip: reason };
}

/** Topics of their own for each test: a fresh prefix. */
export const testTopicPrefix = (): string => `test.${randomBytes(4).toString('hex')}.`;

/** Read `count` records of a topic from the beginning, in a group of their own. */
export async function readTopic(topic: string, count: number): Promise<Message<string, string, string, string>[]> {
  const consumer = new Consumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}`, clientId: 'test-reader', bootstrapBrokers: TEST_BROKERS, deserializers: stringDeserializers, maxWaitTime: 50 });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const out: Message<string, string, string, string>[] = [];
    for await (const message of stream) {
      out.push(message as Message<string, string, string, string>);
      if (out.length >= count) break;
    }
    await stream.close();
    return out;
  } finally {
    await consumer.close(true);
  }
}
