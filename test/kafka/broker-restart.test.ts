import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { openKafkaTestbed, readCommitted, TEST_BROKERS, type KafkaTestbed } from '../support/kafka.ts';

const KAFKA_SH = fileURLToPath(new URL('../../infra/kafka/kafka.sh', import.meta.url));
const EVENTS = 20_000;
const run = promisify(execFile);

describe('a broker restart mid-stream', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let app: RunningApp;

  before(async () => {
    // Only the repo's own broker can be restarted by the test.
    if (process.env.RTDS_TEST_KAFKA_BROKERS !== undefined) return void (skip = 'RTDS_TEST_KAFKA_BROKERS points at a broker this test cannot restart');
    const opened = await openKafkaTestbed(4);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    await ensureTopics(TEST_BROKERS, topicNames(bed.prefix), bed.partitions);
    app = await startApp(bed.config(), { roles: { api: false, processor: true } });
  });
  after(async () => {
    if (skip !== undefined) return;
    await app.stop();
    await bed.close();
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
    const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'restart-test', topic: topicNames(bed.prefix).events, lingerMs: 5, batchSize: 500, compression: 'snappy' });
    // Paced (≈ 1,250 events/s): a quarter first, then — once the default set's four stages are
    // deciding (their groups take seconds to form, longer on a busy machine) — the rest while the
    // broker stops and starts. Sends that meet the stopped broker retry until it is back, and
    // every one must be acknowledged.
    let sent = 0;
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 500) {
        const chunk = generated.slice(i, Math.min(i + 500, to));
        await Promise.all([...chunk.map((g) => producer.append(g.event.user_id, g.event)), new Promise((resolve) => setTimeout(resolve, 400))]);
        sent += chunk.length;
      }
    };
    await send(0, EVENTS / 4);
    await until((n) => n >= EVENTS * 0.1, 120_000);
    const sending = send(EVENTS / 4, EVENTS);
    await run(KAFKA_SH, ['stop']);
    // Acknowledged before the broker was down: the rest wait in the producer's retries.
    const sentAtStop = sent;
    await run(KAFKA_SH, ['start']);
    await sending;
    await producer.close();
    await until((n) => n >= EVENTS, 120_000);

    assert.ok(sentAtStop < EVENTS, `the broker stopped mid-stream (${sentAtStop} of ${EVENTS} events sent before)`);
    const [row] = await app.db.query<{ decisions: number; distinct_events: number; events: number }>(
      'SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(DISTINCT event_id) FROM decisions)::int AS distinct_events, (SELECT count(*) FROM events)::int AS events',
    );
    assert.deepEqual(row, { decisions: EVENTS, distinct_events: EVENTS, events: EVENTS });
    const onTopic = await readCommitted(topicNames(bed.prefix).decisions, bed.partitions, EVENTS);
    assert.equal(new Set(onTopic.map((m) => (JSON.parse(m.value) as { decision_id: string }).decision_id)).size, EVENTS);
    assert.equal(onTopic.length, EVENTS);
  });
});
