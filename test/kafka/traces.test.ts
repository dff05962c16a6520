// One trace from a Kafka producer's record through two stages on two processors to the stored decision, its context carried in record headers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { createLogger } from '../../src/observe/index.ts';
import { KafkaProducer } from '../../src/transport/kafka/kafka-producer.ts';
import { repartitionTopic, topicNames } from '../../src/transport/kafka/topics.ts';
import { partitionFor } from '../../src/transport/log.ts';
import { openKafkaTestbed, readCommitted, TEST_BROKERS, type KafkaTestbed } from '../support/kafka.ts';
import { waitFor } from '../support/wait.ts';

const PARTITIONS = 2;
/** Two stages: the user's, then the merchant's, one repartition hop between them. */
const SPECS = `
features:
  - { name: user_count_1h, entity: user_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_count_1h, entity: merchant_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
`;

/** A processor in this process, its spans in an exporter of its own, and the partitions it was last given per topic (from its log). */
interface TracedProcessor {
  app: RunningApp;
  exporter: InMemorySpanExporter;
  owned: Map<string, number[]>;
}

interface SentEvent {
  eventId: string;
  traceId: string;
  producerSpan: string;
}

describe('traces on Kafka: two stages on two processors', () => {
  let skip: string | undefined;
  let bed: KafkaTestbed;
  const processors: TracedProcessor[] = [];
  let repartition: string;

  before(async () => {
    const opened = await openKafkaTestbed(PARTITIONS);
    if ('skip' in opened) return void (skip = opened.skip);
    bed = opened;
    const featuresFile = path.join(bed.dataDir, 'features.yaml');
    writeFileSync(featuresFile, SPECS);
    repartition = repartitionTopic(bed.prefix, 'merchant_id');
    for (const instance of ['a', 'b']) {
      const exporter = new InMemorySpanExporter();
      const owned = new Map<string, number[]>();
      const logger = createLogger('info', {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg: string; topic?: string; partitions?: number[] };
          if (entry.msg.startsWith('consumer group generation joined') && entry.topic !== undefined) owned.set(entry.topic, entry.partitions ?? []);
        },
      });
      // A transactional id of its own: two processors in one process would otherwise fence each other.
      const config = bed.config({ featuresFile, instanceId: `traces-${instance}` });
      processors.push({ app: await startApp(config, { roles: { api: false, processor: true }, spanExporter: exporter, logger }), exporter, owned });
    }
    // Each processor owns one partition of each stage's input: an event whose two keys fall in different partitions crosses processors.
    const events = topicNames(bed.prefix).events;
    await waitFor('each processor given one partition of each stage', 60_000, () => (processors.every((p) => [events, repartition].every((topic) => p.owned.get(topic)?.length === 1)) ? true : undefined));
  });
  after(async () => {
    if (skip !== undefined) return;
    for (const p of processors) await p.app.stop();
    await bed.close();
  });

  /** Spans of `traceId` exported by each processor so far. */
  const spansOf = async (traceId: string): Promise<{ processor: number; span: ReadableSpan }[]> => {
    for (const p of processors) await p.app.tracing!.flush();
    return processors.flatMap((p, processor) => p.exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId).map((span) => ({ processor, span })));
  };

  it('follows each event from its producer\'s traceparent through both stages and processors to its stored decision', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // One event for each pair of a user partition and a merchant partition.
    const sent: SentEvent[] = [];
    const producer = new KafkaProducer({ brokers: TEST_BROKERS, clientId: 'test-traces', topic: topicNames(bed.prefix).events, lingerMs: 1, batchSize: 100, compression: 'none' });
    try {
      for (const [userPartition, merchantPartition] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        const user = keyIn('user', userPartition);
        const merchant = keyIn('merchant', merchantPartition);
        const traced: SentEvent = { eventId: `traced-${user}-${merchant}`, traceId: randomBytes(16).toString('hex'), producerSpan: randomBytes(8).toString('hex') };
        const body = { event_id: traced.eventId, event_type: 'transaction', user_id: user, merchant_id: merchant, amount: 40, currency: 'EUR', channel: 'web', country: 'DE' };
        await producer.publish(topicNames(bed.prefix).events, user, JSON.stringify(body), { traceparent: `00-${traced.traceId}-${traced.producerSpan}-01` });
        sent.push(traced);
      }
    } finally {
      await producer.close();
    }

    const client = new pg.Client({ connectionString: bed.db.url });
    await client.connect();
    const stored = await waitFor('the four decisions stored', 60_000, async () => {
      const { rows } = await client.query<{ event_id: string; trace_id: string }>('SELECT event_id, trace_id FROM decisions WHERE event_id = ANY($1)', [sent.map((s) => s.eventId)]);
      return rows.length === sent.length ? new Map(rows.map((r) => [r.event_id, r.trace_id])) : undefined;
    }).finally(() => client.end());

    let crossed = 0;
    for (const event of sent) {
      assert.equal(stored.get(event.eventId), event.traceId, `${event.eventId} is stored with its producer's trace id`);
      const spans = await waitFor(`${event.eventId}'s trace`, 30_000, async () => {
        const found = await spansOf(event.traceId);
        return found.filter((f) => f.span.name === 'process').length === 2 && found.some((f) => f.span.name === 'store write') ? found : undefined;
      });
      const named = (name: string, where: (s: ReadableSpan) => boolean = () => true): { processor: number; span: ReadableSpan } => {
        const matching = spans.filter((f) => f.span.name === name && where(f.span));
        assert.equal(matching.length, 1, `${event.eventId}: one ${name} span, among ${spans.map((f) => f.span.name).join(', ')}`);
        return matching[0]!;
      };
      const first = named('process', (s) => s.attributes['rtds.stage'] === 'user_id');
      const hop = named('publish', (s) => s.attributes['messaging.destination.name'] === repartition);
      const second = named('process', (s) => s.attributes['rtds.stage'] === 'merchant_id');
      const out = named('publish', (s) => s.attributes['messaging.destination.name'] === topicNames(bed.prefix).decisions);
      const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
      assert.equal(first.span.kind, SpanKind.CONSUMER);
      assert.equal(parentOf(first.span), event.producerSpan, "the user stage continues the producer's span from the record's header");
      assert.equal(first.span.attributes['rtds.outcome'], 'forward');
      assert.equal(parentOf(hop.span), first.span.spanContext().spanId);
      assert.equal(hop.processor, first.processor);
      assert.equal(parentOf(second.span), hop.span.spanContext().spanId, 'the merchant stage continues the repartition record\'s publish span');
      assert.equal(second.span.parentSpanContext?.isRemote, true);
      for (const step of ['features', 'score', 'decide', 'store write']) assert.equal(parentOf(named(step, (s) => parentOf(s) === second.span.spanContext().spanId).span), second.span.spanContext().spanId);
      assert.equal(parentOf(out.span), second.span.spanContext().spanId);
      assert.equal(named('features', (s) => parentOf(s) === first.span.spanContext().spanId).processor, first.processor);
      assert.ok(spans.every((f) => f.span.attributes['rtds.event_id'] === undefined || f.span.attributes['rtds.event_id'] === event.eventId));
      if (first.processor !== second.processor) crossed++;
    }
    assert.ok(crossed >= 1, 'at least one trace crossed from one processor to the other');

    // The decisions topic carries each decision's publish span as its record's traceparent.
    const records = await readCommitted(topicNames(bed.prefix).decisions, PARTITIONS, sent.length);
    for (const event of sent) {
      const record = records.find((r) => (JSON.parse(r.value) as { event_id: string }).event_id === event.eventId);
      const publish = (await spansOf(event.traceId)).find((f) => f.span.name === 'publish' && f.span.attributes['messaging.destination.name'] === topicNames(bed.prefix).decisions)!;
      assert.equal(record?.headers.get('traceparent'), `00-${event.traceId}-${publish.span.spanContext().spanId}-01`);
      assert.equal((JSON.parse(record!.value) as { trace_id: string }).trace_id, event.traceId);
    }
  });
  it('continues a trace from POST /api/v1/events on an API process through the events topic to the processors', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const exporter = new InMemorySpanExporter();
    const api = await startApp(bed.config({ featuresFile: path.join(bed.dataDir, 'features.yaml') }), { roles: { api: true, processor: false }, spanExporter: exporter });
    try {
      const traceId = randomBytes(16).toString('hex');
      const body = { event_id: 'traced-over-http', event_type: 'transaction', user_id: 'http-user', merchant_id: 'http-merchant', amount: 15, currency: 'EUR', channel: 'web', country: 'DE' };
      const res = await fetch(`${api.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` }, body: JSON.stringify(body) });
      assert.equal(res.status, 202);
      const append = await waitFor('the API process exports its request and append spans', 30_000, async () => {
        await api.tracing!.flush();
        return exporter.getFinishedSpans().find((s) => s.spanContext().traceId === traceId && s.name === 'log append');
      });
      const spans = await waitFor('the processors continue the trace to its store write', 60_000, async () => {
        const found = await spansOf(traceId);
        return found.some((f) => f.span.name === 'store write') ? found : undefined;
      });
      const first = spans.find((f) => f.span.name === 'process' && f.span.attributes['rtds.stage'] === 'user_id');
      assert.equal(first?.span.parentSpanContext?.spanId, append.spanContext().spanId, "the user stage continues the API's append span, carried in the record's headers");
    } finally {
      await api.stop();
    }
  });
});

/** The first of `prefix`-0, -1, … that falls in `partition`. */
function keyIn(prefix: string, partition: number): string {
  for (let i = 0; ; i++) if (partitionFor(`${prefix}-${i}`, PARTITIONS) === partition) return `${prefix}-${i}`;
}
