// The processor's writes to Kafka in exactly-once mode: a batch's outputs and its consumed offsets commit together.
import type { Consumer, Message, MessageToProduce, Producer } from '@platformatic/kafka';
import { idempotentProducer, type Compression } from './kafka-producer.ts';

/** The client does not export its Transaction class by name. */
type Transaction = Awaited<ReturnType<Producer<string, string, string, string>['beginTransaction']>>;

type Outgoing = MessageToProduce<string, string, string, string>;

export interface TransactionalOutputOptions {
  brokers: string[];
  clientId: string;
  /** Stable per processor instance: a restarted instance with the same id fences its predecessor. */
  transactionalId: string;
  /** Records per produce request at most (bounded also by the broker's message size limit). */
  batchSize: number;
  compression: Compression;
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
  private transaction: Transaction | undefined;
  /** Sends of the open transaction, in order. */
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly options: TransactionalOutputOptions) {
    this.producer = idempotentProducer({
      brokers: options.brokers,
      clientId: options.clientId,
      compression: options.compression,
      transactionalId: options.transactionalId,
      // Sent to the broker as the transaction timeout, and used as the request timeout.
      timeout: options.transactionTimeoutMs,
    });
  }

  publish(topic: string, key: string, value: string, headers?: Record<string, string>): void {
    const message: Outgoing = { topic, key, value };
    if (headers !== undefined) message.headers = headers;
    this.pending.push(message);
  }

  /**
   * Send what was published so far inside the open transaction (begun if needed), so the
   * records travel while the store writes the batch; they stay invisible until `commit`.
   */
  send(): Promise<void> {
    const records = this.pending;
    this.pending = [];
    this.sending = this.sending.then(async () => {
      const tx = await this.open();
      // In order and one request at a time: concurrent idempotent sends lose records (see
      // KafkaProducer), and one request for a large batch exceeds the broker's message size.
      for (let i = 0; i < records.length; i += this.options.batchSize) await tx.send({ messages: records.slice(i, i + this.options.batchSize) });
    });
    return this.sending;
  }

  /** Commit the batch's records and, for each partition, the offset after `last` of it. */
  async commit(consumer: Consumer<string, string, string, string>, last: Iterable<Message<string, string, string, string>>): Promise<void> {
    try {
      await this.send();
      const tx = await this.open();
      await tx.addConsumer(consumer);
      // One at a time as well: the client merges concurrent offset commits into the first one.
      for (const m of last) await tx.addOffset(m);
      await tx.commit();
      this.transaction = undefined;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drop the failed batch's records and abort its transaction: the batch will be handled again. */
  async abort(): Promise<void> {
    this.pending = [];
    this.sending = Promise.resolve();
    const tx = this.transaction;
    this.transaction = undefined;
    // When the broker is unreachable the abort fails too; the broker aborts at the timeout.
    if (tx !== undefined && !tx.completed) await tx.abort().catch(() => tx.cancel());
  }

  async close(): Promise<void> {
    await this.abort();
    await this.producer.close();
  }

  private async open(): Promise<Transaction> {
    this.transaction ??= await this.producer.beginTransaction();
    return this.transaction;
  }
}
