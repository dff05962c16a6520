// Where `rtds capture` records from: a running RTDS's stream of the traffic it takes in, or Kafka's events (and labels) topic read committed.
import http from 'node:http';
import https from 'node:https';
import { ConfigError, type Config } from '../config/index.ts';
import { jsonLine, labelLine } from '../ingest/recording.ts';
import { TopicTail } from '../transport/kafka/topic-tail.ts';
import { topicNames } from '../transport/kafka/topics.ts';

/** Receives each recorded line (without its newline); the source reads on once it resolves. */
export type LineHandler = (line: string) => Promise<void>;

export interface CaptureSource {
  /** What is recorded, for people. */
  readonly describe: string;
  /** Resolves once recording: every line taken in from then on goes to `onLine`, in order. */
  start(onLine: LineHandler): Promise<void>;
  /** Settles when the source stops by itself: with why, or rejected with how it failed. */
  readonly ended: Promise<string>;
  close(): Promise<void>;
}

/** A source that could not start or broke off: one line for the user. */
export class CaptureSourceError extends Error {
  override readonly name = 'CaptureSourceError';
}

/** How a source says it stopped by itself. */
function endings(): { ended: Promise<string>; end: (why: string) => void; fail: (err: unknown) => void } {
  let end!: (why: string) => void;
  let fail!: (err: unknown) => void;
  const ended = new Promise<string>((resolve, reject) => ((end = resolve), (fail = reject)));
  // Observed by whoever awaits it; a failure before anyone does must not end the process.
  ended.catch(() => undefined);
  return { ended, end, fail };
}

/** GET /api/v1/capture of a running RTDS (`base`: its URL), with its labels when asked. */
export function instanceSource(base: string, labels: boolean, apiKey: string | undefined): CaptureSource {
  const url = new URL(`${base}/api/v1/capture${labels ? '?labels=true' : ''}`);
  const { ended, end, fail } = endings();
  let request: http.ClientRequest | undefined;
  let closing = false;
  return {
    describe: `${base}: the events${labels ? ' and labels' : ''} it accepts`,
    ended,
    async start(onLine) {
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        request = (url.protocol === 'https:' ? https : http).get(url, { headers: apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` } }, resolve);
        request.on('error', (err) => reject(new CaptureSourceError(`cannot reach ${base}: ${err.message}`)));
      });
      if (response.statusCode !== 200) {
        const body = await readText(response);
        request?.destroy();
        const hint = response.statusCode === 401 || response.statusCode === 403 ? ' (a key with the read role: --api-key)' : '';
        throw new CaptureSourceError(`${url.href} answered ${response.statusCode}${hint}: ${body.slice(0, 300)}`);
      }
      // An instance that vanished without closing the connection is noticed.
      response.socket.setKeepAlive(true, 10_000);
      readLines(response, onLine).then(
        () => end('the instance closed the stream (it is stopping)'),
        (err: Error) => (closing ? end('stopped') : fail(new CaptureSourceError(`the stream from ${base} broke off (${err.message}): the instance cuts off a recorder that falls 32 MiB behind, or the connection failed`))),
      );
    },
    async close() {
      closing = true;
      request?.destroy();
    },
  };
}

/** Splits a response into lines (blank ones skipped), waiting for each to be handled before reading on. */
async function readLines(response: http.IncomingMessage, onLine: LineHandler): Promise<void> {
  response.setEncoding('utf8');
  let rest = '';
  for await (const chunk of response as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line !== '') await onLine(line);
  }
  if (!response.complete) throw new Error('the response ended before it was complete');
}

async function readText(response: http.IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response as AsyncIterable<string>) text += chunk;
  return text;
}

/**
 * The events topic (`topic`, default `<prefix>events`) on RTDS_KAFKA_BROKERS, and with `labels`
 * `<prefix>labels`, read committed from now on by consumers in groups of their own (the
 * processors' offsets are untouched). Each value becomes one line as it was produced.
 */
export function kafkaSource(config: Config, topic: string | undefined, labels: boolean): CaptureSource {
  if (config.kafkaBrokers === undefined) throw new ConfigError('RTDS_KAFKA_BROKERS', '', '--from kafka needs the brokers');
  const brokers = config.kafkaBrokers.split(',').map((b) => b.trim());
  const topics = topicNames(config.kafkaTopicPrefix);
  const eventsTopic = topic ?? topics.events;
  const { ended, end, fail } = endings();
  const tails: TopicTail[] = [];
  return {
    describe: `Kafka ${eventsTopic}${labels ? ` and ${topics.labels}` : ''}, read committed`,
    ended,
    async start(onLine) {
      const follow = async (name: string, line: (value: string) => string): Promise<void> => {
        const tail = new TopicTail({
          brokers,
          clientId: `rtds-capture-${process.pid}`,
          topic: name,
          // A record without a value (a tombstone) is no event; it is kept as an empty string.
          onValue: (value) => onLine(line(jsonLine(value ?? ''))),
          onError: (err) => fail(new CaptureSourceError(`reading ${name} failed: ${(err as Error).message}`)),
        });
        tails.push(tail);
        await tail.start();
      };
      // Both positioned before the recording is said to begin.
      await Promise.all([follow(eventsTopic, (json) => json), ...(labels ? [follow(topics.labels, labelLine)] : [])]);
    },
    async close() {
      await Promise.all(tails.map((tail) => tail.close()));
      end('stopped');
    },
  };
}
