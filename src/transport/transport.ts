// Chooses the transport from the configuration: the embedded log, or Kafka with its side-output topics.
import { hostname } from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import type { PublishedDecision, RtdsEvent } from '../contracts/index.ts';
import type { Logger } from '../observe/index.ts';
import { EMBEDDED_LOG, type DeadLetter } from '../store/index.ts';
import { PartitionedLog } from './embedded/partitioned-log.ts';
import { KafkaProducer } from './kafka/kafka-producer.ts';
import { KafkaRecordSource, type RebalanceInfo } from './kafka/kafka-source.ts';
import { TopicTail } from './kafka/topic-tail.ts';
import { ensureTopics, topicNames } from './kafka/topics.ts';
import { TransactionalOutput } from './kafka/transactional-output.ts';
import type { EventLogProducer, RecordSource } from './log.ts';

/** What the processor publishes besides the store: decisions, dead letters and late events as topics. */
export interface SideOutputs {
  decided(event: RtdsEvent, decision: PublishedDecision): void;
  deadLetter(letter: DeadLetter): void;
  /**
   * Resolves when everything published so far is acknowledged. In exactly-once mode what a batch
   * read from the log published is not among it: that travels in the batch's transaction.
   */
  settle(): Promise<void>;
}

export interface Transport {
  kind: 'embedded' | 'kafka';
  /** Name of the events log (the topic on Kafka): stored with each event's position. */
  eventsLog: string;
  producer: EventLogProducer;
  /** The processor's source; created on demand, since an API-only process has none. */
  source(): RecordSource;
  /** On Kafka, the labels topic read by the processors' group, committed once stored; absent on the embedded log. */
  labelSource?: () => RecordSource;
  sideOutputs: SideOutputs | undefined;
  /**
   * On Kafka, the committed decisions of every processor (each value a published decision), from
   * now on; absent on the embedded log, whose only processor is in this process.
   */
  followDecisions?: (onValue: (value: string) => void) => Promise<{ close(): Promise<void> }>;
  /** On Kafka, the control topic's records (model activations), from now on; absent on the embedded log, whose activations happen in this process. */
  followControl?: (onValue: (value: string) => void) => Promise<{ close(): Promise<void> }>;
  /**
   * On the durable embedded log, the processor group's committed offsets and a way to move them
   * past records the store already holds (decided and stored before a crash, their commit not yet
   * persisted); absent elsewhere.
   */
  resume?: { committed(): number[]; skipTo(partition: number, offset: number): void };
  close(): Promise<void>;
}

const PROCESSOR_CONSUMER_GROUP = 'rtds-processor';

export async function openTransport(config: Config, logger: Logger): Promise<Transport> {
  const onError = (err: unknown): void =>
    logger.error({ err }, 'Kafka batch, commit or fetch failed; reading again from the committed offsets (state is restored where it ran ahead)');
  const onRebalance = (info: RebalanceInfo): void =>
    logger.info(info, 'consumer group generation joined; reading its partitions from the committed offsets (uncommitted work dropped)');
  if (config.kafkaBrokers === undefined) return openEmbeddedTransport(config, logger);
  const brokers = config.kafkaBrokers.split(',').map((b) => b.trim());
  const topics = topicNames(config.kafkaTopicPrefix);
  const created = await ensureTopics(brokers, topics, config.partitions);
  if (created.length > 0) logger.info({ topics: created, partitions: config.partitions }, 'created Kafka topics');
  const clientId = `rtds-${process.pid}`;
  const producer = new KafkaProducer({ brokers, clientId, topic: topics.events, lingerMs: config.kafkaLingerMs, batchSize: config.kafkaBatchSize, compression: config.kafkaCompression });
  // Created with the source: an API-only process has no transactions.
  let transactions: TransactionalOutput | undefined;
  let inFlight: Promise<void>[] = [];
  const publish = (fromLog: boolean, topic: string, key: string, value: string, headers?: Record<string, string>): void => {
    if (fromLog && transactions !== undefined) transactions.publish(topic, key, value, headers);
    else inFlight.push(producer.publish(topic, key, value, headers));
  };
  // Static membership only under a name the operator keeps unique: two members with one id fence each other.
  const sourceOptions = { brokers, clientId, sessionTimeoutMs: config.kafkaSessionTimeoutMs, maxRecordBytes: config.maxEventBytes, groupInstanceId: config.instanceId, onError, onRebalance };
  const follow = async (topic: string, onValue: (value: string) => void): Promise<TopicTail> => {
    const tail = new TopicTail({ brokers, clientId, topic, onValue, onError: (err) => logger.error({ err, topic }, 'following a topic failed') });
    await tail.start();
    return tail;
  };
  return {
    kind: 'kafka',
    eventsLog: topics.events,
    producer,
    source: () => {
      if (config.kafkaExactlyOnce)
        transactions = new TransactionalOutput({
          brokers,
          clientId,
          transactionalId: `${config.kafkaGroup}-${config.instanceId ?? `${hostname()}-${process.pid}`}`,
          batchSize: config.kafkaBatchSize,
          compression: config.kafkaCompression,
          transactionTimeoutMs: config.kafkaTransactionTimeoutMs,
        });
      return new KafkaRecordSource({ ...sourceOptions, groupId: config.kafkaGroup, topic: topics.events, maxWaitMs: 10, transactions });
    },
    labelSource: () => new KafkaRecordSource({ ...sourceOptions, groupId: `${config.kafkaGroup}-labels`, topic: topics.labels, maxWaitMs: 100 }),
    followDecisions: (onValue) => follow(topics.decisions, onValue),
    followControl: (onValue) => follow(topics.control, onValue),
    sideOutputs: {
      decided(event, decision) {
        publish(true, topics.decisions, event.user_id, JSON.stringify(decision));
        if (decision.late) publish(true, topics.late, event.user_id, JSON.stringify(event));
      },
      deadLetter(letter) {
        // The error travels in headers so the payload stays exactly what was received.
        publish(letter.source === 'log', topics.deadLetters, letter.event_id ?? '', letter.payload, { 'rtds.error': JSON.stringify(letter.errors), 'rtds.source': letter.source });
      },
      async settle() {
        const pending = inFlight;
        inFlight = [];
        await Promise.all(pending);
      },
    },
    close: async () => {
      await transactions?.close();
      await producer.close();
    },
  };
}

/**
 * The embedded log: kept in `<dataDir>/log` (RTDS_LOG_DURABILITY fsync or write), named once at
 * its creation, so stored positions stay valid across restarts; or in memory, named per run,
 * since each run's log starts at offset 0 again.
 */
async function openEmbeddedTransport(config: Config, logger: Logger): Promise<Transport> {
  const source = (log: PartitionedLog): RecordSource => log.consumer(PROCESSOR_CONSUMER_GROUP);
  const named = (): string => `${EMBEDDED_LOG}@${new Date().toISOString()}`;
  if (config.logDurability === 'memory') {
    const log = new PartitionedLog(config.partitions);
    return { kind: 'embedded', eventsLog: named(), producer: log, source: () => source(log), sideOutputs: undefined, close: async () => undefined };
  }
  const dir = path.join(config.dataDir, 'log');
  const started = performance.now();
  const log = await PartitionedLog.open(config.partitions, {
    dir,
    fsync: config.logDurability === 'fsync',
    newName: named,
    onRepair: (repair) => logger.warn({ dir, ...repair }, 'embedded log: cut off a write torn by a crash (never acknowledged)'),
    onCommitError: (err) => logger.error({ err, dir }, 'embedded log: persisting committed offsets failed; a restart replays more, which the store recognises'),
  });
  const committed = (): number[] => Array.from({ length: config.partitions }, (_, p) => log.committed(PROCESSOR_CONSUMER_GROUP, p));
  const undecided = committed().reduce((n, from, p) => n + log.endOffset(p) - from, 0);
  logger.info({ dir, log: log.name, durability: config.logDurability, undecided, ms: Math.round(performance.now() - started) }, 'embedded log opened');
  return {
    kind: 'embedded',
    eventsLog: log.name!,
    producer: log,
    source: () => source(log),
    sideOutputs: undefined,
    resume: { committed, skipTo: (p, offset) => log.commit(PROCESSOR_CONSUMER_GROUP, p, offset) },
    close: () => log.close(),
  };
}
