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
  /** A transaction committed, `seconds` after it began. */
  onCommitted?: (seconds: number) => void;
  /** An open transaction aborted. */
  onAborted?: () => void;
}

/**
 * Collects what the processor publishes while it handles batches, then commits it in one Kafka
 * transaction with the batches' consumed offsets (KIP-447: the offsets carry the consumer's group
 * generation, so a processor that lost its partitions in a rebalance cannot commit them). Readers
 * with isolation read_committed see a batch's decisions all at once or never.
 */
export class TransactionalOutput {
  private producer: Producer<string, string, string, string>;
  /** Published by the batch being handled. */
  private current: Outgoing[] = [];
  /** Published by handled batches, for the next transaction. */
  private sealed: Outgoing[] = [];
  private transaction: Transaction | undefined;
  /** Producers replaced after an abort: each gets a transactional id (and so a producer id) of its own. */
  private incarnation = 0;

  constructor(private readonly options: TransactionalOutputOptions) {
    this.producer = this.newProducer();
  }

  private newProducer(): Producer<string, string, string, string> {
    return idempotentProducer({
      brokers: this.options.brokers,
      clientId: this.options.clientId,
      compression: this.options.compression,
      transactionalId: this.incarnation === 0 ? this.options.transactionalId : `${this.options.transactionalId}.${this.incarnation}`,
      // Sent to the broker as the transaction timeout, and used as the request timeout.
      timeout: this.options.transactionTimeoutMs,
    });
  }

  publish(topic: string, key: string, value: string, headers?: Record<string, string>, partition?: number): void {
    const message: Outgoing = { topic, key, value };
    if (headers !== undefined) message.headers = headers;
    if (partition !== undefined) message.partition = partition;
    this.current.push(message);
  }

  /**
   * The batch being handled is done: what it published goes into the next `commit`, together
   * with its offsets. Called by the source between two batches.
   */
  seal(): void {
    for (const m of this.current) this.sealed.push(m);
    this.current = [];
  }

  /**
   * One transaction: what the sealed batches published, and for each partition the offset after
   * `last` of it, once `stored` (the store's write of those batches) resolved. The transaction
   * opens only then, so a slow store cannot keep it open past its timeout (the broker would abort
   * it and fence the producer). One commit at a time.
   */
  async commit(consumer: Consumer<string, string, string, string>, last: Iterable<Message<string, string, string, string>>, stored: Promise<void>): Promise<void> {
    const records = this.sealed;
    this.sealed = [];
    try {
      await stored;
      const began = performance.now();
      const tx = await this.producer.beginTransaction();
      this.transaction = tx;
      await this.send(tx, records);
      await tx.addConsumer(consumer);
      // One at a time: the client merges concurrent offset commits into the first one.
      for (const m of last) await tx.addOffset(m);
      await tx.commit();
      this.transaction = undefined;
      this.options.onCommitted?.((performance.now() - began) / 1000);
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drop what the batch being handled published: it will be handled again. The transaction under way, if any, goes on. */
  discard(): void {
    this.current = [];
  }

  /** Drop what uncommitted batches published and abort the open transaction: they will be handled again. Only once no commit is sending. */
  async abort(): Promise<void> {
    this.current = [];
    this.sealed = [];
    const tx = this.transaction;
    this.transaction = undefined;
    if (tx === undefined || tx.completed) return;
    this.options.onAborted?.();
    try {
      await tx.abort();
    } catch {
      // The broker may still hold the transaction open (unreachable, or a request in flight):
      // the client's cancel only forgets it, and the next transaction on this producer would
      // commit it too. The broker aborts it when its timeout passes.
      await tx.cancel().catch(() => undefined);
    }
    // The next transaction goes on a producer of its own. @platformatic/kafka's read_committed
    // consumer keeps one aborted range per producer id in a fetch, so the records of a second
    // aborted transaction of one producer in the same fetch would reach the next stage (measured:
    // test/transport/committed-records). One abort per producer id keeps every reader's filter whole.
    const stale = this.producer;
    this.incarnation++;
    this.producer = this.newProducer();
    await stale.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.abort();
    await this.producer.close();
  }

  /**
   * In order and one request at a time: concurrent idempotent sends lose records (see
   * KafkaProducer), and one request for a large batch exceeds the broker's message size.
   */
  private async send(tx: Transaction, records: Outgoing[]): Promise<void> {
    for (let i = 0; i < records.length; i += this.options.batchSize) await tx.send({ messages: records.slice(i, i + this.options.batchSize) });
  }
}
