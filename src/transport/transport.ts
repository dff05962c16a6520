// Chooses the transport from the configuration: the embedded log, or Kafka with its side-output topics.
import { hostname } from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.ts';
import type { Logger, PipelineMetrics } from '../observe/index.ts';
import { EMBEDDED_LOG } from '../store/index.ts';
import { PartitionedLog } from './embedded/partitioned-log.ts';
import { ConsumerGroups, type GroupView } from './kafka/consumer-groups.ts';
import { KafkaProducer } from './kafka/kafka-producer.ts';
import { KafkaRecordSource, type RebalanceInfo } from './kafka/kafka-source.ts';
import { TopicTail } from './kafka/topic-tail.ts';
import { replayPartition } from './kafka/partition-replay.ts';
import { ensureTopics, ensureTopicSpecs, topicNames, type TopicNames } from './kafka/topics.ts';
import { TransactionalOutput } from './kafka/transactional-output.ts';
import { decodeRecordValue, type EventLogProducer, type Publish, type RecordSource } from './log.ts';

export type { GroupView } from './kafka/consumer-groups.ts';

/** One stage's input in this process, and how its batches publish (in their transaction when exactly-once). */
export interface StageIO {
  source: RecordSource;
  publish: Publish | undefined;
}

export interface Transport {
  kind: 'embedded' | 'kafka';
  /** Name of the events log (the topic on Kafka): stored with each event's position. */
  eventsLog: string;
  producer: EventLogProducer;
  /** On Kafka, the topics besides the events log: where decisions, dead letters and late events go. */
  topics: TopicNames | undefined;
  /**
   * A stage's input — the events log for the user stage (consumer group RTDS_KAFKA_GROUP), a
   * repartition topic for the others (group `<RTDS_KAFKA_GROUP>.<stage>`) — created on demand,
   * since an API-only process has none. The embedded log has one stage input: the events log.
   */
  stage(input: string, group: string, maxRecordBytes: number): StageIO;
  /** Publish outside any batch (what the HTTP edge refuses), at least once; absent on the embedded log. */
  publish: Publish | undefined;
  /** Resolves when everything published outside a transaction so far is acknowledged. */
  settle(): Promise<void>;
  /**
   * On Kafka, read back a stage input's partition up to `end` (the stage's committed offset),
   * committed records only: how a stage past the first restores its state.
   */
  replay?: (topic: string, partition: number, end: number, onRecord: (value: unknown) => void) => Promise<number>;
  /** On Kafka, the labels topic read by the processors' group, committed once stored; absent on the embedded log. */
  labelSource?: () => RecordSource;
  /**
   * On Kafka, the committed decisions of every processor (each value a published decision), from
   * now on; absent on the embedded log, whose only processor is in this process.
   */
  followDecisions?: (onValue: (value: string) => void) => Promise<{ close(): Promise<void> }>;
  /** On Kafka, the named consumer groups as their coordinator sees them: each processor and the partitions it owns. */
  describeGroups?: (groups: readonly string[]) => Promise<GroupView[]>;
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

/**
 * Open the configured transport. On Kafka the contract's topics and the topology's repartition
 * topics (`repartition`: their names and the retention each stage's restore needs) are created
 * when missing. `metrics` counts the transport's failures and, on Kafka, its transactions.
 */
export async function openTransport(config: Config, logger: Logger, metrics: PipelineMetrics, repartition: readonly { topic: string; retentionMs: number }[] = []): Promise<Transport> {
  const onError = (err: unknown): void => {
    metrics.failed('kafka');
    logger.error({ err }, 'Kafka batch, commit or fetch failed; reading again from the committed offsets (state is restored where it ran ahead)');
  };
  const onRebalance = (info: RebalanceInfo): void =>
    logger.info(info, 'consumer group generation joined; reading its partitions from the committed offsets (uncommitted work dropped)');
  if (config.kafkaBrokers === undefined) return openEmbeddedTransport(config, logger, metrics);
  const brokers = config.kafkaBrokers.split(',').map((b) => b.trim());
  const topics = topicNames(config.kafkaTopicPrefix);
  const created = await ensureTopics(brokers, topics, config.partitions);
  if (created.length > 0) logger.info({ topics: created, partitions: config.partitions }, 'created Kafka topics');
  if (repartition.length > 0) {
    const ensured = await ensureTopicSpecs(
      brokers,
      repartition.map((r) => ({ name: r.topic, partitions: config.partitions, configs: { 'retention.ms': String(r.retentionMs), 'cleanup.policy': 'delete' } })),
    );
    if (ensured.created.length > 0) logger.info({ topics: ensured.created, partitions: config.partitions }, 'created repartition topics');
    if (ensured.altered.length > 0) logger.warn({ topics: ensured.altered }, "set repartition topics' retention and cleanup policy to cover the stages' restore");
  }
  const clientId = `rtds-${process.pid}`;
  const producer = new KafkaProducer({ brokers, clientId, topic: topics.events, lingerMs: config.kafkaLingerMs, batchSize: config.kafkaBatchSize, compression: config.kafkaCompression });
  // One per stage source: an API-only process has no transactions.
  const transactions: TransactionalOutput[] = [];
  let inFlight: Promise<void>[] = [];
  const atLeastOnce: Publish = (topic, key, value, headers, partition) => void inFlight.push(producer.publish(topic, key, value, headers, partition));
  // Static membership only under a name the operator keeps unique: two members with one id fence each other.
  const sourceOptions = { brokers, clientId, sessionTimeoutMs: config.kafkaSessionTimeoutMs, maxRecordBytes: config.maxEventBytes, groupInstanceId: config.instanceId, onError, onRebalance };
  const follow = async (topic: string, onValue: (value: string) => void): Promise<TopicTail> => {
    const tail = new TopicTail({
      brokers,
      clientId,
      topic,
      onValue,
      onError: (err) => {
        metrics.failed('kafka');
        logger.error({ err, topic }, 'following a topic failed');
      },
    });
    await tail.start();
    return tail;
  };
  const consumerGroups = new ConsumerGroups(brokers, `${clientId}-groups`);
  return {
    kind: 'kafka',
    eventsLog: topics.events,
    producer,
    topics,
    stage: (input, group, maxRecordBytes) => {
      const output = config.kafkaExactlyOnce
        ? new TransactionalOutput({
            brokers,
            clientId,
            // Per stage and instance: a restarted instance fences its predecessor's open transactions.
            transactionalId: `${group}-${config.instanceId ?? `${hostname()}-${process.pid}`}`,
            batchSize: config.kafkaBatchSize,
            compression: config.kafkaCompression,
            transactionTimeoutMs: config.kafkaTransactionTimeoutMs,
            onCommitted: (seconds) => metrics.kafkaTransactions.observe(seconds),
            onAborted: () => metrics.kafkaTransactionAborts.inc(),
          })
        : undefined;
      if (output !== undefined) transactions.push(output);
      const source = new KafkaRecordSource({ ...sourceOptions, maxRecordBytes, groupId: group, topic: input, maxWaitMs: 10, transactions: output, transactionalInput: config.kafkaExactlyOnce && input !== topics.events });
      const publish: Publish = output === undefined ? atLeastOnce : (topic, key, value, headers, partition) => output.publish(topic, key, value, headers, partition);
      return { source, publish };
    },
    publish: atLeastOnce,
    async settle() {
      const pending = inFlight;
      inFlight = [];
      await Promise.all(pending);
    },
    replay: async (topic, partition, end, onRecord) => {
      const { records } = await replayPartition({
        brokers,
        clientId,
        topic,
        partition,
        end: BigInt(end),
        stallTimeoutMs: config.kafkaTransactionTimeoutMs + 5000,
        onRecords: (batch) => {
          for (const r of batch) if (r.value !== undefined) onRecord(decodeRecordValue(r.value, Number.MAX_SAFE_INTEGER));
        },
      });
      return records;
    },
    labelSource: () => new KafkaRecordSource({ ...sourceOptions, groupId: `${config.kafkaGroup}-labels`, topic: topics.labels, maxWaitMs: 100 }),
    followDecisions: (onValue) => follow(topics.decisions, onValue),
    followControl: (onValue) => follow(topics.control, onValue),
    describeGroups: (groups) => consumerGroups.describe(groups),
    close: async () => {
      await consumerGroups.close();
      for (const output of transactions) await output.close();
      await producer.close();
    },
  };
}

/**
 * The embedded log: kept in `<dataDir>/log` (RTDS_LOG_DURABILITY fsync or write), named once at
 * its creation, so stored positions stay valid across restarts; or in memory, named per run,
 * since each run's log starts at offset 0 again.
 */
async function openEmbeddedTransport(config: Config, logger: Logger, metrics: PipelineMetrics): Promise<Transport> {
  const stage = (log: PartitionedLog) => (): StageIO => ({ source: log.consumer(PROCESSOR_CONSUMER_GROUP), publish: undefined });
  const quiet = { topics: undefined, publish: undefined, settle: async () => undefined };
  const named = (): string => `${EMBEDDED_LOG}@${new Date().toISOString()}`;
  if (config.logDurability === 'memory') {
    const log = new PartitionedLog(config.partitions);
    return { kind: 'embedded', eventsLog: named(), producer: log, stage: stage(log), ...quiet, close: async () => undefined };
  }
  const dir = path.join(config.dataDir, 'log');
  const started = performance.now();
  const log = await PartitionedLog.open(config.partitions, {
    dir,
    fsync: config.logDurability === 'fsync',
    newName: named,
    onRepair: (repair) => logger.warn({ dir, ...repair }, 'embedded log: cut off a write torn by a crash (never acknowledged)'),
    onCommitError: (err) => {
      metrics.failed('log');
      logger.error({ err, dir }, 'embedded log: persisting committed offsets failed; a restart replays more, which the store recognises');
    },
  });
  const committed = (): number[] => Array.from({ length: config.partitions }, (_, p) => log.committed(PROCESSOR_CONSUMER_GROUP, p));
  const undecided = committed().reduce((n, from, p) => n + log.endOffset(p) - from, 0);
  logger.info({ dir, log: log.name, durability: config.logDurability, undecided, ms: Math.round(performance.now() - started) }, 'embedded log opened');
  return {
    kind: 'embedded',
    eventsLog: log.name!,
    producer: log,
    stage: stage(log),
    ...quiet,
    resume: { committed, skipTo: (p, offset) => log.commit(PROCESSOR_CONSUMER_GROUP, p, offset) },
    close: () => log.close(),
  };
}
