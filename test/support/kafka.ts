// The machine's Kafka broker for tests (started by infra/kafka/kafka.sh); skipped locally when down, required under CI.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Producer, stringDeserializers, stringSerializers, type Message } from '@platformatic/kafka';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { openDatabase } from '../../src/store/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { ReadCommittedConsumer } from '../../src/transport/kafka/read-committed-consumer.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { decisionsUntil } from './stored-decisions.ts';

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
  const appendMarkers = (): Promise<void> => appendMarker(topic, partitions, marker);
  const consumer = new ReadCommittedConsumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}`, clientId: 'test-reader', bootstrapBrokers: TEST_BROKERS, deserializers: stringDeserializers, maxWaitTime: 50, isolationLevel: 1 });
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

/**
 * The committed records of a topic from its start, read until `done` holds of those read so far:
 * for a topic a processor consumes, where `readCommitted`'s markers would be read as records.
 */
export async function readUntil(topic: string, done: (records: readonly Record[]) => boolean): Promise<Record[]> {
  const consumer = new ReadCommittedConsumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}`, clientId: 'test-reader', bootstrapBrokers: TEST_BROKERS, deserializers: stringDeserializers, maxWaitTime: 50, isolationLevel: 1 });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const out: Record[] = [];
    for await (const message of stream as AsyncIterable<Record>) {
      out.push(message);
      if (done(out)) break;
    }
    await stream.close();
    return out;
  } finally {
    await consumer.close(true);
  }
}

/** One record keyed `marker` at the end of each partition: a reader that saw them all saw everything before. */
async function appendMarker(topic: string, partitions: number, marker: string): Promise<void> {
  const producer = new Producer({ clientId: 'test-marker', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
  await producer.send({ messages: Array.from({ length: partitions }, (_, partition) => ({ topic, partition, key: marker, value: marker })) });
  await producer.close();
}

const KAFKA_SH = fileURLToPath(new URL('../../infra/kafka/kafka.sh', import.meta.url));

/**
 * Everything committed to a topic as Kafka's own consumer (the Java ConsoleConsumer, isolation
 * read_committed) reads it: the judge of exactly-once on a topic. @platformatic/kafka 1.35 lets
 * records of an aborted transaction through when the fetch response ends before the transaction's
 * abort marker (its #filterUncommittedMessages skips such "open" ranges), so a count read with it
 * can show duplicates that no read_committed Java reader sees. Markers appended first tell when
 * the read is complete; a read that missed one (a transaction still open) is done again.
 */
export async function readCommittedByKafka(topic: string, partitions: number, deadlineMs = 180_000): Promise<{ key: string; value: string }[]> {
  const marker = `end-of-read-${randomBytes(4).toString('hex')}`;
  await appendMarker(topic, partitions, marker);
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { stdout } = await runTool([
      'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', TEST_BROKERS.join(','), '--topic', topic, '--from-beginning',
      '--isolation-level', 'read_committed', '--timeout-ms', '5000', '--property', 'print.key=true', '--property', 'key.separator=\t',
    ]);
    const records = stdout.split('\n').flatMap((line) => {
      const tab = line.indexOf('\t');
      return tab < 0 ? [] : [{ key: line.slice(0, tab), value: line.slice(tab + 1) }];
    });
    if (records.filter((r) => r.key === marker).length === partitions) return records.filter((r) => !r.key.startsWith('end-of-read-'));
    if (Date.now() > deadline) throw new Error(`read of ${topic} by Kafka's consumer incomplete after ${deadlineMs} ms`);
  }
}

/** Run a Kafka tool through infra/kafka/kafka.sh; its exit status is not the judge (the ConsoleConsumer ends on its idle timeout). */
function runTool(args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KAFKA_SH, ['tool', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout }));
  });
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

/** Put `count` generated events (seeded) on the events topic of `prefix`, created with `partitions`, and wait until the broker has them all. */
export async function preloadEvents(prefix: string, partitions: number, count: number, seed: number): Promise<void> {
  await ensureTopics(TEST_BROKERS, topicNames(prefix), partitions);
  await produceEvents(prefix, new TrafficGenerator({ seed, users: Math.max(1, Math.ceil(count / 10)) }), count);
}

/** Put the next `count` events of `generator` on the events topic of `prefix`, and wait until the broker has them all. */
export async function produceEvents(prefix: string, generator: TrafficGenerator, count: number): Promise<void> {
  const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'test-preload', topic: topicNames(prefix).events, lingerMs: 5, batchSize: 1000, compression: 'snappy' });
  try {
    // In slices, so the generated events need not all be in memory at once.
    for (let sent = 0; sent < count; sent += 20_000) {
      const slice = generator.take(Math.min(20_000, count - sent));
      await Promise.all(slice.map((g) => producer.append(g.event.user_id, g.event)));
    }
  } finally {
    await producer.close();
  }
}

/** What a spawned `rtds processor` has logged so far (pino lines on its stdout). */
export class ProcessorLog {
  /** Generations of the events topic's group this processor joined, in order. */
  readonly generations: number[] = [];
  private partitions: number[] = [];
  /** Partition states rebuilt from the store (the user stage's). */
  restores = 0;
  /** Partition states of later stages rebuilt from their input topics, and the records those restores replayed. */
  stageRestores = 0;
  stageRestoredEvents = 0;
  /** Failures the sources reported (each read again from the committed offsets). */
  sourceErrors = 0;
  private readonly waiters = new Set<() => void>();

  ownedPartitions(): number {
    return this.partitions.length;
  }

  constructor(private readonly eventsTopic: string) {}

  line(text: string): void {
    let entry: { msg?: string; topic?: string; generation?: number; partitions?: number[]; events?: number };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      return;
    }
    // The labels topic has a group of its own.
    if (entry.msg?.startsWith('consumer group generation joined') === true && entry.topic === this.eventsTopic) {
      this.generations.push(entry.generation ?? -1);
      this.partitions = entry.partitions ?? [];
    } else if (entry.msg === 'partition state restored from the store') this.restores++;
    else if (entry.msg === 'partition state restored from its input topic') {
      this.stageRestores++;
      this.stageRestoredEvents += entry.events ?? 0;
    }
    else if (entry.msg?.startsWith('Kafka batch, commit or fetch failed') === true) this.sourceErrors++;
    for (const wake of this.waiters) wake();
  }

  /** Resolves when `done` holds of this log (checked at each line), rejects after `ms`. */
  until(done: (log: ProcessorLog) => boolean, ms: number): Promise<void> {
    if (done(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`processor log condition not met after ${ms} ms`));
      }, ms);
      const check = (): void => {
        if (!done(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }
}

const RTDS_BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

/**
 * Start `rtds processor` against the test broker with `env` on top of the test's environment, and
 * resolve once it runs. Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
 */
export function spawnProcessor(env: { [name: string]: string }): Promise<{ child: ChildProcess; log: ProcessorLog }> {
  const { NODE_TEST_CONTEXT: _runner, ...inherited } = process.env;
  const child = spawn(process.execPath, [RTDS_BIN, 'processor'], {
    env: { ...inherited, RTDS_KAFKA_BROKERS: TEST_BROKERS.join(','), RTDS_TRAIN_ON_START: 'false', RTDS_LOG_LEVEL: 'info', RTDS_SINK_FLUSH_MS: '5', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log = new ProcessorLog(topicNames(env.RTDS_KAFKA_TOPIC_PREFIX ?? 'rtds.').events);
  return new Promise((resolve, reject) => {
    let running = false;
    createInterface({ input: child.stdout! }).on('line', (text) => {
      log.line(text);
      if (!running && text.includes('RTDS processor is running')) {
        running = true;
        resolve({ child, log });
      }
    });
    child.once('exit', (code) => {
      if (!running) reject(new Error(`processor exited (${code}) before running`));
    });
  });
}

/** `rtds processor` children sharing a testbed's broker, topics and database, and a client on it: what the kill tests have in common. */
export interface ProcessorGroup {
  bed: KafkaTestbed;
  client: pg.Client;
  /** Start instance `instance` (RTDS_INSTANCE_ID) of the group, with `env` on top; killed at close. */
  start(instance: string, env?: { [name: string]: string }): Promise<{ child: ChildProcess; log: ProcessorLog }>;
  /** Poll the store until its decision count satisfies `done`, failing after `ms`. */
  decisionsUntil(done: (decisions: number) => boolean, ms: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A testbed with its schema migrated (two processors starting together would both migrate it) and
 * `events` generated events (seeded) on its events topic, for a group of processors to drain; with
 * `features`, every processor runs that feature set (YAML).
 */
export async function openProcessorGroup(partitions: number, events: number, seed: number, features?: string): Promise<ProcessorGroup | { skip: string }> {
  const bed = await openKafkaTestbed(partitions);
  if ('skip' in bed) return bed;
  const featuresFile = path.join(bed.dataDir, 'features.yaml');
  if (features !== undefined) writeFileSync(featuresFile, features);
  const client = new pg.Client({ connectionString: bed.db.url });
  await client.connect();
  await (await openDatabase({ databaseUrl: bed.db.url, dataDir: bed.dataDir })).close();
  await preloadEvents(bed.prefix, partitions, events, seed);
  const children: ChildProcess[] = [];
  return {
    bed,
    client,
    async start(instance, env = {}) {
      const started = await spawnProcessor({
        RTDS_DATABASE_URL: bed.db.url,
        RTDS_KAFKA_TOPIC_PREFIX: bed.prefix,
        RTDS_KAFKA_GROUP: `group-${bed.prefix}`,
        RTDS_PARTITIONS: String(partitions),
        RTDS_DATA_DIR: bed.dataDir,
        RTDS_INSTANCE_ID: instance,
        ...(features === undefined ? {} : { RTDS_FEATURES_FILE: featuresFile }),
        ...env,
      });
      children.push(started.child);
      return started;
    },
    decisionsUntil: (done, ms) => decisionsUntil(async (sql) => (await client.query<{ n: number }>(sql)).rows, done, ms),
    async close() {
      for (const child of children) child.kill('SIGKILL');
      await client.end();
      await bed.close();
    },
  };
}
