// `rtds bench --only scaleout`: a pre-loaded backlog drained by one, then by two `rtds processor` instances of one group.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Config } from '../src/config/index.ts';
import { validateEvent } from '../src/contracts/index.ts';
import { KafkaProducer } from '../src/transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../src/transport/kafka/topics.ts';

const BIN = fileURLToPath(new URL('../bin/rtds.js', import.meta.url));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Start `rtds processor` with `env`; resolves with the process once it runs. */
function startProcessor(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'processor'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('RTDS processor is running')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`processor exited (${code}) before running`)));
  });
}

/**
 * Load the events onto fresh topics, start `instances` processors together, and time the drain
 * from the moment they all run until the store holds every event of the run's topic.
 */
async function drain(base: Config, modelDir: string, generated: unknown[], instances: number, client: pg.Client): Promise<number> {
  const tag = `scale${instances}-${Date.now().toString(36)}`;
  const prefix = `bench.${tag}.`;
  const brokers = base.kafkaBrokers!.split(',');
  const topics = topicNames(prefix);
  await ensureTopics(brokers, topics, base.partitions);
  const events = (generated as { event_id: string; user_id: string }[]).map((e) => ({ ...e, event_id: `${tag}_${e.event_id}` }));
  const expected = events.filter((e) => validateEvent(e).ok).length;
  const producer = new KafkaProducer({ brokers, clientId: 'bench-load', topic: topics.events, lingerMs: 5, batchSize: base.kafkaBatchSize, compression: base.kafkaCompression });
  for (let i = 0; i < events.length; i += 10_000) await Promise.all(events.slice(i, i + 10_000).map((e) => producer.append(e.user_id, e)));
  await producer.close();

  const env = {
    ...process.env,
    RTDS_KAFKA_TOPIC_PREFIX: prefix,
    RTDS_KAFKA_GROUP: `bench-${tag}`,
    RTDS_MODEL_REGISTRY: 'folder',
    RTDS_MODEL_DIR: modelDir,
    RTDS_TRAIN_ON_START: 'false',
    RTDS_LOG_LEVEL: 'warn',
  };
  const children: ChildProcess[] = [];
  try {
    // Logging at warn, a processor says it runs at info only: wait on the log line at info, quietly otherwise.
    const started = await Promise.all(Array.from({ length: instances }, (_, i) => startProcessor({ ...env, RTDS_LOG_LEVEL: 'info', RTDS_INSTANCE_ID: `${tag}-${i}` })));
    children.push(...started);
    for (const c of started) c.stdout!.resume();
    const began = performance.now();
    for (;;) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE log_topic = $1', [topics.events]);
      if (rows[0]!.n >= expected) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return expected / ((performance.now() - began) / 1000);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once('exit', resolve)))));
  }
}

export async function benchScaleOut(base: Config, modelDir: string, events: unknown[]): Promise<void> {
  if (base.kafkaBrokers === undefined || base.databaseUrl === undefined) throw new Error('bench scaleout: set RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL (a scratch database)');
  const client = new pg.Client({ connectionString: base.databaseUrl });
  await client.connect();
  try {
    // The first run also migrates the store.
    const one = await drain(base, modelDir, events, 1, client);
    console.log(`kafka scale-out, 1 processor: ${fmt(one)} events/s  [${fmt(events.length)} events pre-loaded on ${base.partitions} partitions, exactly-once, drained into PostgreSQL + topics]`);
    const two = await drain(base, modelDir, events, 2, client);
    console.log(`kafka scale-out, 2 processors: ${fmt(two)} events/s  (${(two / one).toFixed(2)}× one; both started together, one group)`);
  } finally {
    await client.end();
  }
}
