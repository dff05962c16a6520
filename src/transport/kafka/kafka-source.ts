// Reads the events topic as a member of a consumer group: what arrived is one batch, offsets committed after it is durable.
import { Consumer, stringDeserializers, type Message, type MessagesStream } from '@platformatic/kafka';
import { UndecodableRecord, type LogRecord, type RecordSource } from '../log.ts';

type KafkaMessage = Message<string, string, string, string>;

export interface KafkaSourceOptions {
  brokers: string[];
  groupId: string;
  clientId: string;
  topic: string;
  /** Longest a fetch waits for data; small keeps latency low. */
  maxWaitMs: number;
  /** A member silent this long is evicted and its partitions reassigned. */
  sessionTimeoutMs: number;
  /** A batch that could not be handled or committed; it is not committed, so it is read again. */
  onError?: (err: unknown) => void;
}

export class KafkaRecordSource implements RecordSource {
  private readonly consumer: Consumer<string, string, string, string>;
  private stream: MessagesStream<string, string, string, string> | undefined;
  private buffer: KafkaMessage[] = [];
  private draining: Promise<void> | undefined;
  private handler: ((batch: LogRecord[]) => Promise<void>) | undefined;
  private readonly endOffsets = new Map<number, bigint>();
  private readonly doneOffsets = new Map<number, bigint>();
  private stopped = false;

  constructor(private readonly options: KafkaSourceOptions) {
    this.consumer = new Consumer({
      groupId: options.groupId,
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      deserializers: stringDeserializers,
      // Only what producers committed: aborted transactions never reach the pipeline.
      isolationLevel: 1,
      maxWaitTime: options.maxWaitMs,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: 2 * options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 10)),
      // A JoinGroup waits in the broker until the rebalance completes — for a killed member, until
      // its session expires — so requests may take longer than the rebalance timeout.
      timeout: 2 * options.sessionTimeoutMs + 5000,
    });
  }

  async start(handler: (batch: LogRecord[]) => Promise<void>): Promise<void> {
    this.handler = handler;
    this.stream = await this.consumer.consume({ topics: [this.options.topic], autocommit: false, mode: 'committed', fallbackMode: 'earliest' });
    this.stream.on('data', (message: KafkaMessage) => {
      if (this.stopped) return; // uncommitted: the next owner of the partition reads it
      this.buffer.push(message);
      this.endOffsets.set(message.partition, message.offset + 1n);
      if (!this.doneOffsets.has(message.partition)) this.doneOffsets.set(message.partition, message.offset);
      this.draining ??= new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.drain())
        .catch((err: unknown) => {
          this.draining = undefined;
          this.options.onError?.(err);
        });
    });
    this.stream.on('error', (err: unknown) => this.options.onError?.(err));
  }

  lag(): number {
    let lag = 0n;
    // Records fetched but not yet committed, buffered ones included.
    for (const [p, end] of this.endOffsets) lag += end - this.doneOffsets.get(p)!;
    return Number(lag);
  }

  /**
   * Hand everything that arrived to the handler as one batch (each partition's records stay in
   * offset order), then commit each partition's last offset. The handler resolves only when its
   * results are durable, so a crash before the commit replays the batch: at least once, and the
   * store's keys make the replay harmless.
   */
  private async drain(): Promise<void> {
    const stream = this.stream!;
    while (this.buffer.length > 0 && !this.stopped) {
      const messages = this.buffer;
      this.buffer = [];
      stream.pause();
      await this.handler!(messages.map(toRecord));
      const last = new Map<number, KafkaMessage>();
      for (const m of messages) last.set(m.partition, m);
      await Promise.all([...last.values()].map((m) => m.commit()));
      for (const [partition, m] of last) this.doneOffsets.set(partition, m.offset + 1n);
      stream.resume();
    }
    this.draining = undefined;
  }

  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.stream?.pause();
    if (options.drain === true) await this.draining;
    this.stopped = true;
    await this.stream?.close();
    await this.consumer.close(true);
  }
}

function toRecord(m: KafkaMessage): LogRecord {
  let value: unknown;
  try {
    value = JSON.parse(m.value);
  } catch (err) {
    value = new UndecodableRecord(m.value, `value is not valid JSON: ${(err as Error).message}`);
  }
  return { partition: m.partition, offset: Number(m.offset), key: m.key, value, acceptedAt: Number(m.timestamp) };
}
