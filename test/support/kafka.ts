// The machine's Kafka broker for tests (started by infra/kafka/kafka.sh); skipped locally when down, required under CI.
import { randomBytes } from 'node:crypto';
import { Consumer, Producer, stringDeserializers, stringSerializers, type Message } from '@platformatic/kafka';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';

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

type Record = Message<string, string, string, string>;

/**
 * Everything committed to a topic, as a read_committed consumer sees it, once at least `atLeast`
 * records are there. Then a marker record is appended to each partition and the read ends when
 * every marker came back: all records before them were seen, so a count is exact (no waiting
 * for "no more to come").
 */
export async function readCommitted(topic: string, partitions: number, atLeast: number): Promise<Record[]> {
  const marker = `end-of-read-${randomBytes(4).toString('hex')}`;
  const appendMarkers = async (): Promise<void> => {
    const producer = new Producer({ clientId: 'test-marker', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    await producer.send({ messages: Array.from({ length: partitions }, (_, partition) => ({ topic, partition, key: marker, value: marker })) });
    await producer.close();
  };
  const consumer = new Consumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}`, clientId: 'test-reader', bootstrapBrokers: TEST_BROKERS, deserializers: stringDeserializers, maxWaitTime: 50, isolationLevel: 1 });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const out: Record[] = [];
    let markers = 0;
    let marked: Promise<void> | undefined = atLeast <= 0 ? appendMarkers() : undefined;
    for await (const message of stream as AsyncIterable<Record>) {
      if (message.key === marker) {
        if (++markers === partitions) break;
      } else if (!message.key.startsWith('end-of-read-')) {
        out.push(message);
        if (out.length >= atLeast) marked ??= appendMarkers();
      }
    }
    await marked;
    await stream.close();
    return out;
  } finally {
    await consumer.close(true);
  }
}

/** What a test of the app on Kafka needs: the broker, a database and a data folder of its own, and topics under a fresh prefix. */
export interface KafkaTestbed {
  db: TestDatabase;
  dataDir: string;
  prefix: string;
  partitions: number;
  /** The app's configuration on this testbed (quiet, no generator, no training). */
  config(overrides?: Partial<Config>): Config;
  /** Drop the database and the folder. */
  close(): Promise<void>;
}

export async function openKafkaTestbed(partitions: number): Promise<KafkaTestbed | { skip: string }> {
  const available = await kafkaAvailable();
  if (available !== true) return available;
  const created = await createTestDatabase();
  if ('skip' in created) return created;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-kafka-'));
  const prefix = testTopicPrefix();
  return {
    db: created,
    dataDir,
    prefix,
    partitions,
    config: (overrides = {}) =>
      loadConfig(
        { dataDir, databaseUrl: created.url, kafkaBrokers: TEST_BROKERS.join(','), kafkaTopicPrefix: prefix, kafkaGroup: `group-${prefix}`, partitions, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, ...overrides },
        {},
      ),
    async close() {
      await created.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
