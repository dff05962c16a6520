// What `rtds generate` and `rtds replay` share: where traffic goes (a running RTDS over HTTP, or Kafka), and how they read options, count and stop.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, type Config } from '../config/index.ts';
import { contractHeaders, type EventInput, type Label } from '../contracts/index.ts';
import { KafkaProducer } from '../transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames, type TopicNames } from '../transport/kafka/topics.ts';

/** A running RTDS that --target names does not answer, or answers with a failure. */
export class TargetUnreachableError extends Error {
  override readonly name = 'TargetUnreachableError';
}

export interface PostOptions {
  /** Answers besides 2xx that still mean the server took the batch, e.g. 400 from /api/v1/events when it dead-lettered every element. */
  accept?: readonly number[];
}

/**
 * POSTs a JSON array — values, or the array's JSON text when the caller must send it untouched;
 * retries a few times when the server is unreachable or asks to back off (503/429).
 */
export async function postJson(url: string, body: readonly unknown[] | string, options: PostOptions = {}): Promise<void> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  for (let attempt = 0; ; attempt++) {
    const retryable = attempt < 3;
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
    } catch (err) {
      if (retryable) {
        await sleep(200 * 2 ** attempt);
        continue;
      }
      throw new TargetUnreachableError(`cannot reach ${new URL(url).origin} (--target): ${networkProblem(err)}`, { cause: err });
    }
    if (response.ok || options.accept?.includes(response.status) === true) {
      await response.arrayBuffer(); // read the body so the connection goes back to the pool
      return;
    }
    const text = await response.text();
    if (retryable && (response.status === 503 || response.status === 429)) {
      await sleep(200 * 2 ** attempt);
      continue;
    }
    throw new TargetUnreachableError(`POST ${url} answered ${response.status}: ${text.slice(0, 300).replace(/\s+/g, ' ')}`);
  }
}

/** What fetch says went wrong, from its cause (fetch's own message is only "fetch failed"). */
function networkProblem(err: unknown): string {
  let cause: unknown = (err as { cause?: unknown }).cause ?? err;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const { code, message } = cause as { code?: unknown; message?: unknown };
  const words = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'no such host' : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connection timed out' : typeof message === 'string' && message !== '' ? message : 'no answer';
  return typeof code === 'string' ? `${words} (${code})` : words;
}

/** A Kafka record as it goes on the wire. */
export interface TrafficRecord {
  key: string;
  value: string;
}

/** Events and labels straight onto the contract's topics, as any producer of the organisation would write them. */
export class KafkaTraffic {
  private readonly producer: KafkaProducer;
  private readonly topics: TopicNames;
  /** The topics exist before the first send (created as RTDS itself would). */
  private readonly created: Promise<unknown>;

  constructor(config: Config, command: 'generate' | 'replay') {
    if (config.kafkaBrokers === undefined) throw new ConfigError('RTDS_KAFKA_BROKERS', '', '--target kafka needs the brokers');
    const brokers = config.kafkaBrokers.split(',').map((b) => b.trim());
    this.topics = topicNames(config.kafkaTopicPrefix);
    this.created = ensureTopics(brokers, this.topics, config.partitions);
    this.producer = new KafkaProducer({
      brokers,
      clientId: `rtds-${command}-${process.pid}`,
      topic: this.topics.events,
      lingerMs: config.kafkaLingerMs,
      batchSize: config.kafkaBatchSize,
      compression: config.kafkaCompression,
    });
  }

  /** Contract events keyed by user_id, then labels keyed by event_id, each stamped with its contract's version. */
  async deliver(events: readonly EventInput[], labels: readonly Label[]): Promise<void> {
    await this.created;
    const sent: Promise<void>[] = events.map((e) => this.producer.append(e.user_id, e));
    for (const l of labels) sent.push(this.producer.publish(this.topics.labels, l.event_id, JSON.stringify(l), contractHeaders('label')));
    await Promise.all(sent);
  }

  /** Records whose values go out untouched, whatever they hold; RTDS dead-letters those that break the contract. */
  async deliverRecords(events: readonly TrafficRecord[], labels: readonly TrafficRecord[]): Promise<void> {
    await this.created;
    const sent: Promise<void>[] = events.map((r) => this.producer.publish(this.topics.events, r.key, r.value));
    for (const r of labels) sent.push(this.producer.publish(this.topics.labels, r.key, r.value));
    await Promise.all(sent);
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

/** "12,345 events (4,115/s)" */
export function counted(n: number, noun: string, elapsedMs: number): string {
  const perSecond = elapsedMs > 0 ? Math.round((n * 1000) / elapsedMs) : 0;
  return `${n.toLocaleString('en-US')} ${noun} (${perSecond.toLocaleString('en-US')}/s)`;
}

/** The first Ctrl-C (or SIGTERM) asks the command to stop after delivering what it holds; a second one exits at once. */
export class Interruption {
  private readonly controller = new AbortController();
  private readonly onSignal = (): void => {
    if (this.requested) process.exit(130); // the user does not want to wait for the flush
    this.controller.abort();
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get requested(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborted on the first Ctrl-C, to cut a wait short. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  release(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
