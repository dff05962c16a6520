// The `rtds` command line: thin commands that wire the stages together.
import { parseArgs } from 'node:util';
import type { RunningApp } from '../app/index.ts';
import { ConfigError, loadConfig, settingsTable, type Config } from '../config/index.ts';

const USAGE = `rtds — real-time decision system

usage: rtds <command> [options]

commands:
  start       run everything in one process (embedded log and PGlite unless configured)
                --no-generator   do not run the traffic generator
                --rate <n>       generator events/s            --seed <n>   generator seed
                --port <n>       HTTP port (default 8501)
                --no-processor   API, dashboard and generator only; on Kafka, processors run apart
  processor   one processor instance in the Kafka consumer group (needs RTDS_KAFKA_BROKERS)
  generate    write labelled synthetic traffic (rtds generate --help)
  replay      send recorded events back into RTDS over HTTP or Kafka (rtds replay --help)
  features    the feature matrix of an events (and labels) file, as the processor computes it (rtds features --help)
  train       train, evaluate and register a model on generated traffic (rtds train --help)
  models      list, activate and roll back registered models (rtds models --help)
  rules       store, activate and roll back rule set versions (rtds rules --help)
  evaluate    judge a registered model on labelled history: AUC, AP, P/R/F1, calibration (rtds evaluate --help)
  bench       measure throughput and latency (rtds bench --help)
  config      print the configuration table (env vars, defaults)

Configuration comes from RTDS_* environment variables; see README.md.`;

/** Run until SIGINT/SIGTERM, then drain and exit; a second signal exits at once. */
function runUntilSignalled(app: RunningApp): void {
  let signals = 0;
  const shutdown = (signal: string): void => {
    if (++signals > 1) {
      app.logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(130);
    }
    app.logger.info({ signal }, 'draining: finishing events in the log and flushing the store (Ctrl-C again to force)');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function processor(): Promise<void> {
  const config = loadConfig();
  if (config.kafkaBrokers === undefined) throw new ConfigError('RTDS_KAFKA_BROKERS', '', 'rtds processor joins a Kafka consumer group; set the brokers (the embedded log lives inside `rtds start`)');
  // Several processes must not open one embedded database folder.
  if (config.databaseUrl === undefined) throw new ConfigError('RTDS_DATABASE_URL', '', 'rtds processor writes to a shared PostgreSQL; set its URL');
  const { startApp } = await import('../app/index.ts');
  runUntilSignalled(await startApp(config, { roles: { api: false, processor: true } }));
}

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'no-generator': { type: 'boolean' }, 'no-processor': { type: 'boolean' }, rate: { type: 'string' }, seed: { type: 'string' }, port: { type: 'string' } },
  });
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
  const { startApp } = await import('../app/index.ts');
  runUntilSignalled(await startApp(config, { roles: { api: true, processor } }));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return start(args);
    case 'processor':
      return processor();
    case 'generate':
      return (await import('./generate.ts')).runGenerate(args);
    case 'replay':
      await (await import('./replay.ts')).runReplay(args);
      return;
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
      console.log(settingsTable());
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof AggregateError) console.error(`configuration error: ${(err as Error).message}`);
  else console.error(err);
  process.exit(1);
});
