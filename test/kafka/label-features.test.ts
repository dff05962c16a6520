import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { topicNames } from '../../src/transport/kafka/topics.ts';
import { openKafkaTestbed, TEST_BROKERS, type KafkaTestbed } from '../support/kafka.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-02T00:00:00Z');
const purchase = (id: string, day: number) => ({ event_id: id, event_type: 'transaction', timestamp: T0 + day * DAY, user_id: 'ann', merchant_id: 'shop', amount: 40 });

describe('labels on the Kafka labels topic', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  let app: RunningApp;

  before(async () => {
    const opened = await openKafkaTestbed(3);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    const featuresFile = path.join(bed.dataDir, 'features.yaml');
    writeFileSync(
      featuresFile,
      JSON.stringify([{ name: 'merchant_fraud_7d', entity: 'merchant_id', window: { kind: 'hopping', size: '7d', hop: '1d' }, label_delay: '2d', aggregate: 'fraud_count' }]),
    );
    // The test reads stored labels itself (`labels.read()`): no background read races it.
    app = await startApp(bed.config({ featuresFile, labelPollMs: 3_600_000 }));
  });
  after(async () => {
    if (skip !== undefined) return;
    await app.stop();
    await bed.close();
  });

  /** Ingest events and wait for their decisions (the group may still be joining: no HTTP time budget). */
  const decide = async (...events: ReturnType<typeof purchase>[]): Promise<void> => {
    const wanted = new Set(events.map((e) => e.event_id));
    const decided = new Promise<void>((resolve) =>
      app.feed.subscribe((d) => {
        wanted.delete(d.event_id);
        if (wanted.size === 0) resolve();
      }),
    );
    const res = await fetch(`${app.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    assert.equal(res.status, 202);
    await decided;
  };

  /** Resolves once the intake has made `labels` stored labels and `refused` dead letters durable. */
  const stored = (labels: number, refused: number): Promise<void> =>
    new Promise((resolve) => {
      let n = 0;
      let r = 0;
      app.onLabelsStored((s, f) => {
        n += s;
        r += f;
        if (n >= labels && r >= refused) resolve();
      });
    });

  it('stores them, dead-letters the invalid ones, and the partition that decided the event counts them', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    await decide(...[0, 1, 2, 3].map((d) => purchase(`p-${d}`, d)));
    await app.sink.flush();
    const durable = stored(2, 2);
    const producer = new Producer({ clientId: 'labels', bootstrapBrokers: TEST_BROKERS, serializers: stringSerializers });
    const topic = topicNames(bed.prefix).labels;
    await producer.send({
      messages: [
        { topic, key: 'p-1', value: JSON.stringify({ event_id: 'p-1', is_fraud: true, labeled_at: new Date(T0 + 5 * DAY).toISOString() }) },
        { topic, key: 'p-2', value: JSON.stringify({ event_id: 'p-2', is_fraud: true, labeled_at: T0 + 5 * DAY }) },
        { topic, key: 'p-3', value: JSON.stringify({ event_id: 'p-3', verdict: 'fraud' }) },
        { topic, key: 'p-0', value: 'chargeback p-0' },
      ],
    });
    await producer.close();
    await durable;
    const letters = await app.db.query<{ event_id: string | null; errors: { field: string; reason: string }[] }>("SELECT event_id, errors FROM dead_letters WHERE source = 'labels' ORDER BY id");
    assert.deepEqual(letters.map((l) => [l.event_id, l.errors.map((e) => e.field).sort()]).sort(), [
      ['p-3', ['(root)', 'is_fraud']],
      [null, ['(record)']],
    ].sort());

    assert.equal(await app.labels!.read(), 2, 'both verdicts reach the partition that decided their events');
    await decide(purchase('q-6', 6.5));
    await app.sink.flush();
    const q6 = (await (await fetch(`${app.url}/api/v1/events/q-6`)).json()) as { features: Record<string, number> };
    assert.equal(q6.features.merchant_fraud_7d, 2);
  });
});
