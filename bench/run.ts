// `rtds bench` / `npm run bench`: throughput of the pipeline core, embedded end to end, and latency at a fixed rate.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startApp } from '../src/app/index.ts';
import { FIRST_START_TRAINING } from '../src/app/model.ts';
import { trainOnGeneratedHistory } from '../src/app/training.ts';
import { loadConfig, type Config } from '../src/config/index.ts';
import { DecisionEngine, defaultRuleSet } from '../src/decide/index.ts';
import { TrafficGenerator } from '../src/ingest/generator/index.ts';
import { DecisionPipeline } from '../src/process/index.ts';
import { ModelRegistry, RulesOnlyScorer, serveActiveModel, type Scorer } from '../src/score/index.ts';
import { Consumer, stringDeserializers, type Message } from '@platformatic/kafka';
import type { Decision } from '../src/contracts/index.ts';
import { topicNames } from '../src/transport/kafka/topics.ts';
import { epochMs, partitionFor, type LogRecord } from '../src/transport/log.ts';
import { benchExplanation, benchInference, benchTraining } from './scoring.ts';

const HELP = `Usage: rtds bench [options]

  --events <n>      events for the throughput runs (default 200000)
  --rate <n>        offered events/s for the latency run (default 5000)
  --seconds <n>     length of the latency run (default 10)
  --only <list>     comma-separated subset of: core, e2e, latency, inference, training, kafka
                    (default: all but training, which takes about a minute and a half, and kafka,
                    which needs RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL — a scratch database)
  --help            this text

Uses the active model under RTDS_MODEL_DIR, or trains one into a temporary registry first.`;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(3);

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function modelDirWithActiveModel(config: Config, scratch: string): Promise<string> {
  if ((await new ModelRegistry(config.modelDir).active()) !== null) return config.modelDir;
  const dir = path.join(scratch, 'models');
  process.stderr.write(`bench: no active model in ${config.modelDir}; training one (${FIRST_START_TRAINING.events} events)…\n`);
  await trainOnGeneratedHistory({ modelDir: dir, ...FIRST_START_TRAINING, maxOutOfOrdernessMs: config.maxOutOfOrdernessMs, retentionMs: config.stateRetentionMs, thresholds: [0.5, 0.7] });
  return dir;
}

/** Records as the processor receives them, batched per partition in arrival order like the embedded consumer. */
function toBatches(events: unknown[], partitions: number, batchSize: number): LogRecord[][] {
  const open = new Map<number, LogRecord[]>();
  const batches: LogRecord[][] = [];
  const offsets = new Array<number>(partitions).fill(0);
  for (const value of events) {
    const key = (value as { user_id: string }).user_id;
    const partition = partitionFor(key, partitions);
    let batch = open.get(partition);
    if (batch === undefined) open.set(partition, (batch = []));
    batch.push({ partition, offset: offsets[partition]!++, key, value, acceptedAt: 0 });
    if (batch.length === batchSize) {
      batches.push(batch);
      open.delete(partition);
    }
  }
  batches.push(...open.values());
  return batches;
}

function benchCore(config: Config, scorers: Scorer[], events: unknown[], label: string): number {
  const batches = toBatches(events, config.partitions, 512);
  const run = (): number => {
    const pipeline = new DecisionPipeline({ scorers, engine: new DecisionEngine(defaultRuleSet(config.threshold)), maxOutOfOrdernessMs: config.maxOutOfOrdernessMs, retentionMs: config.stateRetentionMs });
    const began = performance.now();
    let decided = 0;
    for (const batch of batches) for (const r of pipeline.processBatch(batch)) if (r.kind === 'decided') decided++;
    const seconds = (performance.now() - began) / 1000;
    if (decided !== events.length) throw new Error(`core: ${decided} decisions for ${events.length} events`);
    return events.length / seconds;
  };
  run(); // warm-up: JIT and the model's buffers
  const rate = Math.max(run(), run());
  console.log(`core (${label}): ${fmt(rate)} events/s on one core  [validate → features → score → decide, batches of 512, no I/O]`);
  return rate;
}

async function benchEndToEnd(config: Config, events: unknown[]): Promise<number> {
  const app = await startApp(config);
  const began = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await app.ingest.submit(events.slice(i, i + 1000), 'bench');
    // Yield so the processor and the store run while events arrive, as with a live producer.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await app.stop(); // drains the log and flushes every decision to the store
  const seconds = (performance.now() - began) / 1000;
  const { openDatabase } = await import('../src/store/index.ts');
  const db = await openDatabase(config);
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions');
  await db.close();
  if (row!.n !== events.length) throw new Error(`e2e: ${row!.n} decisions stored for ${events.length} events`);
  const rate = events.length / seconds;
  console.log(`embedded end to end: ${fmt(rate)} events/s  [ingest → log → processor → PGlite, ${fmt(events.length)} events and decisions persisted in ${seconds.toFixed(2)} s]`);
  return rate;
}

const WARM_UP_S = 2;

/**
 * Offer `rate` events/s spread evenly (not in bursts) for `seconds` after a warm-up (JIT, the
 * store's worker), and take each decision's accepted → available time.
 */
async function benchLatency(config: Config, rate: number, seconds: number, label = 'embedded'): Promise<void> {
  const app = await startApp(config, { roles: { api: false, processor: true } });
  const latencies: number[] = [];
  let measuring = false;
  const unsubscribe = app.feed.subscribe(({ decision }) => {
    if (measuring) latencies.push(decision.processing_time_ms);
  });
  const generator = new TrafficGenerator({ seed: 11, users: 20_000, start: Date.now(), eventTimeRate: rate, dailyRhythm: false, warmStart: true });
  const began = performance.now();
  const warmUp = Math.round(rate * WARM_UP_S);
  const total = warmUp + Math.round(rate * seconds);
  let offered = 0;
  while (offered < total) {
    measuring = offered >= warmUp;
    // Each wake-up (≈ 1 ms) submits the events whose time has come, one at a time.
    const due = Math.min(total, Math.floor(((performance.now() - began) * rate) / 1000));
    for (; offered < due; offered++) await app.ingest.submit([generator.next().event], 'bench');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await app.stop();
  unsubscribe();
  const sorted = Float64Array.from(latencies).sort();
  console.log(
    `${label} latency at ${fmt(rate)} events/s offered (${fmt(latencies.length)} events over ${seconds} s after ${WARM_UP_S} s of warm-up, arrivals spread evenly): p50 ${ms(percentile(sorted, 0.5))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, p99.9 ${ms(percentile(sorted, 0.999))} ms, max ${ms(sorted[sorted.length - 1] ?? NaN)} ms  [accepted → decision available]`,
  );
}

/** A fresh topic prefix and group per Kafka run, so runs never read each other's records. */
function kafkaRunConfig(base: Config, exactlyOnce: boolean, run: string): Config {
  const tag = `${Date.now().toString(36)}.${run}`;
  return loadConfig({ ...base, kafkaExactlyOnce: exactlyOnce, kafkaTopicPrefix: `bench.${tag}.`, kafkaGroup: `bench-${tag}`, port: 0, generator: false, trainOnStart: false, logLevel: 'silent' });
}

/**
 * Kafka + PostgreSQL under overload: every event offered as fast as the ingest edge takes them,
 * timed until the processor has stored and committed the last decision. The processor's lag is
 * sampled each second meanwhile: how far behind it falls and how fast it catches up.
 */
async function benchKafkaThroughput(config: Config, events: unknown[], mode: string): Promise<void> {
  const app = await startApp(config, { roles: { api: false, processor: true } });
  let decided = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const unsubscribe = app.feed.subscribe(() => {
    if (++decided === events.length) resolveAll();
  });
  const samples: { s: number; lag: number; decided: number }[] = [];
  let rss = 0;
  const began = performance.now();
  const sampler = setInterval(() => {
    samples.push({ s: (performance.now() - began) / 1000, lag: app.lag(), decided });
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 1000);
  for (let i = 0; i < events.length; i += 5000) await app.ingest.submit(events.slice(i, i + 5000), 'bench');
  const produced = performance.now();
  await all;
  await app.stop(); // the last batch committed (its transaction, in exactly-once mode) and stored
  clearInterval(sampler);
  unsubscribe();
  const seconds = (performance.now() - began) / 1000;
  const peak = samples.reduce((a, b) => (b.lag > a.lag ? b : a), { s: 0, lag: 0, decided: 0 });
  console.log(
    `kafka ${mode}: ${fmt(events.length / seconds)} events/s decided, stored and committed  [${fmt(events.length)} events offered at ${fmt(events.length / ((produced - began) / 1000))} events/s → ${config.partitions} partitions → one processor → PostgreSQL + topics]`,
  );
  console.log(
    `  lag under overload: ${samples.map((x) => fmt(x.lag)).join(' → ')} (each second); peak ${fmt(peak.lag)} at ${peak.s.toFixed(0)} s, then drained at ${fmt((events.length - peak.decided) / Math.max(0.001, seconds - peak.s))} events/s; RSS peak ${fmt(rss / 2 ** 20)} MiB`,
  );
}

/**
 * Latency at a fixed offered rate, seen from outside: a read_committed consumer of the decisions
 * topic takes each decision's arrival minus the moment the event was handed to the producer
 * (so the producer's linger counts), next to the processor's own accepted → decided time.
 */
async function benchKafkaLatency(config: Config, rate: number, seconds: number, mode: string): Promise<void> {
  const app = await startApp(config, { roles: { api: false, processor: true } });
  const submitted = new Map<string, number>();
  const visible: number[] = [];
  const decidedIn: number[] = [];
  // The generator also sends duplicates and invalid events, which get no decision: wait for those decided.
  let decided = 0;
  const unsubscribe = app.feed.subscribe(({ event }) => {
    if (submitted.has(event.event_id)) decided++;
  });
  const reader = new Consumer({ groupId: `${config.kafkaGroup}-reader`, clientId: 'bench-reader', bootstrapBrokers: config.kafkaBrokers!.split(','), deserializers: stringDeserializers, maxWaitTime: 5, isolationLevel: 1 });
  const stream = await reader.consume({ topics: [topicNames(config.kafkaTopicPrefix).decisions], mode: 'earliest', autocommit: false });
  stream.on('data', (m: Message<string, string, string, string>) => {
    const decision = JSON.parse(m.value) as Decision;
    const at = submitted.get(decision.event_id);
    if (at === undefined) return; // warm-up
    visible.push(epochMs() - at);
    decidedIn.push(decision.processing_time_ms);
  });
  const generator = new TrafficGenerator({ seed: 11, users: 20_000, start: Date.now(), eventTimeRate: rate, dailyRhythm: false, warmStart: true });
  const began = performance.now();
  const warmUp = Math.round(rate * WARM_UP_S);
  const total = warmUp + Math.round(rate * seconds);
  let offered = 0;
  const appends: Promise<unknown>[] = [];
  while (offered < total) {
    const due = Math.min(total, Math.floor(((performance.now() - began) * rate) / 1000));
    for (; offered < due; offered++) {
      const event = generator.next().event;
      if (offered >= warmUp) submitted.set(event.event_id, epochMs());
      appends.push(app.ingest.submit([event], 'bench'));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(appends);
  await app.stop();
  unsubscribe();
  // The last transaction is committed; the reader gets its decisions within a few fetches.
  while (visible.length < decided) await new Promise((resolve) => setTimeout(resolve, 20));
  await stream.close();
  await reader.close(true);
  const q = (xs: number[]): string => {
    const sorted = Float64Array.from(xs).sort();
    return `p50 ${ms(percentile(sorted, 0.5))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, max ${ms(sorted[sorted.length - 1] ?? NaN)} ms`;
  };
  console.log(`kafka ${mode} latency at ${fmt(rate)} events/s offered (${fmt(visible.length)} events over ${seconds} s after ${WARM_UP_S} s of warm-up, arrivals spread evenly):`);
  console.log(`  handed to producer → decision visible to a read_committed consumer: ${q(visible)}`);
  console.log(`  accepted by the broker → decided in the processor: ${q(decidedIn)}`);
}

async function benchKafka(base: Config, rate: number, seconds: number, events: unknown[]): Promise<void> {
  if (base.kafkaBrokers === undefined || base.databaseUrl === undefined) throw new Error('bench kafka: set RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL (a scratch database)');
  for (const [exactlyOnce, mode] of [
    [true, 'exactly-once'],
    [false, 'at-least-once'],
  ] as const) {
    await benchKafkaThroughput(kafkaRunConfig(base, exactlyOnce, `${mode}-tput`), events, mode);
    await benchKafkaLatency(kafkaRunConfig(base, exactlyOnce, `${mode}-lat`), rate, seconds, mode);
  }
}

async function benchScoring(): Promise<void> {
  for (const r of await benchInference({ batches: [1, 32, 256], msPerCase: 1000 })) {
    console.log(
      `inference batch ${String(r.batch).padStart(3)}: dense JS ${fmt(r.dense_rows_per_s)} rows/s, ModelScorer ${fmt(r.scorer_rows_per_s)} rows/s, tfjs-wasm predict ${fmt(r.tfjs_rows_per_s)} rows/s  (dense ÷ tfjs ${(r.dense_rows_per_s / r.tfjs_rows_per_s).toFixed(1)}×, max |Δ| ${r.max_abs_diff.toExponential(1)})`,
    );
  }
  console.log(`explanation of a risky event (occlusion over the top candidates): ${(await benchExplanation()).toFixed(1)} µs extra`);
}

async function benchTrainingTime(): Promise<void> {
  for (const backend of ['wasm', 'cpu'] as const) {
    const t = await benchTraining({ rows: 50_000, epochs: 15, backend });
    console.log(`training 50,000 rows × 15 epochs on tfjs-${t.backend}: ${(t.ms / 1000).toFixed(1)} s`);
  }
}

export async function runBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { events: { type: 'string', default: '200000' }, rate: { type: 'string', default: '5000' }, seconds: { type: 'string', default: '10' }, only: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help === true) return void console.log(HELP);
  const only = new Set((values.only ?? 'core,e2e,latency,inference').split(','));
  const n = Number(values.events);
  const scratch = mkdtempSync(path.join(tmpdir(), 'rtds-bench-'));
  try {
    const base = loadConfig({ logLevel: 'silent' });
    const modelDir = await modelDirWithActiveModel(base, scratch);
    console.log(`RTDS bench — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
    const events = new TrafficGenerator({ seed: 3, users: 20_000 }).take(n).map((g) => g.event);
    if (only.has('core')) {
      const served = await serveActiveModel(new ModelRegistry(modelDir));
      if (served.metadata === null) throw new Error('bench: the model could not be loaded');
      const model = benchCore(base, served.ladder, events, `model ${served.metadata.version}`);
      const rules = benchCore(base, [new RulesOnlyScorer()], events, 'rules-only scorer');
      console.log(`  model cost: rules-only core is ${(rules / model).toFixed(2)}× the model core`);
    }
    // The embedded runs ignore RTDS_KAFKA_BROKERS / RTDS_DATABASE_URL: they measure the embedded path.
    const { kafkaBrokers: _brokers, databaseUrl: _url, ...embedded } = base;
    const appConfig = (name: string): Config => loadConfig({ ...embedded, dataDir: path.join(scratch, name), modelDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent' }, {});
    if (only.has('e2e')) await benchEndToEnd(appConfig('e2e'), events);
    if (only.has('latency')) await benchLatency(appConfig('latency'), Number(values.rate), Number(values.seconds));
    if (only.has('inference')) await benchScoring();
    if (only.has('training')) await benchTrainingTime();
    if (only.has('kafka')) await benchKafka(loadConfig({ ...base, dataDir: path.join(scratch, 'kafka'), modelDir }), Number(values.rate), Number(values.seconds), events);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
