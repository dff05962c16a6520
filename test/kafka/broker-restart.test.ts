import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { kafkaAvailable, readCommitted, TEST_BROKERS, testTopicPrefix } from '../support/kafka.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const KAFKA_SH = fileURLToPath(new URL('../../infra/kafka/kafka.sh', import.meta.url));
const EVENTS = 20_000;
const PARTITIONS = 4;
const run = promisify(execFile);

describe('a broker restart mid-stream', () => {
  let skip: string | undefined;
  let app: RunningApp;
  let db: TestDatabase;
  let dataDir: string;
  const prefix = testTopicPrefix();
  const topics = topicNames(prefix);

  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) return void (skip = available.skip);
    // Only the repo's own broker can be restarted by the test.
    if (process.env.RTDS_TEST_KAFKA_BROKERS !== undefined) return void (skip = 'RTDS_TEST_KAFKA_BROKERS points at a broker this test cannot restart');
    const created = await createTestDatabase();
    if ('skip' in created) return void (skip = created.skip);
    db = created;
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-restart-'));
    await ensureTopics(TEST_BROKERS, topics, PARTITIONS);
    app = await startApp(
      loadConfig(
        { dataDir, databaseUrl: db.url, kafkaBrokers: TEST_BROKERS.join(','), kafkaTopicPrefix: prefix, kafkaGroup: `group-${prefix}`, partitions: PARTITIONS, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5 },
        {},
      ),
      { roles: { api: false, processor: true } },
    );
  });
  after(async () => {
    if (skip !== undefined) return;
    await app.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function decisions(): Promise<number> {
    const [row] = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions');
    return row!.n;
  }

  /** Poll the store until `done` holds (a condition, not a fixed sleep), failing after `ms`. */
  async function until(done: (n: number) => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let n = await decisions(); !done(n); n = await decisions()) {
      if (Date.now() > deadline) throw new Error(`store has ${n} decisions after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('loses nothing and decides nothing twice, in PostgreSQL and on the decisions topic', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const generated = new TrafficGenerator({ seed: 11, users: 500 }).take(EVENTS);
    const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'restart-test', topic: topics.events, lingerMs: 5, batchSize: 500, compression: 'snappy' });
    // Sends that meet the stopped broker retry until it is back: every one must be acknowledged.
    const sending = Promise.all(generated.map((g) => producer.append(g.event.user_id, g.event)));

    await until((n) => n >= EVENTS * 0.2, 60_000);
    await run(KAFKA_SH, ['stop']);
    const duringOutage = await decisions();
    await run(KAFKA_SH, ['start']);
    await sending;
    await producer.close();
    await until((n) => n >= EVENTS, 120_000);

    assert.ok(duringOutage < EVENTS, `the broker stopped mid-stream (${duringOutage} decided before)`);
    const [row] = await app.db.query<{ decisions: number; distinct_events: number; events: number }>(
      'SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events, (SELECT count(*) FROM events)::int AS events',
    );
    assert.deepEqual(row, { decisions: EVENTS, distinct_events: EVENTS, events: EVENTS });
    const onTopic = await readCommitted(topics.decisions, PARTITIONS, EVENTS);
    assert.equal(new Set(onTopic.map((m) => (JSON.parse(m.value) as { decision_id: string }).decision_id)).size, EVENTS);
    assert.equal(onTopic.length, EVENTS);
  });
});
