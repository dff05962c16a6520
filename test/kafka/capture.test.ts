// `rtds capture --from kafka`: the committed records of the events and labels topics recorded as JSONL, and replayed onto Kafka as they were.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { runReplay } from '../../src/cli/replay.ts';
import { idempotentProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames } from '../../src/transport/kafka/topics.ts';
import { runCommand } from '../support/command.ts';
import { kafkaAvailable, readCommitted, TEST_BROKERS, testTopicPrefix } from '../support/kafka.ts';
import { waitFor } from '../support/wait.ts';

const PARTITIONS = 3;
const event = (i: number): Record<string, unknown> => ({ event_id: `kcap-${i}`, event_type: 'login', user_id: `kcap-user-${i % 7}`, timestamp: new Date(Date.UTC(2026, 10, 26) + i * 1000).toISOString() });

async function recorded(dir: string): Promise<{ files: string[]; lines: string[] }> {
  const files = (await readdir(dir)).sort();
  const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
  return { files, lines: texts.flatMap((text) => text.split('\n').filter((line) => line !== '')) };
}

describe('rtds capture --from kafka', () => {
  let skip: string | undefined;
  let dir: string;
  const prefix = testTopicPrefix();
  const topics = topicNames(prefix);
  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) return void (skip = available.skip);
    dir = await mkdtemp(path.join(tmpdir(), 'rtds-kafka-capture-'));
    await ensureTopics(TEST_BROKERS, topics, PARTITIONS);
  });
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('records committed events and labels from now on, each value one line (not JSON: a JSON string), none of an aborted transaction; replayed onto Kafka they are the same records', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const out = path.join(dir, 'recording');
    const env = { RTDS_KAFKA_BROKERS: TEST_BROKERS.join(','), RTDS_KAFKA_TOPIC_PREFIX: prefix };
    const plain = new Producer({ clientId: 'capture-test', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    // Before the capture begins: not recorded.
    await plain.send({ messages: [{ topic: topics.events, key: 'early', value: JSON.stringify(event(-1)) }] });
    const capture = runCommand(['capture', '--from', 'kafka', '--labels', '--out', out, '--rotate-lines', '20'], env);
    try {
      await capture.said(/capture: recording Kafka .*events and .*labels, read committed into /, 30_000);

      // An aborted transaction on every partition, ahead of the committed records: none of it may be recorded.
      const transactional = idempotentProducer({ brokers: TEST_BROKERS, clientId: 'capture-test-tx', compression: 'none', transactionalId: `capture-test-${prefix}` });
      const tx = await transactional.beginTransaction();
      await tx.send({ messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: topics.events, partition, key: 'aborted', value: JSON.stringify({ ...event(999), event_id: `aborted-${partition}` }) })) });
      await tx.abort();
      await transactional.close();

      const events = Array.from({ length: 40 }, (_, i) => event(i));
      const pretty = JSON.stringify(event(40), null, 2);
      const notJson = 'this is { not json';
      const labels = [0, 1, 2, 3, 4].map((i) => ({ event_id: `kcap-${i}`, is_fraud: i === 3 }));
      await plain.send({
        messages: [
          ...events.map((e) => ({ topic: topics.events, key: e.user_id as string, value: JSON.stringify(e) })),
          { topic: topics.events, key: 'kcap-user-0', value: pretty },
          { topic: topics.events, key: 'kcap-user-0', value: notJson },
          ...labels.map((l) => ({ topic: topics.labels, key: l.event_id, value: JSON.stringify(l) })),
        ],
      });
      await plain.close();

      const expected = [...events.map((e) => JSON.stringify(e)), JSON.stringify(event(40)), JSON.stringify(notJson), ...labels.map((l) => JSON.stringify({ label: l }))];
      const { files, lines } = await waitFor('every record recorded', 20_000, async () => {
        const now = await recorded(out);
        return now.lines.length >= expected.length ? now : undefined;
      });
      capture.child.kill('SIGINT');
      assert.equal(await capture.exited, 0, capture.stderr());
      assert.match(capture.stderr(), /capture: stopped: 42 events \([\d,]+\/s\), 5 labels, [\d,]+ bytes in 3 files/);
      assert.deepEqual(files, ['capture-000001.jsonl', 'capture-000002.jsonl', 'capture-000003.jsonl']);
      // Partitions interleave in any order: compared as sets, and each line stands alone as JSON.
      assert.deepEqual([...lines].sort(), [...expected].sort());
      for (const line of lines) JSON.parse(line);

      // Played back onto other topics: each event record as it was produced (the pretty one compacted), each label.
      const replayPrefix = testTopicPrefix();
      // rtds replay reads its configuration from the environment.
      const settings = { RTDS_KAFKA_BROKERS: env.RTDS_KAFKA_BROKERS, RTDS_KAFKA_TOPIC_PREFIX: replayPrefix, RTDS_PARTITIONS: String(PARTITIONS) };
      const saved = Object.fromEntries(Object.keys(settings).map((name) => [name, process.env[name]]));
      Object.assign(process.env, settings);
      try {
        const tally = await runReplay(['--in', out, '--target', 'kafka', '--quiet']);
        assert.deepEqual(tally, { lines: 47, delivered: 47, labels: 5, heldBack: 0 });
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
      const replayed = await readCommitted(topicNames(replayPrefix).events, PARTITIONS, 42);
      assert.deepEqual(replayed.map((m) => m.value).sort(), [...events.map((e) => JSON.stringify(e)), JSON.stringify(event(40)), notJson].sort());
      const replayedLabels = await readCommitted(topicNames(replayPrefix).labels, PARTITIONS, 5);
      assert.deepEqual(replayedLabels.map((m) => JSON.parse(m.value) as unknown).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), labels);
    } finally {
      capture.child.kill('SIGKILL');
    }
  });
});
