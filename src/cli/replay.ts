// `rtds replay`: recorded events back into RTDS — over HTTP or straight onto Kafka — line for line, as fast as possible or at a set pace.
import { constants, createReadStream } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../config/index.ts';
import { describeSpan, readTimestamp } from '../contracts/index.ts';
import { CommandError, EXIT_FAILED } from './command-error.ts';
import { CommandLine } from './command-line.ts';
import { fileProblem } from './file-problem.ts';
import { Progress } from './progress.ts';
import { counted, Interruption, KafkaTraffic, postJson, TargetUnreachableError, type TrafficRecord } from './traffic-targets.ts';

export const REPLAY_HELP = `Usage: rtds replay --in <file|-> --target <url>|kafka [options]

Sends recorded events back into RTDS, one per line of JSON Lines as rtds generate and rtds capture
write them: bare events (--out), {"event":…,"label":…,"scenario":…} lines (--with-labels), whose
event is replayed and whose label follows it, and {"label":…} lines (capture --labels), a label
alone. Every line is delivered as it is: one that is not JSON or breaks the event contract still
goes, and RTDS dead-letters it with the reason (a line holding a JSON string — how rtds capture
records a Kafka record that was not JSON — goes onto Kafka as that string's text). A label whose labeled_at is still ahead is a
verdict not known yet: it is held back, and counted.

Where events come from and go
  --in <file|folder|->   JSONL file to replay; a folder: its .jsonl files in name order (the
                         capture-000001.jsonl, … of rtds capture); - reads stdin
  --target <url>         base URL of a running RTDS (e.g. http://127.0.0.1:8501): events are
                         POSTed as JSON arrays to /api/v1/events, then their labels to /api/v1/labels
  --target kafka         produce each line as it is (of a --with-labels line, its event) to
                         <prefix>events (key: its user_id, else empty) and labels to
                         <prefix>labels (key event_id) on RTDS_KAFKA_BROKERS
  --skip-labels          do not deliver the labels of --with-labels lines

How fast (default: as fast as possible)
  --rate <events/s>      this many events per wall-clock second
  --speed <factor>       the original gaps in event time (the timestamp field), divided by the
                         factor: 1 is real time, 10 ten times faster (×10); excludes --rate.
                         Lines without a readable timestamp follow their predecessor at once.

Event time
  --retime               move every event's timestamp by one offset so that the recording's
                         latest event is now (gaps kept; a label's labeled_at moves with its
                         event); a file is read twice for it. From stdin (-), which cannot be read
                         ahead, the offset puts the FIRST timed line at now instead. A timestamp
                         keeps its form: RFC 3339 stays RFC 3339 (written in UTC, to the
                         millisecond), epoch ms stay a number. Lines without a readable timestamp
                         go as they are.
  Without --retime, a recording whose latest event (from stdin: its first) lies further behind
  now than the live stream waits for out-of-order and late events (RTDS_MAX_OUT_OF_ORDERNESS_MS
  + RTDS_ALLOWED_LATENESS_MS) gets a warning on stderr: RTDS decides such events late.

  --batch <n>            events per POST / produce round (default 500)
  --quiet                no progress on stderr (warnings still)
  --help                 this text
`;

/** Lines due this close together travel in one batch instead of one request each. */
const BATCH_WINDOW_MS = 20;

const options = new CommandLine('replay', REPLAY_HELP);

/** How lines are spaced in wall-clock time; undefined: as fast as possible. */
export type Pacing = { rate: number } | { speed: number } | undefined;

interface ReplaySettings {
  in: string;
  target: string;
  pacing: Pacing;
  retime: boolean;
  labels: boolean;
  batch: number;
  quiet: boolean;
}

/**
 * A label whose labeled_at lies ahead is a verdict nobody has yet (a recent recording's chargebacks
 * surface days later): held back rather than sent to be refused.
 */
function notYetKnown(line: ReplayLine, now: number): boolean {
  return line.labeledAt !== undefined && line.labeledAt > now;
}

/** What a replay did: lines read, lines delivered, labels delivered with them, and labels held back as not known yet. */
export interface ReplayTally {
  lines: number;
  delivered: number;
  labels: number;
  heldBack: number;
}

/** Returns the tally, or undefined when only the help was asked for. */
export async function runReplay(args: string[]): Promise<ReplayTally | undefined> {
  const parsed = options.parse(args, {
    in: { type: 'string' },
    target: { type: 'string' },
    rate: { type: 'string' },
    speed: { type: 'string' },
    batch: { type: 'string' },
    'skip-labels': { type: 'boolean' },
    retime: { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  if (parsed === undefined) return undefined;
  const { values } = parsed;

  if (values.in === undefined) throw options.usage('--in <file|folder> is required (- reads stdin)');
  const target = options.target(values.target);
  if (target === undefined) throw options.usage('say where the events go: --target <url> of a running RTDS, or --target kafka');
  const rate = options.number('rate', values.rate, { positive: true });
  const speed = options.number('speed', values.speed, { positive: true });
  if (rate !== undefined && speed !== undefined) throw options.usage('--rate and --speed exclude each other: pace by events per second or by the original event-time gaps');
  return replay({
    in: values.in,
    target,
    pacing: rate !== undefined ? { rate } : speed !== undefined ? { speed } : undefined,
    retime: values.retime === true,
    labels: values['skip-labels'] !== true,
    batch: options.number('batch', values.batch, { min: 1, integer: true }) ?? 500,
    quiet: values.quiet === true,
  });
}

/** A line's event, ready for either target: `key` and `value` are the Kafka record. */
export interface ReplayEvent extends TrafficRecord {
  /** The element of an HTTP batch: the line's own JSON text, or the line as a JSON string when it is not JSON. */
  json: string;
}

/** One input line. */
export interface ReplayLine {
  /** Absent on a line that holds a label alone. */
  event: ReplayEvent | undefined;
  /** Epoch ms of the event's timestamp, when it can be read. */
  eventTime: number | undefined;
  /** The label of a --with-labels or label line, keyed by its event_id. */
  label: TrafficRecord | undefined;
  /** Epoch ms of the label's labeled_at, when it has a readable one. */
  labeledAt: number | undefined;
}

const WRAPPER_FIELDS = new Set(['event', 'label', 'scenario']);

/**
 * How --retime moves a line: the offset (ms) to add to times, given the line's event time. One
 * offset for the whole recording; from stdin it is fixed by the first timed line.
 */
export type Retime = (eventTime: number) => number;

/** Reads what it can from a line without judging it: validation is RTDS's job, so its dead letters say why. */
export function readLine(text: string, retime?: Retime): ReplayLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { event: { key: '', value: text, json: JSON.stringify(text) }, eventTime: undefined, label: undefined, labeledAt: undefined };
  }
  // How rtds capture records a Kafka record that was not JSON: onto Kafka it goes back as that text.
  if (typeof parsed === 'string') return { event: { key: '', value: parsed, json: text }, eventTime: undefined, label: undefined, labeledAt: undefined };
  const wrapper = isWrapper(parsed) ? parsed : undefined;
  const labelOnly = wrapper !== undefined && !('event' in wrapper);
  let event = wrapper === undefined ? parsed : wrapper.event;
  let label = wrapper?.label ?? undefined;
  let eventTime = isObject(event) ? readTimestamp(event.timestamp) : undefined;
  // A label alone moves with the events around it: its own time fixes the offset only when it comes first.
  const labeledAt = isObject(label) ? readTimestamp(label.labeled_at) : undefined;
  const timeOfLine = labelOnly ? labeledAt : eventTime;
  const shiftMs = timeOfLine === undefined || retime === undefined ? 0 : retime(timeOfLine);
  if (shiftMs !== 0) {
    if (!labelOnly) event = shifted(event as Record<string, unknown>, 'timestamp', shiftMs);
    label = isObject(label) ? shifted(label, 'labeled_at', shiftMs) : label;
    if (eventTime !== undefined) eventTime += shiftMs;
  }
  // A bare line goes as it was written unless it was retimed.
  const value = wrapper !== undefined || shiftMs !== 0 ? JSON.stringify(event) : text;
  return {
    event: labelOnly ? undefined : { key: field(event, 'user_id') ?? '', value, json: value },
    eventTime,
    label: label === undefined ? undefined : { key: field(label, 'event_id') ?? '', value: JSON.stringify(label) },
    labeledAt: labeledAt === undefined ? undefined : labeledAt + shiftMs,
  };
}

/** A copy with the time at `name` moved by `ms`, in the form it was written; a time the contract cannot read stays as it is. */
function shifted(record: Record<string, unknown>, name: string, ms: number): Record<string, unknown> {
  const t = readTimestamp(record[name]);
  if (t === undefined) return record;
  return { ...record, [name]: typeof record[name] === 'number' ? t + ms : new Date(t + ms).toISOString() };
}

/**
 * A `rtds generate --with-labels` line, or a label alone as `rtds capture --labels` records it; an
 * event never matches, as the contract has no field `event` or `label`.
 */
function isWrapper(value: unknown): value is { event?: unknown; label?: unknown } {
  return isObject(value) && ('event' in value || 'label' in value) && Object.keys(value).every((k) => WRAPPER_FIELDS.has(k));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, name: string): string | undefined {
  const v = isObject(value) ? value[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/**
 * When each line is due, in ms after the replay began (undefined: at once). `rate` spaces lines
 * evenly; `speed` divides the gaps between event times, measured from the first line with one — a
 * line earlier than that (out of order) is due at once.
 */
export function replaySchedule(pacing: Pacing): (eventTime: number | undefined) => number | undefined {
  if (pacing === undefined) return () => undefined;
  if ('rate' in pacing) {
    let index = 0;
    return () => (index++ * 1000) / pacing.rate;
  }
  let first: number | undefined;
  return (time) => {
    if (time === undefined) return undefined;
    first ??= time;
    return (time - first) / pacing.speed;
  };
}

interface ReplayTarget {
  /** The lines' events, then `labels` (after their events, so RTDS knows the ids they refer to). */
  deliver(events: readonly ReplayEvent[], labels: readonly TrafficRecord[]): Promise<void>;
  close(): Promise<void>;
}

function openTarget(settings: ReplaySettings, config: Config): ReplayTarget {
  if (settings.target === 'kafka') {
    const kafka = new KafkaTraffic(config, 'replay');
    return { deliver: (events, labels) => kafka.deliverRecords(events, labels), close: () => kafka.close() };
  }
  const base = settings.target;
  return {
    async deliver(events, labels) {
      // 400: RTDS refused every event of the batch and dead-lettered each; they were delivered.
      if (events.length > 0) await postJson(`${base}/api/v1/events`, `[${events.map((e) => e.json).join(',')}]`, { accept: [400] });
      // Refused labels are dead-lettered alike.
      if (labels.length > 0) await postJson(`${base}/api/v1/labels`, `[${labels.map((l) => l.value).join(',')}]`, { accept: [400] });
    },
    close: () => Promise.resolve(),
  };
}

async function replay(settings: ReplaySettings): Promise<ReplayTally> {
  const files = await inputFiles(settings.in);
  const config = loadConfig();
  const retime = toLiveTime(settings, files === STDIN ? undefined : await latestEventTime(files), config);
  const target = openTarget(settings, config);
  const tally: ReplayTally = { lines: 0, delivered: 0, labels: 0, heldBack: 0 };
  const progress = new Progress('replay', !settings.quiet);
  const report = (elapsedMs: number): string =>
    `delivered ${counted(tally.delivered, 'lines', elapsedMs)}` +
    (tally.labels === 0 ? '' : `, ${tally.labels.toLocaleString('en-US')} labels`) +
    (tally.heldBack === 0 ? '' : `; ${tally.heldBack.toLocaleString('en-US')} labels held back, their labeled_at still ahead`);
  const schedule = replaySchedule(settings.pacing);
  const interruption = new Interruption();
  let pending: ReplayLine[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    // Each label is judged once, when its batch goes: sent, or held back as not known yet.
    const labels: TrafficRecord[] = [];
    let heldBack = 0;
    const now = Date.now();
    if (settings.labels) {
      for (const line of pending) {
        if (line.label === undefined) continue;
        if (notYetKnown(line, now)) heldBack++;
        else labels.push(line.label);
      }
    }
    await target.deliver(
      pending.flatMap((line) => (line.event === undefined ? [] : [line.event])),
      labels,
    );
    tally.delivered += pending.length;
    tally.labels += labels.length;
    tally.heldBack += heldBack;
    pending = [];
    progress.tick(report);
  };

  try {
    for await (const text of linesOf(files)) {
      tally.lines++;
      const line = readLine(text, retime);
      const due = schedule(line.eventTime);
      if (due !== undefined && progress.began + due - performance.now() > BATCH_WINDOW_MS) {
        // Nothing held back while waiting: what is due goes out first.
        await flush();
        const wait = progress.began + due - performance.now();
        // Ctrl-C cuts the wait short; the line read is still delivered below.
        if (wait > 0) await sleep(wait, undefined, { signal: interruption.signal }).catch(() => undefined);
      }
      pending.push(line);
      if (pending.length >= settings.batch) await flush();
      if (interruption.requested) break;
    }
    await flush();
  } catch (err) {
    // What the user can act on keeps its words, with how far the replay got; anything else is described by main.
    if (err instanceof TargetUnreachableError) throw new CommandError(`rtds replay: ${err.message}; stopped after delivering ${tally.delivered} of the ${tally.lines} lines read`, EXIT_FAILED, { cause: err });
    throw err;
  } finally {
    interruption.release();
    await target.close();
  }
  if (!settings.quiet) process.stderr.write(`replay: ${interruption.requested ? 'interrupted' : 'done'}, ${report(performance.now() - progress.began)}\n`);
  return tally;
}

/** The latest event time of a recording's files, read ahead before anything is sent; undefined when no line has one. */
async function latestEventTime(files: readonly string[]): Promise<number | undefined> {
  let latest: number | undefined;
  for await (const text of linesOf(files)) {
    const t = readLine(text).eventTime;
    if (t !== undefined && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
}

/**
 * How the recording meets the live stream's event time, settled at the first timed line. A
 * recording further behind now than the stream waits for late events (its latest event, or from
 * stdin its first) would be decided late: a warning says so, or --retime moves every line by the
 * one offset that brings that event to now.
 */
function toLiveTime(settings: ReplaySettings, latest: number | undefined, config: Config): Retime {
  let offset: number | undefined;
  return (eventTime) => {
    if (offset !== undefined) return offset;
    const reference = latest ?? eventTime;
    const now = Date.now();
    offset = settings.retime ? now - reference : 0;
    const waitMs = config.maxOutOfOrdernessMs + config.allowedLatenessMs;
    if (!settings.retime && now - reference > waitMs) {
      const which = latest === undefined ? 'first' : 'latest';
      process.stderr.write(
        `replay: warning: the recording's ${which} event (${new Date(reference).toISOString()}) is ${describeSpan(now - reference)} behind now, more than the ` +
          `${describeSpan(waitMs)} a live stream waits for late events (RTDS_MAX_OUT_OF_ORDERNESS_MS + RTDS_ALLOWED_LATENESS_MS): RTDS will decide its events late; ` +
          `--retime moves them to ${which === 'latest' ? 'end' : 'start'} now\n`,
      );
    }
    return offset;
  };
}

const STDIN = '-';

/**
 * The files `--in` names — a file, or a folder's .jsonl files in name order — or stdin. Checked up
 * front, so a missing file is reported before anything is sent.
 */
async function inputFiles(path: string): Promise<readonly string[] | typeof STDIN> {
  if (path === STDIN) return STDIN;
  try {
    if (!(await stat(path)).isDirectory()) {
      await access(path, constants.R_OK);
      return [path];
    }
    const files = (await readdir(path)).filter((name) => name.endsWith('.jsonl')).sort();
    if (files.length === 0) throw new Error('the folder holds no .jsonl file');
    return files.map((name) => join(path, name));
  } catch (err) {
    throw options.usage(`cannot read --in ${path}: ${fileProblem(err)?.reason ?? (err as Error).message}`);
  }
}

/** The lines of the files one after the other, or of stdin. */
async function* linesOf(files: readonly string[] | typeof STDIN): AsyncGenerator<string> {
  for (const file of files === STDIN ? [STDIN] : files) {
    const input = file === STDIN ? process.stdin : createReadStream(file);
    try {
      yield* createInterface({ input, crlfDelay: Infinity });
    } finally {
      input.destroy();
    }
  }
}
