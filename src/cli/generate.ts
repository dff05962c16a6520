// `rtds generate`: labelled synthetic traffic to a file, stdout or a running RTDS — as fast as possible or at a set pace.
import { loadConfig } from '../config/index.ts';
import { eventTimeRateOf, isoTimestamp, pace, TrafficGenerator, type GeneratedEvent, type TrafficOptions } from '../ingest/generator/index.ts';
import { LineSink } from './line-sink.ts';
import { CommandLine } from './command-line.ts';
import { Progress } from './progress.ts';
import { counted, Interruption, KafkaTraffic, postJson } from './traffic-targets.ts';

export const GENERATE_HELP = `Usage: rtds generate [options]

Labelled synthetic traffic: users with habits, and fraud attacks (card testing, account
takeover, impossible travel, amount spikes, a compromised merchant) mixed in at --fraud-rate.
Events are contract JSON, one per line. The same --seed and --start give the same events.

Where events go
  --out <file>           JSONL file of events (default: stdout, unless --target is given)
  --labels <file>        JSONL file of labels {"event_id","is_fraud","labeled_at"}, one per event;
                         labeled_at is when the truth surfaces: a chargeback 1–14 days after a
                         fraud, 14 days (the end of the chargeback window) after a genuine event
                         — for events ending now, a time ahead of the clock
  --with-labels          instead of bare events, write {"event":…,"label":…,"scenario":…} per line
                         (scenario: normal, card_testing, account_takeover, …); excludes --labels
  --target <url>         base URL of a running RTDS (e.g. http://127.0.0.1:8501): events are
                         POSTed as JSON arrays to /api/v1/events, then their labels to /api/v1/labels
  --target kafka         produce events to <prefix>events (key user_id) and labels to
                         <prefix>labels (key event_id) on RTDS_KAFKA_BROKERS
  --skip-labels          with --target: do not POST labels

How much, how fast
  --count <n>            stop after n events
  --duration <seconds>   stop after this much wall-clock time
  --rate <events/s>      pace output to this many events per wall-clock second (default: as fast
                         as possible). When paced, event time follows the wall clock: it starts now
                         and advances at the same rate with no day/night rhythm, unless --start /
                         --event-time-rate say otherwise; attacks already under way at the start
                         (seen mid-way) keep the fraud share right from the first second.
  A file needs --count or --duration; stdout and --target run until Ctrl-C, which flushes and exits.

Traffic
  --seed <n>             random seed (default 42)
  --users <n>            users at the start (default 2000; sign-ups add more)
  --fraud-rate <r>       share of events that belong to an attack, 0–0.5 (default 0.025)
  --start <time>         event time of the first event: RFC 3339, epoch ms or "now". Default:
                         now when --rate is given; else, with --count into a file or stdout,
                         the events end now (the latest event's time is the moment generate
                         started), so a live RTDS decides them as recent traffic (a dry run of
                         the same seeded stream finds how far back they begin); else (no
                         --count, or --target) 2025-01-06T00:00:00Z.
                         An explicit --start gives the same events for the same seed every time.
  --event-time-rate <r>  events per simulated second of event time (default: --rate when paced,
                         else 25 events per user per day)
  --disorder-ms <ms>     deliver ~5 % of events up to this many ms after later ones (default 0)
  --id-prefix <text>     event id prefix (default evt_<seed>_)
  --batch <n>            events per write / POST (default 500)
  --quiet                no progress on stderr
  --help                 this text
`;

const options = new CommandLine('generate', GENERATE_HELP);

interface GenerateSettings {
  traffic: TrafficOptions;
  /** Added to every event time (and label time) the generator makes: 0 but when the run ends now. */
  shiftMs: number;
  count: number;
  durationMs: number;
  rate: number | undefined;
  out: string | undefined;
  labels: string | undefined;
  withLabels: boolean;
  target: string | undefined;
  targetLabels: boolean;
  batch: number;
  quiet: boolean;
}

export async function runGenerate(args: string[]): Promise<void> {
  const parsed = options.parse(args, {
    seed: { type: 'string' },
    users: { type: 'string' },
    'fraud-rate': { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    count: { type: 'string' },
    out: { type: 'string' },
    labels: { type: 'string' },
    'with-labels': { type: 'boolean' },
    target: { type: 'string' },
    'skip-labels': { type: 'boolean' },
    'disorder-ms': { type: 'string' },
    start: { type: 'string' },
    'event-time-rate': { type: 'string' },
    'id-prefix': { type: 'string' },
    batch: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (parsed === undefined) return;
  const { values } = parsed;

  const rate = options.number('rate', values.rate, { positive: true });
  const count = options.number('count', values.count, { min: 1, integer: true });
  const duration = options.number('duration', values.duration, { positive: true });
  const settings: GenerateSettings = {
    traffic: {
      seed: options.number('seed', values.seed, { integer: true }) ?? 42,
      users: options.number('users', values.users, { min: 1, integer: true }),
      fraudRate: options.number('fraud-rate', values['fraud-rate'], { min: 0, max: 0.5 }),
      start: parseStart(values.start ?? (rate === undefined ? undefined : 'now')),
      eventTimeRate: options.number('event-time-rate', values['event-time-rate'], { positive: true }) ?? rate,
      // Paced output keeps event time in step with the wall clock, so arrivals ignore the time of day.
      dailyRhythm: rate === undefined || values['event-time-rate'] !== undefined,
      // A live stream is joined mid-flow: attacks already under way, so the fraud share is right from the start.
      warmStart: rate !== undefined,
      disorderMs: options.number('disorder-ms', values['disorder-ms'], { min: 0 }),
      idPrefix: values['id-prefix'],
    },
    shiftMs: 0,
    count: count ?? Infinity,
    durationMs: duration === undefined ? Infinity : duration * 1000,
    rate,
    out: values.out,
    labels: values.labels,
    withLabels: values['with-labels'] === true,
    target: options.target(values.target),
    targetLabels: values['skip-labels'] !== true,
    batch: options.number('batch', values.batch, { min: 1, integer: true }) ?? 500,
    quiet: values.quiet === true,
  };
  if (settings.withLabels && settings.labels !== undefined) throw options.usage('--with-labels and --labels exclude each other');
  if (settings.out !== undefined && count === undefined && duration === undefined) {
    throw options.usage('writing to a file needs --count or --duration to end');
  }
  // Written out unpaced, of known length and with no --start: the events end now, fresh for a live
  // RTDS. Not with --target: POST /api/v1/labels refuses the labels of such events (their
  // labeled_at lies 1–14 days ahead, past RTDS_MAX_EVENT_AHEAD_MS), which would stop the run.
  if (values.start === undefined && rate === undefined && count !== undefined && settings.target === undefined) {
    const ending = endingAt(Date.now(), settings.traffic, count);
    settings.traffic.start = ending.start;
    settings.shiftMs = ending.shiftMs;
  }
  await generate(settings);
}

/** Where generated events go: any mix of an event stream, a label stream and an RTDS over HTTP. */
class TrafficSinks {
  private readonly events: LineSink | undefined;
  private readonly labels: LineSink | undefined;
  private readonly kafka: KafkaTraffic | undefined;

  constructor(private readonly settings: GenerateSettings) {
    const out = settings.out ?? (settings.target === undefined ? '-' : undefined);
    this.events = out === undefined ? undefined : new LineSink(out);
    this.labels = settings.labels === undefined ? undefined : new LineSink(settings.labels);
    this.kafka = settings.target === 'kafka' ? new KafkaTraffic(loadConfig(), 'generate') : undefined;
  }

  /** Set once stdout's reader has gone away (e.g. `| head`): nothing more can be delivered. */
  get closed(): boolean {
    return this.events?.closed === true || this.labels?.closed === true;
  }

  async deliver(batch: readonly GeneratedEvent[]): Promise<void> {
    if (batch.length === 0) return;
    const { settings } = this;
    if (this.events !== undefined) {
      let text = '';
      if (settings.withLabels) {
        for (const g of batch) text += `{"event":${JSON.stringify(g.event)},"label":${JSON.stringify(g.label)},"scenario":"${g.scenario}"}\n`;
      } else {
        for (const g of batch) text += JSON.stringify(g.event) + '\n';
      }
      await this.events.write(text);
    }
    if (this.labels !== undefined) {
      let text = '';
      for (const g of batch) text += JSON.stringify(g.label) + '\n';
      await this.labels.write(text);
    }
    if (this.kafka !== undefined) {
      await this.kafka.deliver(
        batch.map((g) => g.event),
        settings.targetLabels ? batch.map((g) => g.label) : [],
      );
    } else if (settings.target !== undefined) {
      await postJson(`${settings.target}/api/v1/events`, batch.map((g) => g.event));
      // After their events, so the server already knows the ids the labels refer to.
      if (settings.targetLabels) await postJson(`${settings.target}/api/v1/labels`, batch.map((g) => g.label));
    }
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.labels?.close();
    await this.kafka?.close();
  }
}

async function generate(settings: GenerateSettings): Promise<void> {
  const generator = new TrafficGenerator(settings.traffic);
  const sinks = new TrafficSinks(settings);
  const progress = new Progress('generate', !settings.quiet && (settings.out !== undefined || settings.target !== undefined));
  const deadline = progress.began + settings.durationMs;
  let emitted = 0;
  let delivered = 0;
  let fraud = 0;
  const interruption = new Interruption();

  const running = (): boolean => !interruption.requested && !sinks.closed && emitted < settings.count && performance.now() < deadline;
  const deliver = async (batch: GeneratedEvent[]): Promise<void> => {
    await sinks.deliver(batch);
    delivered += batch.length;
    for (const g of batch) if (g.label.is_fraud) fraud++;
    progress.tick((elapsedMs) => report(delivered, fraud, elapsedMs));
  };

  try {
    if (settings.rate === undefined) {
      while (running()) {
        const batch = generator.take(Math.min(settings.batch, settings.count - emitted));
        if (settings.shiftMs !== 0) for (const g of batch) shift(g, settings.shiftMs);
        emitted += batch.length;
        await deliver(batch);
        // Let Ctrl-C and stream callbacks in even when every write completes synchronously.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } else {
      await pace(generator, { rate: settings.rate, count: settings.count, durationMs: settings.durationMs, batch: settings.batch, running, deliver });
    }
  } finally {
    interruption.release();
    await sinks.close();
  }
  if (!settings.quiet) process.stderr.write(`generate: done, ${report(delivered, fraud, performance.now() - progress.began)}\n`);
}

function report(events: number, fraud: number, elapsedMs: number): string {
  return `${counted(events, 'events', elapsedMs)}, ${fraud.toLocaleString('en-US')} fraud`;
}

/**
 * A start for `count` events of `traffic` whose latest lies at `now`, and the shift that puts it
 * exactly there. The mean event-time rate gives the span, but the day's rhythm (a quiet night has
 * a quarter of the mean rate) makes the span of a few thousand events differ from it by hours: a
 * dry run of the same seeded stream from that start finds its latest event, and the events are
 * then shifted by the difference. Without the shift they could lie hours in the future, where a
 * replay would move the watermark past every live event.
 */
function endingAt(now: number, traffic: TrafficOptions, count: number): { start: number; shiftMs: number } {
  const start = Math.floor(now - (count / eventTimeRateOf(traffic)) * 1000);
  const dryRun = new TrafficGenerator({ ...traffic, start });
  let latest = -Infinity;
  for (let i = 0; i < count; i++) latest = Math.max(latest, dryRun.next().time);
  return { start, shiftMs: now - latest };
}

/** Moves a generated event's time by `ms`, its label's with it: the gaps, and when the truth surfaces, stay as they were. */
function shift(g: GeneratedEvent, ms: number): void {
  g.time += ms;
  g.event.timestamp = isoTimestamp(g.time);
  if (g.label.labeled_at !== undefined) g.label.labeled_at = isoTimestamp(Date.parse(String(g.label.labeled_at)) + ms);
}

function parseStart(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'now') return Date.now();
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms) || ms < 0) throw options.usage(`--start must be RFC 3339, epoch milliseconds or "now", got "${raw}"`);
  return Math.floor(ms);
}
