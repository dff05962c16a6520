import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../../src/config/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { openKafkaTestbed, readCommitted, TEST_BROKERS, type KafkaTestbed } from '../support/kafka.ts';
import type { TestDatabase } from '../support/postgres.ts';
import { assertFeaturesAsOneReplay, decisionsUntil } from '../support/stored-decisions.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));
const EVENTS = 50_000;
const PARTITIONS = 6;

describe('processor instances in a consumer group, one killed midway', () => {
  let skip: string | undefined;
  let db: TestDatabase;
  let client: pg.Client;
  let dataDir: string;
  let prefix: string;
  let bed: KafkaTestbed;
  const children: ChildProcess[] = [];
  /** Events replayed into state by each restore the processors logged. */
  const restoredEvents: number[] = [];

  before(async () => {
    const opened = await openKafkaTestbed(PARTITIONS);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    ({ db, dataDir, prefix } = bed);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await ensureTopics(TEST_BROKERS, topicNames(prefix), PARTITIONS);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (skip !== undefined) return;
    await client.end();
    await bed.close();
  });

  /** Start `rtds processor` and resolve once it has joined and is consuming. */
  function startProcessor(): Promise<ChildProcess> {
    // Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
    const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, 'processor'], {
      env: {
        ...env,
        RTDS_KAFKA_BROKERS: TEST_BROKERS.join(','),
        RTDS_DATABASE_URL: db.url,
        RTDS_KAFKA_TOPIC_PREFIX: prefix,
        RTDS_KAFKA_GROUP: `group-${prefix}`,
        RTDS_PARTITIONS: String(PARTITIONS),
        RTDS_DATA_DIR: dataDir,
        RTDS_TRAIN_ON_START: 'false',
        RTDS_LOG_LEVEL: 'info',
        RTDS_SINK_FLUSH_MS: '5',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (const m of chunk.toString().matchAll(/"events":(\d+),"ms":\d+,"msg":"partition state restored/g)) restoredEvents.push(Number(m[1]));
        if (out.includes('RTDS processor is running')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`processor exited (${code}) before running:\n${out}`)));
    });
  }

  const until = (done: (decisions: number) => boolean, ms: number): Promise<number> => decisionsUntil(async (sql) => (await client.query<{ n: number }>(sql)).rows, done, ms);

  it('gives every event exactly one decision, with features equal to a single-process run', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await startProcessor(); // the first one migrates the store
    const victim = await startProcessor();

    const generated = new TrafficGenerator({ seed: 5, users: 3000 }).take(EVENTS);
    const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'failover-test', topic: topicNames(prefix).events, lingerMs: 5, batchSize: 1000, compression: 'snappy' });
    const sending = Promise.all(generated.map((g) => producer.append(g.event.user_id, g.event)));

    await until((n) => n >= EVENTS * 0.3, 120_000);
    victim.kill('SIGKILL');
    await startProcessor();
    await sending;
    await producer.close();
    await until((n) => n >= EVENTS, 180_000);

    const { rows: counts } = await client.query<{ decisions: number; distinct_events: number; events: number; positioned: number }>(
      `SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events,
              (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM events WHERE log_offset IS NOT NULL)::int AS positioned`,
    );
    assert.deepEqual(counts[0], { decisions: EVENTS, distinct_events: EVENTS, events: EVENTS, positioned: EVENTS });
    // The decisions topic, read committed: the killed processor's open transaction was aborted,
    // and what the survivor re-decided appears once.
    const onTopic = await readCommitted(topicNames(prefix).decisions, PARTITIONS, EVENTS);
    assert.equal(new Set(onTopic.map((m) => m.key + (JSON.parse(m.value) as { decision_id: string }).decision_id)).size, EVENTS);
    assert.equal(onTopic.length, EVENTS);

    // The reference: each partition's events replayed in offset order by one fresh task.
    const { rows } = await client.query<{ event_id: string; log_partition: number; features: Buffer }>(
      'SELECT e.event_id, e.log_partition, d.features FROM events e JOIN decisions d USING (event_id) ORDER BY e.log_partition, e.log_offset',
    );
    assert.equal(rows.length, EVENTS);
    assert.equal(assertFeaturesAsOneReplay(rows, new Map(generated.map((g) => [g.event.event_id, g.event])), loadConfig({}, {})), PARTITIONS);
    assert.ok(restoredEvents.some((n) => n > 0), `a partition moved mid-stream and its state was rebuilt (restores: ${restoredEvents.join(', ')})`);
  });
});
