// Follows a topic from now on, read committed: how an API process sees every decision any processor commits.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { stringDeserializers, type Message, type MessagesStream } from '@platformatic/kafka';
import { ReadCommittedConsumer } from './read-committed-consumer.ts';
import { RETRY } from './retry.ts';

export interface TopicTailOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Each record's value; when it returns a promise, the tail reads on once it settles (a slow writer slows the reading). */
  onValue: (value: string) => void | Promise<void>;
  onError: (err: unknown) => void;
}

/**
 * A consumer in a group of its own (every API process sees every record, none is shared out),
 * starting at the end: what is committed from now on. Offsets are never committed — a restarted
 * process follows from its new start, as a live view should.
 */
export class TopicTail {
  private readonly consumer: ReadCommittedConsumer;
  private stream: MessagesStream<string, string, string, string> | undefined;

  constructor(private readonly options: TopicTailOptions) {
    this.consumer = new ReadCommittedConsumer({
      groupId: `rtds-tail-${randomUUID()}`,
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      deserializers: stringDeserializers,
      isolationLevel: 1,
      maxWaitTime: 5,
      ...RETRY,
    });
  }

  /** Resolves once the tail's position is fixed: every record committed after that is seen. */
  async start(): Promise<void> {
    this.stream = await this.consumer.consume({ topics: [this.options.topic], mode: 'latest', autocommit: false });
    // The stream looks up the end of the topic after it is handed over; a record written before
    // that lookup would be skipped, so a caller that announces right after start must wait for it.
    const positioned = once(this.stream, 'offsets');
    const stream = this.stream;
    stream.on('data', (m: Message<string, string, string, string>) => {
      const handled = this.options.onValue(m.value);
      if (handled === undefined) return;
      stream.pause();
      handled.then(() => stream.resume(), this.options.onError);
    });
    this.stream.on('error', this.options.onError);
    await positioned;
  }

  async close(): Promise<void> {
    await this.stream?.close();
    await this.consumer.close(true);
  }
}
