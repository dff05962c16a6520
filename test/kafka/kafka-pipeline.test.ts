import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { murmur2, Producer, stringSerializers } from '@platformatic/kafka';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { CONTRACT_HEADER, decisionIdFor } from '../../src/contracts/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { KafkaRecordSource } from '../../src/transport/kafka/kafka-source.ts';
import { ensureTopics, topicNames, type TopicNames } from '../../src/transport/kafka/topics.ts';
import type { LogRecord } from '../../src/transport/log.ts';
import { kafkaAvailable, openKafkaTestbed, readCommitted, readUntil, TEST_BROKERS, testTopicPrefix, type KafkaTestbed } from '../support/kafka.ts';

const T0 = Date.parse('2026-11-26T09:00:00Z');
const event = (i: number, user: string): Record<string, unknown> => ({
  event_id: `k-${i}`,
  event_type: 'transaction',
  timestamp: new Date(T0 + i * 10).toISOString(),
  user_id: user,
  amount: 10 + (i % 50),
  channel: 'web',
  country: 'DE',
});

describe('Kafka transport against the real broker', () => {
  let skip: string | undefined;
  before(async () => {
    const available = await kafkaAvailable();
    if (available !== true) skip = available.skip;
  });

  it("keeps each user's events in order across partitions and commits offsets after each batch", async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const topics = topicNames(testTopicPrefix());
    await ensureTopics(TEST_BROKERS, topics, 6);
    const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'order-test', topic: topics.events, lingerMs: 5, batchSize: 500, compression: 'snappy' });
    const sent = Array.from({ length: 2000 }, (_, i) => event(i, `user-${i % 25}`));
    await Promise.all(sent.map((e) => producer.append(e.user_id as string, e)));
    await producer.close();

    const seen = new Map<string, number[]>();
    let total = 0;
    let resolveAll!: () => void;
    let failed!: (err: unknown) => void;
    const all = new Promise<void>((resolve, reject) => {
      resolveAll = resolve;
      failed = reject;
    });
    // An assertion failing inside the handler fails the batch, and with it the test.
    const source = new KafkaRecordSource({ brokers: TEST_BROKERS, groupId: `order-${topics.events}`, clientId: 'order-test', topic: topics.events, maxWaitMs: 20, sessionTimeoutMs: 10_000, maxRecordBytes: 65_536, onError: (err) => failed(err) });
    await source.start(async (batch: LogRecord[]) => {
      for (const r of batch) {
        const v = r.value as { user_id: string; event_id: string };
        assert.equal(r.key, v.user_id, 'records are keyed by user');
        // Java's formula, so Kafka's own tools put a user's events on the same partition.
        assert.equal(r.partition, (murmur2(Buffer.from(r.key)) & 0x7fffffff) % 6, `partition of ${r.key}`);
        const list = seen.get(v.user_id) ?? [];
        list.push(Number(v.event_id.slice(2)));
        seen.set(v.user_id, list);
      }
      total += batch.length;
      if (total >= sent.length) resolveAll();
      return { durable: Promise.resolve() };
    });
    try {
      await all;
    } finally {
      await source.stop({ drain: true });
    }
    assert.equal(total, sent.length);
    for (const [user, ids] of seen) assert.deepEqual(ids, [...ids].sort((a, b) => a - b), `events of ${user} in order`);
    assert.equal(seen.size, 25);
  });
});

describe('the app on Kafka and PostgreSQL', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let app: RunningApp;
  let topics: TopicNames;

  before(async () => {
    const opened = await openKafkaTestbed(4);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    topics = topicNames(bed.prefix);
    app = await startApp(bed.config());
  });
  after(async () => {
    if (skip !== undefined) return;
    await app.stop();
    await bed.close();
  });

  it('decides events from HTTP and from other producers exactly once, stored in PostgreSQL and on the decisions topic', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const wanted = new Set<string>();
    const decided = new Promise<void>((resolve) =>
      app.feed.subscribe((decision) => {
        wanted.delete(decision.event_id);
        if (wanted.size === 0) resolve();
      }),
    );
    const viaHttp = Array.from({ length: 300 }, (_, i) => event(i, `u-${i % 7}`));
    // A record as kcat or kafka-console-producer would write it: plain JSON value, key user_id.
    const foreign = event(1000, 'u-foreign');
    for (const e of [...viaHttp, foreign]) wanted.add(e.event_id as string);
    const res = await fetch(`${app.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(viaHttp) });
    assert.equal(res.status, 202);
    const plain = new Producer({ clientId: 'plain', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    await plain.send({ messages: [{ topic: topics.events, key: 'u-foreign', value: JSON.stringify(foreign) }] });
    // …and the same HTTP batch again: re-sent ids must not be decided twice.
    assert.equal((await fetch(`${app.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(viaHttp.slice(0, 50)) })).status, 202);
    await plain.close();
    await decided;
    await app.sink.flush();

    const [row] = await app.db.query<{ decisions: number; events: number }>('SELECT (SELECT count(*) FROM decisions)::int AS decisions, (SELECT count(*) FROM events)::int AS events');
    assert.deepEqual(row, { decisions: 301, events: 301 });
    // Exactly once on the topic too: no more decisions than events, re-sent ones included.
    const onTopic = await readCommitted(topics.decisions, 4, 301);
    assert.equal(onTopic.length, 301);
    const ids = new Set(onTopic.map((m) => (JSON.parse(m.value) as { decision_id: string }).decision_id));
    assert.equal(ids.size, 301);
    assert.ok(ids.has(decisionIdFor('k-1000')));
    assert.ok(ids.has(decisionIdFor('k-0')));
    // On /metrics: the processor's transactions, timed, and the lag of the events partitions it read.
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.ok(Number(/^rtds_kafka_transaction_seconds_count (\d+)$/m.exec(metrics)?.[1]) >= 1, 'committed transactions timed');
    assert.match(metrics, /^rtds_kafka_transaction_aborts_total \d+$/m);
    assert.match(metrics, /^rtds_consumer_lag_records\{stage="user_id",partition="[0-3]"\} \d+$/m);
    // Each record names its contract version; the foreign one came without and was decided all the same.
    assert.deepEqual(new Set(onTopic.map((m) => m.headers.get(CONTRACT_HEADER))), new Set(['decision/1']));
    const idOf = (m: { value: string }): string => (JSON.parse(m.value) as { event_id: string }).event_id;
    const events = await readUntil(topics.events, (read) => ['k-100', 'k-1000'].every((id) => read.some((m) => idOf(m) === id)));
    const contractOf = (id: string): string | undefined => events.find((m) => idOf(m) === id)!.headers.get(CONTRACT_HEADER);
    assert.equal(contractOf('k-100'), 'event/1', 'appended by the HTTP edge: stamped');
    assert.equal(contractOf('k-1000'), undefined, 'from a producer that stamps nothing');
  });

  it('sends poison records to the dead-letter topic with the error in headers and keeps the partition flowing, and the store too', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const after = event(2000, 'u-poison');
    const decided = new Promise<void>((resolve) =>
      app.feed.subscribe((decision) => {
        if (decision.event_id === after.event_id) resolve();
      }),
    );
    const plain = new Producer({ clientId: 'poison', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    await plain.send({
      messages: [
        { topic: topics.events, key: 'u-poison', value: 'this is { not json' },
        { topic: topics.events, key: 'u-poison', value: JSON.stringify({ event_id: 'k-bad', event_type: 'transaction', timestamp: 'soon', user_id: 'u-poison' }) },
        { topic: topics.events, key: 'u-poison', value: JSON.stringify({ ...event(1999, 'u-poison'), metadata: { blob: 'x'.repeat(70_000) } }) },
        // What no store can hold, from a producer that skipped the HTTP edge: each is refused with its reason.
        { topic: topics.events, key: 'u-poison', value: JSON.stringify({ ...event(1998, 'u-poison'), device_id: 'd\u0000' }) },
        { topic: topics.events, key: 'u-poison', value: JSON.stringify({ ...event(1997, 'u-poison'), metadata: { note: '\udc00' } }) },
        { topic: topics.events, key: 'u-poison', value: JSON.stringify({ ...event(1996, 'u-poison'), timestamp: 1e300 }) },
        { topic: topics.events, key: 'u-poison', value: `${'['.repeat(20_000)}${']'.repeat(20_000)}` },
        { topic: topics.events, key: 'u-poison', value: JSON.stringify(after) },
      ],
    });
    await plain.close();
    await decided; // the valid record behind the poison ones was decided
    const letters = await readCommitted(topics.deadLetters, 4, 7);
    assert.equal(letters.length, 7);
    // Dead letters of different keys may sit on different partitions: found by payload, not order.
    const errorsOf = (payloadStart: string): { field: string; reason: string }[] => {
      const letter = letters.find((m) => m.value.startsWith(payloadStart));
      assert.ok(letter, `a dead letter with payload ${payloadStart}…`);
      return JSON.parse(letter.headers.get('rtds.error')!) as { field: string; reason: string }[];
    };
    assert.match(errorsOf('this is { not json')[0]!.reason, /not valid JSON/);
    assert.deepEqual(errorsOf('{"event_id":"k-bad"').map((e) => e.field).sort(), ['amount', 'timestamp']);
    assert.match(errorsOf('{"event_id":"k-1999"')[0]!.reason, /^value is 70\d{3} bytes, over the 65536-byte limit/);
    assert.deepEqual(errorsOf('{"event_id":"k-1998"'), [{ field: 'device_id', reason: 'contains a NUL character (\\u0000), which cannot be stored' }]);
    assert.match(errorsOf('{"event_id":"k-1997"')[0]!.reason, /unpaired UTF-16 surrogate/);
    assert.match(errorsOf('{"event_id":"k-1996"')[0]!.reason, /between 1970-01-01 and 9999-12-31/);
    assert.match(errorsOf('[[[[')[0]!.reason, /nests deeper than 64 levels/);
    await app.sink.flush();
    const stored = await app.db.query<{ payload: string }>("SELECT payload FROM dead_letters WHERE source = 'log' ORDER BY id");
    assert.deepEqual(
      stored.map((r) => r.payload.slice(0, 10)),
      ['this is { ', '{"event_id', '{"event_id', '{"event_id', '{"event_id', '{"event_id', '[[[[[[[[[['],
    );
  });
});
