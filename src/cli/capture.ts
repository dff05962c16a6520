// `rtds capture`: live traffic — from a running RTDS or a Kafka topic — recorded as JSON Lines files that `rtds replay` plays back.
import { loadConfig } from '../config/index.ts';
import { isLabelLine } from '../ingest/recording.ts';
import { CaptureFiles, CaptureFolderError, captureFileName, type CaptureLimits } from './capture-files.ts';
import { CaptureSourceError, instanceSource, kafkaSource, type CaptureSource } from './capture-sources.ts';
import { CommandError, EXIT_FAILED, EXIT_USAGE } from './command-error.ts';
import { CommandLine } from './command-line.ts';
import { fileProblem } from './file-problem.ts';
import { Progress } from './progress.ts';
import { counted, Interruption } from './traffic-targets.ts';

export const CAPTURE_HELP = `Usage: rtds capture --from <url>|kafka --out <folder> [options]

Records live traffic as JSON Lines, one event per line as it was sent — the files rtds replay
plays back (rtds replay --in <folder>). Runs until Ctrl-C (or SIGTERM), then writes what it holds
and closes the files: each ends with a whole line.

Where traffic comes from
  --from <url>           a running RTDS (e.g. http://127.0.0.1:8501): the events its HTTP edge and
                         generator accept, each once its log has it (GET /api/v1/capture)
  --from kafka           the events topic on RTDS_KAFKA_BROKERS, read committed, from now on: what
                         every producer writes, RTDS's own edge and generator included
  --topic <name>         with --from kafka, the topic to record (default <prefix>events)
  --labels               labels too, each line {"label": …}: those the instance stores (POST
                         /api/v1/labels, its generator), or the records of <prefix>labels
  --api-key <key>        with --from <url>, a key of the read role when the instance has keys

Where it goes
  --out <folder>         capture-000001.jsonl, capture-000002.jsonl, … in this folder (created; one
                         that holds a recording already is refused)
  --rotate-bytes <n>     begin the next file before one would pass n bytes (suffix k, M or G: KiB…)
  --rotate-lines <n>     begin the next file once one holds n lines
  --max-bytes <n>        stop once the files together would pass n bytes: the recording keeps its
                         beginning whole rather than dropping its oldest files, so a replay starts
                         where the capture did and rebuilds the same state; the line that would
                         pass the cap is not written

  --quiet                no progress on stderr
  --help                 this text
`;

const options = new CommandLine('capture', CAPTURE_HELP);

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count: digits with an optional k, M or G (binary units). */
function byteCount(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(raw);
  const bytes = match === null ? NaN : Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw options.usage(`--${name} must be a whole number of bytes > 0 (suffix k, M or G), got "${raw}"`);
  return bytes;
}

/** What a capture recorded, and why it stopped. */
export interface CaptureTally {
  events: number;
  labels: number;
  bytes: number;
  files: string[];
  stopped: 'interrupted' | 'full' | 'source ended';
}

/** Returns the tally, or undefined when only the help was asked for. */
export async function runCapture(args: string[]): Promise<CaptureTally | undefined> {
  const parsed = options.parse(args, {
    from: { type: 'string' },
    out: { type: 'string' },
    topic: { type: 'string' },
    labels: { type: 'boolean' },
    'api-key': { type: 'string' },
    'rotate-bytes': { type: 'string' },
    'rotate-lines': { type: 'string' },
    'max-bytes': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (parsed === undefined) return undefined;
  const { values } = parsed;
  const from = options.target(values.from, 'from');
  if (from === undefined) throw options.usage('say what to record: --from <url> of a running RTDS, or --from kafka');
  if (values.out === undefined) throw options.usage('--out <folder> is required');
  if (values.topic !== undefined && from !== 'kafka') throw options.usage('--topic goes with --from kafka');
  if (values['api-key'] !== undefined && from === 'kafka') throw options.usage('--api-key goes with --from <url>');
  const limits: CaptureLimits = {
    rotateBytes: byteCount('rotate-bytes', values['rotate-bytes']),
    rotateLines: options.number('rotate-lines', values['rotate-lines'], { min: 1, integer: true }),
    maxBytes: byteCount('max-bytes', values['max-bytes']),
  };
  const labels = values.labels === true;
  const source = from === 'kafka' ? kafkaSource(loadConfig(), values.topic, labels) : instanceSource(from, labels, values['api-key']);
  let files: CaptureFiles;
  try {
    files = await CaptureFiles.open(values.out, limits);
  } catch (err) {
    if (err instanceof CaptureFolderError) throw options.usage(err.message);
    throw new CommandError(`rtds capture: cannot write to --out ${values.out}: ${fileProblem(err)?.reason ?? (err as Error).message}`, EXIT_USAGE, { cause: err });
  }
  return capture(source, files, values.out, values.quiet !== true);
}

async function capture(source: CaptureSource, files: CaptureFiles, out: string, verbose: boolean): Promise<CaptureTally> {
  const progress = new Progress('capture', verbose);
  const tally = { events: 0, labels: 0 };
  const report = (elapsedMs: number): string =>
    `${counted(tally.events, 'events', elapsedMs)}${tally.labels === 0 ? '' : `, ${tally.labels.toLocaleString('en-US')} labels`}, ${files.bytes.toLocaleString('en-US')} bytes in ${files.paths.length} file${files.paths.length === 1 ? '' : 's'}`;
  const interruption = new Interruption();
  let full!: () => void;
  const filled = new Promise<void>((resolve) => (full = resolve));
  // Lines of two topics arrive together: written one at a time, so a rotation never splits them.
  let writing = Promise.resolve();
  const record = (line: string): Promise<void> =>
    (writing = writing.then(async () => {
      if (!(await files.write(line))) return full();
      if (isLabelLine(line)) tally.labels++;
      else tally.events++;
      progress.tick(report);
    }));
  let stopped: CaptureTally['stopped'];
  let failure: unknown;
  try {
    try {
      await source.start(record);
    } catch (err) {
      if (err instanceof CaptureSourceError) throw new CommandError(`rtds capture: ${err.message}`, EXIT_FAILED, { cause: err });
      throw err;
    }
    progress.line(`recording ${source.describe} into ${out}/${captureFileName(1)}…; Ctrl-C stops`);
    const interrupted = new Promise<void>((resolve) => interruption.signal.addEventListener('abort', () => resolve(), { once: true }));
    stopped = await Promise.race([
      interrupted.then(() => 'interrupted' as const),
      filled.then(() => 'full' as const),
      source.ended.then(
        () => 'source ended' as const,
        (err: unknown) => {
          failure = err;
          return 'source ended' as const;
        },
      ),
    ]);
  } finally {
    interruption.release();
    await source.close();
    await writing;
    await files.close();
  }
  const why =
    stopped === 'interrupted' ? 'stopped' : stopped === 'full' ? 'stopped at --max-bytes (the next line would have passed it)' : failure === undefined ? await source.ended : 'broke off';
  progress.line(`${why}: ${report(performance.now() - progress.began)}: ${files.paths.length === 1 ? files.paths[0] : `${files.paths[0]} … ${files.paths.at(-1)}`}`);
  if (failure !== undefined) throw new CommandError(`rtds capture: ${(failure as Error).message}; the files hold what came before`, EXIT_FAILED, { cause: failure });
  return { ...tally, bytes: files.bytes, files: [...files.paths], stopped };
}
