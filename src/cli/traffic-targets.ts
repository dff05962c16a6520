// What `rtds generate` and `rtds replay` share: where traffic goes (a running RTDS over HTTP, or Kafka), and how they read options, count and stop.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, type Config } from '../config/index.ts';
import { contractHeaders, type EventInput, type Label } from '../contracts/index.ts';
import { KafkaProducer } from '../transport/kafka/kafka-producer.ts';
import { ensureTopics, topicNames, type TopicNames } from '../transport/kafka/topics.ts';
import { CommandError, EXIT_USAGE } from './command-error.ts';

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
      throw new Error(`POST ${url} failed: ${(err as Error).message}`, { cause: err });
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
    throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  }
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

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Strictly above zero (a rate or a duration). */
  positive?: boolean;
}

/** Reads a traffic command's options; every usage error names the command and its --help. */
export class CommandOptions {
  constructor(private readonly command: 'generate' | 'replay' | 'capture') {}

  usage(message: string): CommandError {
    return new CommandError(`rtds ${this.command}: ${message} (see rtds ${this.command} --help)`, EXIT_USAGE);
  }

  number(name: string, raw: string | undefined, rule: NumberRule): number | undefined {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    const { min = -Infinity, max = Infinity, integer = false, positive = false } = rule;
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)) || (positive && n <= 0)) {
      const bounds = [positive ? '> 0' : '', min === -Infinity ? '' : `≥ ${min}`, max === Infinity ? '' : `≤ ${max}`].filter((b) => b !== '');
      throw this.usage(`--${name} must be ${integer ? 'an integer' : 'a number'}${bounds.length === 0 ? '' : ` ${bounds.join(' and ')}`}, got "${raw}"`);
    }
    return n;
  }

  /** `--target` (or `--from`): "kafka", or a base URL without its trailing slashes. */
  target(raw: string | undefined, flag = 'target'): string | undefined {
    const target = raw?.replace(/\/+$/, '');
    if (target !== undefined && target !== 'kafka' && !/^https?:\/\//.test(target)) throw this.usage(`--${flag} must be an http(s) URL or kafka, got ${target}`);
    return target;
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
