// The processor's writes to Kafka in exactly-once mode: a batch's outputs and its consumed offsets commit together.
import { compatibilityPartitioner, Producer, stringSerializers, type Consumer, type Message, type MessageToProduce } from '@platformatic/kafka';
import { RETRY } from './retry.ts';

type Outgoing = MessageToProduce<string, string, string, string>;

export interface TransactionalOutputOptions {
  brokers: string[];
  clientId: string;
  /** Stable per processor instance: a restarted instance with the same id fences its predecessor. */
  transactionalId: string;
  /** Records per produce request at most (bounded also by the broker's message size limit). */
  batchSize: number;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** An open transaction older than this is aborted by the broker (a processor that died mid-batch). */
  transactionTimeoutMs: number;
}

/**
 * Collects what the processor publishes while it handles a batch, then commits it in one Kafka
 * transaction with the batch's consumed offsets (KIP-447: the offsets carry the consumer's group
 * generation, so a processor that lost its partitions in a rebalance cannot commit them). Readers
 * with isolation read_committed see a batch's decisions all at once or never.
 */
export class TransactionalOutput {
  private readonly producer: Producer<string, string, string, string>;
  private pending: Outgoing[] = [];

  constructor(private readonly options: TransactionalOutputOptions) {
    this.producer = new Producer({
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: -1,
      transactionalId: options.transactionalId,
      compression: options.compression,
      autocreateTopics: false,
      partitioner: compatibilityPartitioner,
      // Sent to the broker as the transaction timeout, and used as the request timeout.
      timeout: options.transactionTimeoutMs,
      ...RETRY,
    });
  }

  publish(topic: string, key: string, value: string, headers?: Record<string, string>): void {
    const message: Outgoing = { topic, key, value };
    if (headers !== undefined) message.headers = headers;
    this.pending.push(message);
  }

  /** Forget what the failed batch published: it will be handled again. */
  discard(): void {
    this.pending = [];
  }

  /** Commit the batch's records and, for each partition, the offset after `last` of it. */
  async commit(consumer: Consumer<string, string, string, string>, last: Iterable<Message<string, string, string, string>>): Promise<void> {
    const records = this.pending;
    this.pending = [];
    const tx = await this.producer.beginTransaction();
    try {
      // In order and one request at a time: concurrent idempotent sends lose records (see
      // KafkaProducer), and one request for a large batch exceeds the broker's message size.
      for (let i = 0; i < records.length; i += this.options.batchSize) await tx.send({ messages: records.slice(i, i + this.options.batchSize) });
      await tx.addConsumer(consumer);
      // One at a time as well: the client merges concurrent offset commits into the first one.
      for (const m of last) await tx.addOffset(m);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => tx.cancel());
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
