// The `rtds` command line: thin commands that wire the stages together.
import type { RunningApp } from '../app/index.ts';
import type { TrainingProgress } from '../app/training.ts';
import { ConfigError, loadConfig, settingsTable, type Config } from '../config/index.ts';
import { CommandError, EXIT_FAILED, EXIT_USAGE } from './command-error.ts';
import { CommandLine } from './command-line.ts';
import { Progress } from './progress.ts';

const USAGE = `rtds — real-time decision system

usage: rtds <command> [options]

commands:
  start       run everything in one process, embedded unless configured (rtds start --help)
  processor   one processor instance in the Kafka consumer group (rtds processor --help)
  generate    write labelled synthetic traffic (rtds generate --help)
  capture     record live traffic (a running RTDS, or Kafka) as JSONL files for replay (rtds capture --help)
  replay      send recorded events back into RTDS over HTTP or Kafka (rtds replay --help)
  topology    the processor's stages, topics, state stores and keys (rtds topology --help)
  features    the feature matrix of an events (and labels) file, as the processor computes it (rtds features --help)
  train       train, evaluate and register a model on generated traffic (rtds train --help)
  models      list, activate and roll back registered models (rtds models --help)
  rules       store, activate and roll back rule set versions (rtds rules --help)
  evaluate    judge a registered model on labelled history: AUC, AP, P/R/F1, calibration (rtds evaluate --help)
  bench       measure throughput and latency (rtds bench --help)
  config      print the configuration table (env vars, defaults)

Every command and sub-command takes --help. A problem is one line on stderr and a non-zero exit
(2: a usage error); RTDS_LOG_LEVEL=debug adds the stack trace. Configuration comes from RTDS_*
environment variables; see README.md.`;

/**
 * Run until SIGINT/SIGTERM, then drain and exit; a second signal exits at once. Listening from
 * before the app starts: a signal while it starts — or just as it reports running, before its
 * start has returned here — stops it once started, drained, instead of leaving the signal's
 * default (an exit without draining, by the signal) to whoever stops it that early.
 */
async function runUntilSignalled(starting: () => Promise<RunningApp>): Promise<void> {
  // Set once started; read by a signal that may come before.
  let app: RunningApp | undefined = undefined;
  let requested: NodeJS.Signals | undefined;
  const drain = (running: RunningApp, signal: NodeJS.Signals): void => {
    running.logger.info({ signal }, 'draining: finishing events in the log and flushing the store (Ctrl-C again to force)');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (requested !== undefined) {
      if (app !== undefined) app.logger.warn({ signal }, 'second signal: exiting without draining');
      else process.stderr.write(`rtds: ${signal} again: exiting before RTDS has started\n`);
      process.exit(130);
    }
    requested = signal;
    if (app !== undefined) drain(app, signal);
    else process.stderr.write(`rtds: ${signal}: stopping once RTDS has started (Ctrl-C again to exit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  app = await starting();
  if (requested !== undefined) drain(app, requested);
}

const START_USAGE = `usage: rtds start [options]

Run everything in one process: the API and dashboard (http://localhost:8501), the traffic
generator and a processor — on the embedded log and PGlite under RTDS_DATA_DIR unless
RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL are set. The port is bound first: the dashboard answers
at once and says what is starting (a first start trains a model, with its progress), and a port
in use fails at once.

  --no-generator   do not run the traffic generator
  --rate <n>       generator events/s (RTDS_GENERATOR_RATE)
  --seed <n>       generator seed (RTDS_GENERATOR_SEED)
  --port <n>       HTTP port (RTDS_PORT, default 8501)
  --no-processor   API, dashboard and generator only; on Kafka, processors run apart
  -h, --help       this text

Every setting: rtds config.`;

const PROCESSOR_USAGE = `usage: rtds processor

One processor instance in the Kafka consumer group RTDS_KAFKA_GROUP: it takes a share of the
partitions of the events topic, decides, and writes to PostgreSQL. Needs RTDS_KAFKA_BROKERS and
RTDS_DATABASE_URL; set RTDS_INSTANCE_ID to a name that stays the same across restarts.

  -h, --help       this text

Every setting: rtds config.`;

/** Commands whose first operand is a sub-command. */
const GROUPS: ReadonlySet<string> = new Set(['models', 'rules']);

const processorLine = new CommandLine('processor', PROCESSOR_USAGE);
const startLine = new CommandLine('start', START_USAGE);
const configLine = new CommandLine('config', 'usage: rtds config\n\nEvery setting: its environment variable, default and meaning (the table README.md shows).');

async function processor(args: string[]): Promise<void> {
  // Refuses any argument: the processor is configured by RTDS_* variables.
  if (processorLine.parse(args, {}) === undefined) return;
  const config = loadConfig();
  if (config.kafkaBrokers === undefined) throw new ConfigError('RTDS_KAFKA_BROKERS', '', 'rtds processor joins a Kafka consumer group; set the brokers (the embedded log lives inside `rtds start`)');
  // Several processes must not open one embedded database folder.
  if (config.databaseUrl === undefined) throw new ConfigError('RTDS_DATABASE_URL', '', 'rtds processor writes to a shared PostgreSQL; set its URL');
  await runUntilSignalled(async () => (await import('../app/index.ts')).startApp(config, { roles: { api: false, processor: true } }));
}

async function start(args: string[]): Promise<void> {
  const parsed = startLine.parse(args, { 'no-generator': { type: 'boolean' }, 'no-processor': { type: 'boolean' }, rate: { type: 'string' }, seed: { type: 'string' }, port: { type: 'string' } });
  if (parsed === undefined) return;
  const { values } = parsed;
  const overrides: Partial<Config> = {};
  const env = { ...process.env };
  if (values['no-generator'] === true) overrides.generator = false;
  // Flags go through the same parsers as env vars, so they are validated alike.
  if (values.rate !== undefined) env.RTDS_GENERATOR_RATE = values.rate;
  if (values.seed !== undefined) env.RTDS_GENERATOR_SEED = values.seed;
  if (values.port !== undefined) env.RTDS_PORT = values.port;
  const config = loadConfig(overrides, env);
  const processor = values['no-processor'] !== true;
  if (!processor && config.kafkaBrokers === undefined) throw new ConfigError('RTDS_KAFKA_BROKERS', '', '--no-processor leaves deciding to `rtds processor` instances on Kafka; the embedded log has no other processor');
  await runUntilSignalled(async () => {
    // The port first, before the system's modules load: a busy port fails at once, and the
    // dashboard answers (saying what is starting) within a second of the command.
    const { HttpPort } = await import('../api/http-port.ts');
    const httpPort = await HttpPort.bind(config.host, config.port);
    const { startApp } = await import('../app/index.ts');
    const { trainingPercent } = await import('../app/model.ts');
    // On a terminal a bar; in a log the app's own lines, one per epoch, say how training goes.
    const progress = new Progress('start', process.stderr.isTTY === true);
    const onTraining = (p: TrainingProgress): void => progress.phase('training the first model', trainingPercent(p), 100, '%');
    return startApp(config, { roles: { api: true, processor }, httpPort, onTraining });
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return start(args);
    case 'processor':
      return processor(args);
    case 'generate':
      return (await import('./generate.ts')).runGenerate(args);
    case 'capture':
      await (await import('./capture.ts')).runCapture(args);
      return;
    case 'replay':
      await (await import('./replay.ts')).runReplay(args);
      return;
    case 'topology':
      return (await import('./topology.ts')).runTopology(args);
    case 'features':
      return (await import('./features.ts')).runFeatures(args);
    case 'train':
      return (await import('./train.ts')).runTrain(args);
    case 'models':
      return (await import('./models.ts')).runModels(args);
    case 'rules':
      return (await import('./rules.ts')).runRules(args);
    case 'evaluate':
      await (await import('./evaluate.ts')).runEvaluate(args);
      return;
    case 'bench':
      return (await import('../../bench/run.ts')).runBench(args);
    case 'config':
      if (configLine.parse(args, {}) !== undefined) console.log(settingsTable());
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      throw new CommandError(`rtds: unknown command "${command}" (see rtds --help)`, EXIT_USAGE);
  }
}

/** The command's failure as one line on stderr (its stack too with RTDS_LOG_LEVEL=debug), and its exit code. */
async function fail(err: unknown): Promise<never> {
  // Named as typed: a group's sub-command too (rtds models activate).
  const [name = '', sub] = process.argv.slice(2);
  const command = GROUPS.has(name) && sub !== undefined && !sub.startsWith('-') ? `${name} ${sub}` : name;
  try {
    const { describeFailure, stackOf } = await import('./failure-line.ts');
    const { line, exitCode } = describeFailure(err, command);
    process.stderr.write(`${line}\n`);
    if (process.env.RTDS_LOG_LEVEL === 'debug' || process.env.RTDS_LOG_LEVEL === 'trace') process.stderr.write(`${stackOf(err)}\n`);
    process.exit(exitCode);
  } catch (importErr) {
    // Describing failed too (a module that does not load): the raw error is all there is.
    console.error(err, importErr);
    process.exit(EXIT_FAILED);
  }
}

// A failure outside the command's own promise (a stream's error event, a timer) ends it alike.
process.on('uncaughtException', (err) => void fail(err));
process.on('unhandledRejection', (err) => void fail(err));
main(process.argv.slice(2)).catch(fail);
