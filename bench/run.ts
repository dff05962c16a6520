// `rtds bench` / `npm run bench`: throughput of the pipeline core, embedded end to end, and latency at a fixed rate.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startApp, type RunningApp } from '../src/app/index.ts';
import { CommandLine } from '../src/cli/command-line.ts';
import { DemoTraffic } from '../src/app/demo-traffic.ts';
import { FIRST_START_TRAINING, trainFirstModel } from '../src/app/model.ts';
import { eventTimeOptions, loadConfig, type Config } from '../src/config/index.ts';
import { DecisionEngine, defaultRuleSet } from '../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../src/features/index.ts';
import { TrafficGenerator, WALL_CLOCK } from '../src/ingest/generator/index.ts';
import { DecisionPipeline } from '../src/process/index.ts';
import { FolderRegistry, RulesOnlyScorer, serveActiveModel, type ModelMetrics, type Scorer } from '../src/score/index.ts';
import { stringDeserializers, type Message } from '@platformatic/kafka';
import { bodyHash, validateEvent, type Decision } from '../src/contracts/index.ts';
import { PartitionedLog } from '../src/transport/embedded/partitioned-log.ts';
import { KafkaProducer } from '../src/transport/kafka/kafka-producer.ts';
import { ReadCommittedConsumer } from '../src/transport/kafka/read-committed-consumer.ts';
import { ensureTopics, topicNames } from '../src/transport/kafka/topics.ts';
import { partitionFor, type LogRecord } from '../src/transport/log.ts';
import { benchExplanation, benchInference, benchTraining } from './scoring.ts';
import { benchDefaultFeatures, benchFeatureCounts, benchFeatureMatrix, benchSharedEntities, benchStateMemory } from './features.ts';
import { benchRules } from './rules.ts';
import { benchExplorer } from './explorer.ts';
import { benchScaleOut } from './scale-out.ts';
import { stageVariants } from './stages.ts';
import { benchHistory, benchStoreWrites } from './store.ts';
import { benchHttp } from './http.ts';
import { startOtlpReceiver } from './otlp-receiver.ts';
import { benchTracedCore } from './tracing.ts';
import { benchCapture } from './capture.ts';
import { benchFirstStart } from './first-start.ts';

const HELP = `Usage: rtds bench [options]

  --events <n>      events for the throughput runs (default 200000)
  --rate <n>        offered events/s for the latency run (default 5000)
  --seconds <n>     length of the latency run (default 10)
  --only <list>     comma-separated subset of: core, rules, e2e, durability, latency, inference, training, kafka, scaleout, features, stages, store, history, explorer, http, tracing, capture, first-start
                    (first-start: rtds start on an empty data folder three times, each timed to the
                    dashboard, /readyz 200 and the first decision; only when named)
  --users <n>       users whose feature state the features run holds (default 1000000)
  --rows <n>        decisions the explorer run searches (default 1000000), in a schema of its own in RTDS_DATABASE_URL
                    (default: all but training, which takes about two minutes, and kafka,
                    scaleout and stages, which need RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL — a
                    scratch database; stages measures embedded and Kafka with 1, 2 and 4 stages)
  --http-rates <l>  requests/s offered to each HTTP route, comma-separated (default 1000,2500,5000), then
                    full speed; http (when named) runs autocannon against rtds start in its own process
  --http-connections <n>  connections autocannon keeps open (default 64)
  --http-baseline <bin>   another checkout's bin/rtds.js: http runs each load on it too, just before
                    this checkout's, for a before/after comparison in one run
  --features-baseline <bin>  another checkout's bin/rtds.js: features times its rtds features too,
                    the runs alternating, and prints the ratios of time and peak memory
  --core-baseline <dir>   another checkout (its folder, dependencies installed): core runs its
                    pipeline core in this process too, runs alternating, best of 3 each, and prints
                    the ratio — a before/after comparison in one run, whatever the load
  --decisions <n>   decisions over 7 days the history run reads (default 1000000)
                    (store and history run when named: store, the DecisionSink alone writing
                    --events decided events; history, the history API's reads; both on PGlite, and
                    on PostgreSQL in a schema of their own when RTDS_DATABASE_URL is set;
                    capture, the embedded end-to-end run with and without rtds capture recording
                    it, twice each on a quarter of --events, when named)
  --help            this text

Uses the active model under RTDS_MODEL_DIR, or trains one into a temporary registry first.`;

const BIN = fileURLToPath(new URL('../bin/rtds.js', import.meta.url));

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(3);

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** "p50 … ms, p99 … ms, p99.9 … ms, max … ms" of latencies in milliseconds. */
function latencySummary(latencies: readonly number[]): string {
  const sorted = Float64Array.from(latencies).sort();
  return `p50 ${ms(percentile(sorted, 0.5))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, p99.9 ${ms(percentile(sorted, 0.999))} ms, max ${ms(sorted[sorted.length - 1] ?? NaN)} ms`;
}

async function modelDirWithActiveModel(config: Config, scratch: string): Promise<string> {
  if ((await new FolderRegistry(config.modelDir).active()) !== null) return config.modelDir;
  const dir = path.join(scratch, 'models');
  process.stderr.write(`bench: no active model in ${config.modelDir}; training one as at first start (${FIRST_START_TRAINING.events} events)…\n`);
  await trainFirstModel(new DemoTraffic(config, WALL_CLOCK, false), { registry: new FolderRegistry(dir), features: DEFAULT_FEATURE_SET }, config);
  return dir;
}

/**
 * Records as the processor receives them, batched per partition in arrival order like the
 * embedded consumer; with `validated`, each carrying the edge's validation as the embedded log does.
 */
function toBatches(events: unknown[], partitions: number, batchSize: number, validated = false): LogRecord[][] {
  const open = new Map<number, LogRecord[]>();
  const batches: LogRecord[][] = [];
  const offsets = new Array<number>(partitions).fill(0);
  for (const value of events) {
    const key = (value as { user_id: string }).user_id;
    const partition = partitionFor(key, partitions);
    let batch = open.get(partition);
    if (batch === undefined) open.set(partition, (batch = []));
    const checked = validated ? validateEvent(value) : undefined;
    batch.push({ partition, offset: offsets[partition]!++, key, value, acceptedAt: 0, validated: checked?.ok === true ? { event: checked.event, bodyHash: bodyHash(value as object) } : undefined });
    if (batch.length === batchSize) {
      batches.push(batch);
      open.delete(partition);
    }
  }
  batches.push(...open.values());
  return batches;
}

/** What a core run needs from a checkout: this one's modules, or a baseline's loaded from its folder. */
interface CoreModules {
  DecisionPipeline: typeof DecisionPipeline;
  DecisionEngine: typeof DecisionEngine;
  defaultRuleSet: typeof defaultRuleSet;
  features: typeof DEFAULT_FEATURE_SET;
}

const THIS_CORE: CoreModules = { DecisionPipeline, DecisionEngine, defaultRuleSet, features: DEFAULT_FEATURE_SET };

/** One timed run of the core over `batches`, from fresh state: events per second. */
function coreRun(core: CoreModules, config: Config, scorers: Scorer[], batches: LogRecord[][], events: number, challenger: Scorer | null = null): number {
  const pipeline = new core.DecisionPipeline({ scorers, engine: new core.DecisionEngine(core.defaultRuleSet(config.threshold)), features: core.features, eventTime: eventTimeOptions(config) });
  pipeline.useChallenger(challenger);
  const began = performance.now();
  let decided = 0;
  for (const batch of batches) for (const r of pipeline.processBatch(batch)) if (r.kind === 'decided') decided++;
  const seconds = (performance.now() - began) / 1000;
  if (decided !== events) throw new Error(`core: ${decided} decisions for ${events} events`);
  return events / seconds;
}

function benchCore(config: Config, scorers: Scorer[], events: unknown[], label: string, challenger: Scorer | null = null, validated = false): number {
  const batches = toBatches(events, config.partitions, 512, validated);
  const run = (): number => coreRun(THIS_CORE, config, scorers, batches, events.length, challenger);
  run(); // warm-up: JIT and the model's buffers
  const rate = Math.max(run(), run());
  console.log(`core (${label}): ${fmt(rate)} events/s on one core  [validate → features → score → decide, batches of 512, no I/O]`);
  return rate;
}

/**
 * The core of this checkout and of another (`dir`, e.g. a worktree of main) in this process, on
 * the same records and model: runs alternate, so a load that changes during the bench changes
 * both alike; best of three each, after a warm-up round.
 */
async function benchCoreAgainst(dir: string, config: Config, modelDir: string, events: unknown[], scorers: Scorer[]): Promise<void> {
  const from = (file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve(dir, file)).href) as Promise<Record<string, unknown>>;
  const [stages, decide, features, score] = await Promise.all([from('src/process/index.ts'), from('src/decide/index.ts'), from('src/features/index.ts'), from('src/score/index.ts')]);
  const baseline = { DecisionPipeline: stages.DecisionPipeline, DecisionEngine: decide.DecisionEngine, defaultRuleSet: decide.defaultRuleSet, features: features.DEFAULT_FEATURE_SET } as CoreModules;
  const serve = score.serveActiveModel as typeof serveActiveModel;
  const registry = new (score.FolderRegistry as typeof FolderRegistry)(modelDir);
  const baselineScorers = (await serve(registry)).ladder;
  const batches = toBatches(events, config.partitions, 512);
  const runs = { baseline: [] as number[], here: [] as number[] };
  for (let round = 0; round < 4; round++) {
    const b = coreRun(baseline, config, baselineScorers, batches, events.length);
    const h = coreRun(THIS_CORE, config, scorers, batches, events.length);
    if (round === 0) continue; // warm-up
    runs.baseline.push(b);
    runs.here.push(h);
  }
  const best = (r: number[]): number => Math.max(...r);
  const list = (r: number[]): string => r.map(fmt).join(', ');
  console.log(`core, baseline ${dir}: ${fmt(best(runs.baseline))} events/s (${list(runs.baseline)}); this checkout: ${fmt(best(runs.here))} (${list(runs.here)}): ${(best(runs.here) / best(runs.baseline)).toFixed(2)}×  [runs alternating, best of 3]`);
}

/**
 * `onApp`, when given, sees the app once started, before any event; what it returns (a recorder's
 * end, say) is awaited after the app stopped.
 */
async function benchEndToEnd(config: Config, events: unknown[], label = 'embedded end to end', onApp?: (app: RunningApp) => void | Promise<() => Promise<unknown>>): Promise<number> {
  const app = await startApp(config);
  const finish = await onApp?.(app);
  const began = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await app.ingest.submit(events.slice(i, i + 1000), 'bench');
    // Yield so the processor and the store run while events arrive, as with a live producer.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await app.stop(); // drains the log and flushes every decision to the store
  const seconds = (performance.now() - began) / 1000;
  if (finish !== undefined) await finish();
  const { openDatabase } = await import('../src/store/index.ts');
  const db = await openDatabase(config);
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM decisions');
  await db.close();
  if (row!.n !== events.length) throw new Error(`e2e: ${row!.n} decisions stored for ${events.length} events`);
  const rate = events.length / seconds;
  console.log(`${label}: ${fmt(rate)} events/s  [ingest → log → processor → PGlite, ${fmt(events.length)} events and decisions persisted in ${seconds.toFixed(2)} s]`);
  return rate;
}

/** The log alone: events appended in requests of 200, four requests in flight, as HTTP clients send them. */
async function benchLogAppends(config: Config, events: unknown[]): Promise<void> {
  const log =
    config.logDurability === 'memory'
      ? new PartitionedLog(config.partitions)
      : await PartitionedLog.open(config.partitions, { dir: path.join(config.dataDir, 'log'), fsync: config.logDurability === 'fsync', newName: () => 'bench' });
  const began = performance.now();
  let next = 0;
  const client = async (): Promise<void> => {
    for (let from = next; from < events.length; from = next) {
      next += 200;
      const appended = events.slice(from, from + 200).map((e) => log.append((e as { user_id: string }).user_id, e));
      await Promise.all(appended);
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  const seconds = (performance.now() - began) / 1000;
  await log.close();
  console.log(`embedded log alone, RTDS_LOG_DURABILITY=${config.logDurability}: ${fmt(events.length / seconds)} events/s appended and acknowledged  [requests of 200, 4 in flight]`);
}

/** Rounds of the durability comparison: each mode once per round, in a rotated order, so a busy spell of the machine does not fall on one mode only. */
const DURABILITY_ROUNDS = 3;

/**
 * What the embedded log's file costs: end-to-end runs with each RTDS_LOG_DURABILITY, interleaved,
 * the best of each reported (the least disturbed); then the latency at the offered rate without
 * the file (the latency run measures the default, fsync).
 */
async function benchDurability(appConfig: (name: string, durability: Config['logDurability']) => Config, events: unknown[], rate: number, seconds: number): Promise<void> {
  const modes = ['fsync', 'write', 'memory'] as const;
  for (const mode of modes) await benchLogAppends(appConfig(`log-${mode}`, mode), events);
  const rates = new Map<string, number[]>(modes.map((m) => [m, []]));
  for (let round = 0; round < DURABILITY_ROUNDS; round++) {
    for (let i = 0; i < modes.length; i++) {
      const mode = modes[(i + round) % modes.length]!;
      rates.get(mode)!.push(await benchEndToEnd(appConfig(`durability-${mode}-${round}`, mode), events, `embedded end to end, RTDS_LOG_DURABILITY=${mode}`));
    }
  }
  const best = (mode: string): number => Math.max(...rates.get(mode)!);
  for (const mode of modes) console.log(`  ${mode}: best ${fmt(best(mode))} events/s of ${rates.get(mode)!.map(fmt).join(', ')}`);
  console.log(`  durability cost: fsync runs at ${(best('fsync') / best('memory')).toFixed(2)}×, write at ${(best('write') / best('memory')).toFixed(2)}× the log without a file (best runs)`);
  await benchLatency(appConfig('durability-latency', 'memory'), rate, seconds, 'embedded, RTDS_LOG_DURABILITY=memory,');
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
  const unsubscribe = app.feed.subscribe((decision) => {
    if (measuring) latencies.push(decision.processing_time_ms);
  });
  const generator = new TrafficGenerator({ seed: 11, users: 20_000, start: Date.now(), eventTimeRate: rate, dailyRhythm: false, warmStart: true });
  const pauses = new MainThreadPauses();
  const began = performance.now();
  const warmUp = Math.round(rate * WARM_UP_S);
  const total = warmUp + Math.round(rate * seconds);
  let offered = 0;
  while (offered < total) {
    measuring = offered >= warmUp;
    // Each wake-up (≈ 1 ms) submits the events whose time has come, one request each, without
    // waiting for one to be accepted before sending the next, as independent clients would: an
    // fsynced log accepts each wake-up's events with one write.
    const due = Math.min(total, Math.floor(((performance.now() - began) * rate) / 1000));
    if (measuring) pauses.start();
    const accepted: Promise<unknown>[] = [];
    for (; offered < due; offered++) accepted.push(app.ingest.submit([generator.next().event], 'bench'));
    await Promise.all(accepted);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  pauses.stop();
  await app.stop();
  unsubscribe();
  console.log(
    `${label} latency at ${fmt(rate)} events/s offered (${fmt(latencies.length)} events over ${seconds} s after ${WARM_UP_S} s of warm-up, arrivals spread evenly): ${latencySummary(latencies)}  [accepted → decision available]`,
  );
  console.log(`  ${pauses.summary()}`);
}

/**
 * What held the main thread over a measured window: garbage-collection pauses (scavenges and
 * full collections) and how late the event loop ran timers — the part of a latency tail that is
 * not I/O.
 */
class MainThreadPauses {
  private readonly loop = monitorEventLoopDelay({ resolution: 1 });
  private readonly gc = { minor: 0, major: 0, totalMs: 0, maxMs: 0 };
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) this.gc.minor++;
      else this.gc.major++;
      this.gc.totalMs += entry.duration;
      this.gc.maxMs = Math.max(this.gc.maxMs, entry.duration);
    }
  });
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop.enable();
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.loop.disable();
    this.observer.disconnect();
  }

  summary(): string {
    const g = this.gc;
    const delay = (q: number): string => (this.loop.percentile(q) / 1e6).toFixed(1);
    return `main thread meanwhile: ${g.minor} scavenges and ${g.major} full collections, ${fmt(g.totalMs)} ms paused in all, the longest ${g.maxMs.toFixed(1)} ms; event-loop delay p50 ${delay(50)} ms, p99 ${delay(99)} ms, max ${(this.loop.max / 1e6).toFixed(1)} ms`;
  }
}

/**
 * A fresh topic prefix and group per Kafka run, so runs never read each other's records; `tag`
 * also prefixes the run's event ids, since the runs share one database.
 */
function kafkaRunConfig(base: Config, exactlyOnce: boolean, run: string): Config & { tag: string } {
  const tag = `${Date.now().toString(36)}.${run}`;
  return { tag, ...loadConfig({ ...base, kafkaExactlyOnce: exactlyOnce, kafkaTopicPrefix: `bench.${tag}.`, kafkaGroup: `bench-${tag}`, port: 0, generator: false, trainOnStart: false, logLevel: 'silent' }) };
}

/** `rtds generate --target kafka` in a process of its own, as a producer of the organisation would run. */
async function generateOnKafka(config: Config & { tag: string }, args: string[]): Promise<void> {
  const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, 'generate', '--target', 'kafka', '--skip-labels', '--quiet', '--id-prefix', `${config.tag}_`, ...args], {
    env: { ...env, RTDS_KAFKA_BROKERS: config.kafkaBrokers, RTDS_KAFKA_TOPIC_PREFIX: config.kafkaTopicPrefix, RTDS_PARTITIONS: String(config.partitions) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`rtds generate exited with ${code}`);
}

/** Resolves when the processor has committed every record the topic holds (polled, as the broker's end offsets are). */
async function caughtUp(app: RunningApp): Promise<void> {
  for (let zeroes = 0; zeroes < 3; ) {
    zeroes = app.lag() === 0 ? zeroes + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Sustained throughput: the events topic is loaded first, then one processor drains it, timed
 * from its first decision until the last is stored and committed (its transaction, in
 * exactly-once mode). Joining the group and opening the producer are start-up, not throughput.
 */
async function benchKafkaThroughput(config: Config & { tag: string }, generated: unknown[], mode: string): Promise<number> {
  const events = (generated as { event_id: string; user_id: string }[]).map((e) => ({ ...e, event_id: `${config.tag}_${e.event_id}` }));
  const topics = topicNames(config.kafkaTopicPrefix);
  await ensureTopics(config.kafkaBrokers!.split(','), topics, config.partitions);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers!.split(','), clientId: 'bench-load', topic: topics.events, lingerMs: 5, batchSize: config.kafkaBatchSize, compression: config.kafkaCompression });
  const loading = performance.now();
  for (let i = 0; i < events.length; i += 10_000) await Promise.all(events.slice(i, i + 10_000).map((e) => producer.append(e.user_id, e)));
  await producer.close();
  const loaded = (performance.now() - loading) / 1000;
  // Each distinct valid event gets one decision; re-sent ids and invalid events do not.
  const ids = new Set<string>();
  for (const e of events) {
    const checked = validateEvent(e);
    if (checked.ok) ids.add(checked.event.event_id);
  }
  const app = await startApp(config, { roles: { api: false, processor: true } });
  // The group may assign the partitions and decisions begin before startApp returns, so the feed
  // may have passed some on already: the metrics count every decision from the start.
  await new Promise<void>((resolve) => {
    const check = (): void => void (app.metrics.decisionsCounted >= ids.size && resolve());
    app.feed.subscribe(check);
    check();
  });
  await app.sink.flush();
  // From the first decision: its time as the store holds it (this machine's clock, as Date.now).
  const [first] = await app.db.query<{ ms: number }>(`SELECT extract(epoch FROM min("timestamp")) * 1000 AS ms FROM decisions WHERE event_id LIKE $1`, [`${config.tag}\\_%`]);
  await app.stop(); // the last batch stored and committed
  const sustained = events.length / ((Date.now() - Number(first!.ms)) / 1000);
  console.log(
    `kafka ${mode}: ${fmt(sustained)} events/s decided, stored and committed  [${fmt(events.length)} events loaded into ${config.partitions} partitions first (${fmt(events.length / loaded)} events/s), then drained by one processor → PostgreSQL + topics]`,
  );
  return sustained;
}

/**
 * Overload: a separate producer offers more than the processor takes for `seconds`; the lag is
 * sampled each second while it grows and while the processor catches up after the producer stops.
 */
async function benchKafkaOverload(config: Config & { tag: string }, rate: number, seconds: number, mode: string): Promise<void> {
  const app = await startApp(config, { roles: { api: false, processor: true } });
  const samples: number[] = [];
  let rss = 0;
  const sampler = setInterval(() => {
    samples.push(app.lag());
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 1000);
  const began = performance.now();
  await generateOnKafka(config, ['--rate', String(Math.round(rate)), '--duration', String(seconds), '--seed', '12']);
  const offered = (performance.now() - began) / 1000;
  await caughtUp(app);
  const total = (performance.now() - began) / 1000;
  clearInterval(sampler);
  await app.stop();
  console.log(
    `  ${mode} under overload (${fmt(rate)} events/s offered by another process for ${seconds} s): lag ${samples.map(fmt).join(' → ')} (each second); peak ${fmt(Math.max(0, ...samples))}, caught up ${(total - offered).toFixed(1)} s after the producer stopped; processor RSS peak ${fmt(rss / 2 ** 20)} MiB`,
  );
}

/**
 * Latency at a fixed rate offered by a separate producer. A read_committed consumer of the
 * decisions topic takes each decision's arrival minus the broker's timestamp of its event
 * (accepted); the processor's own accepted → decided time is shown next to it.
 */
async function benchKafkaLatency(config: Config & { tag: string }, rate: number, seconds: number, mode: string): Promise<void> {
  const app = await startApp(config, { roles: { api: false, processor: true } });
  let decided = 0;
  const unsubscribe = app.feed.subscribe(() => void decided++);
  const visible: number[] = [];
  const decidedIn: number[] = [];
  const bySecond: number[][] = [];
  let received = 0;
  const measureFrom = Date.now() + WARM_UP_S * 1000;
  const reader = new ReadCommittedConsumer({ groupId: `${config.kafkaGroup}-reader`, clientId: 'bench-reader', bootstrapBrokers: config.kafkaBrokers!.split(','), deserializers: stringDeserializers, maxWaitTime: 5, isolationLevel: 1 });
  const stream = await reader.consume({ topics: [topicNames(config.kafkaTopicPrefix).decisions], mode: 'earliest', autocommit: false });
  let onReceived: (() => void) | undefined;
  stream.on('data', (m: Message<string, string, string, string>) => {
    received++;
    onReceived?.();
    const decision = JSON.parse(m.value) as Decision;
    const accepted = Date.parse(decision.timestamp) - decision.processing_time_ms;
    if (accepted < measureFrom) return; // warm-up
    visible.push(Date.now() - accepted);
    (bySecond[Math.floor((accepted - measureFrom) / 1000)] ??= []).push(Date.now() - accepted);
    decidedIn.push(decision.processing_time_ms);
  });
  await generateOnKafka(config, ['--rate', String(rate), '--duration', String(WARM_UP_S + seconds), '--seed', '11', '--users', '20000', '--batch', '50']);
  await caughtUp(app);
  await app.stop();
  unsubscribe();
  // The last transaction is committed: the reader gets its decisions within a few fetches.
  await new Promise<void>((resolve) => {
    onReceived = () => received >= decided && resolve();
    onReceived();
  });
  await stream.close();
  await reader.close(true);
  console.log(`  ${mode} latency at ${fmt(rate)} events/s offered by another process (${fmt(visible.length)} decisions over ${seconds} s after ${WARM_UP_S} s of warm-up):`);
  console.log(`    accepted by the broker → decision visible to a read_committed consumer: ${latencySummary(visible)}`);
  console.log(`    accepted by the broker → decided in the processor: ${latencySummary(decidedIn)}`);
  // Whether the tail is a spell (a start-up, a rebalance) or steady.
  const p99 = (xs: number[] | undefined): string => (xs === undefined ? '–' : fmt(percentile(Float64Array.from(xs).sort(), 0.99)));
  console.log(`    visible, p99 of each second accepted (ms): ${Array.from(bySecond, p99).join(' · ')}`);
}

async function benchKafka(base: Config, rate: number, seconds: number, events: unknown[]): Promise<void> {
  if (base.kafkaBrokers === undefined || base.databaseUrl === undefined) throw new Error('bench kafka: set RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL (a scratch database)');
  console.log(`kafka settings: ${base.partitions} partitions, linger ${base.kafkaLingerMs} ms, ${base.kafkaCompression}, store batches of ${base.sinkBatchSize} × ${base.sinkConcurrency} connections`);
  for (const [exactlyOnce, mode] of [
    [true, 'exactly-once'],
    [false, 'at-least-once'],
  ] as const) {
    const sustained = await benchKafkaThroughput(kafkaRunConfig(base, exactlyOnce, `${mode}-tput`), events, mode);
    await benchKafkaOverload(kafkaRunConfig(base, exactlyOnce, `${mode}-over`), 1.5 * sustained, seconds, mode);
    await benchKafkaLatency(kafkaRunConfig(base, exactlyOnce, `${mode}-lat`), rate, seconds, mode);
  }
}

/**
 * What the stages cost: the same traffic through 1, 2 and 4 stages (user features only, then a
 * merchant, then a device and an IP address too), scored alike (rules only, no model), embedded
 * and, when configured, on Kafka exactly-once — throughput, and latency at a fixed rate.
 */
async function benchStages(base: Config, appConfig: (name: string) => Config, scratch: string, events: unknown[], rate: number, seconds: number): Promise<void> {
  const variants = stageVariants(scratch);
  const modelDir = mkdtempSync(path.join(scratch, 'no-model-'));
  const embeddedRates: number[] = [];
  for (const [i, v] of variants.entries()) {
    const config = (name: string): Config => ({ ...appConfig(`stages-${i}-${name}`), featuresFile: v.file, modelDir });
    embeddedRates.push(await benchEndToEnd(config('e2e'), events, `embedded, ${v.stages} stage${v.stages === 1 ? '' : 's'} (${v.label})`));
    await benchLatency(config('latency'), rate, seconds, `  embedded, ${v.stages} stage${v.stages === 1 ? '' : 's'}`);
  }
  console.log(`  embedded throughput relative to 1 stage: ${embeddedRates.map((r) => (r / embeddedRates[0]!).toFixed(2)).join(' / ')}`);
  if (base.kafkaBrokers === undefined || base.databaseUrl === undefined) return void console.log('  (Kafka skipped: set RTDS_KAFKA_BROKERS and RTDS_DATABASE_URL)');
  const kafkaRates: number[] = [];
  for (const [i, v] of variants.entries()) {
    const config = (run: string): Config & { tag: string } => ({ ...kafkaRunConfig({ ...base, dataDir: path.join(scratch, `kafka-${i}`), modelRegistry: 'folder', modelDir, featuresFile: v.file }, true, `stages${i}-${run}`) });
    kafkaRates.push(await benchKafkaThroughput(config('tput'), events, `exactly-once, ${v.stages} stage${v.stages === 1 ? '' : 's'} (${v.label})`));
    await benchKafkaLatency(config('lat'), rate, seconds, `exactly-once, ${v.stages} stage${v.stages === 1 ? '' : 's'}`);
  }
  console.log(`  Kafka throughput relative to 1 stage: ${kafkaRates.map((r) => (r / kafkaRates[0]!).toFixed(2)).join(' / ')}`);
}

/** Rounds of the tracing comparison, each mode once per round in a rotated order (as the durability runs). */
const TRACING_ROUNDS = 3;

/**
 * What tracing costs the embedded pipeline end to end: off; on at ratio 0 (every event's spans
 * recorded, only the traces of rejected and degraded decisions exported); on at ratio 1 (every
 * trace exported). On, spans go over OTLP/HTTP (protobuf) to a receiver in a thread of its own.
 */
async function benchTracing(appConfig: (name: string) => Config, events: unknown[]): Promise<void> {
  const receiver = await startOtlpReceiver();
  try {
    const modes = [
      { name: 'off', settings: {} },
      { name: 'on, ratio 0', settings: { tracesExporter: 'otlp', otlpTracesEndpoint: receiver.url, traceSampleRatio: 0 } },
      { name: 'on, ratio 1', settings: { tracesExporter: 'otlp', otlpTracesEndpoint: receiver.url, traceSampleRatio: 1 } },
    ] as const;
    const rates = new Map<string, number[]>(modes.map((m) => [m.name, []]));
    for (let round = 0; round < TRACING_ROUNDS; round++) {
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[(i + round) % modes.length]!;
        const before = await receiver.totals();
        let app: RunningApp | undefined;
        const rate = await benchEndToEnd({ ...appConfig(`tracing-${i}-${round}`), ...mode.settings }, events, `embedded end to end, tracing ${mode.name}`, (started) => void (app = started));
        rates.get(mode.name)!.push(rate);
        const after = await receiver.totals();
        const counts = app?.tracing?.counts;
        if (counts !== undefined) {
          console.log(`  traces: ${fmt(counts.sampled)} sampled, ${fmt(counts.kept)} kept for their decision, ${fmt(counts.dropped)} dropped; ${fmt(after.requests - before.requests)} export requests, ${fmt((after.bytes - before.bytes) / 1024)} KiB received`);
        }
      }
    }
    const best = (name: string): number => Math.max(...rates.get(name)!);
    for (const m of modes) console.log(`  tracing ${m.name}: best ${fmt(best(m.name))} events/s of ${rates.get(m.name)!.map(fmt).join(', ')}`);
    console.log(`  tracing cost: ratio 0 runs at ${(best('on, ratio 0') / best('off')).toFixed(2)}×, ratio 1 at ${(best('on, ratio 1') / best('off')).toFixed(2)}× the pipeline without tracing (best runs)`);
  } finally {
    await receiver.close();
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

function benchFeatures(config: Config, generated: unknown[], users: number): void {
  const events = generated.map((e) => {
    const checked = validateEvent(e);
    if (!checked.ok) throw new Error('bench: the generator produced an invalid event');
    return checked.event;
  });
  const eventTime = eventTimeOptions(config);
  const own = benchDefaultFeatures(events, eventTime, config.partitions);
  console.log(
    `features, default set (${DEFAULT_FEATURE_SET.names.length} features in ${DEFAULT_FEATURE_SET.groupCount} groups): interpreted ${own.interpretedUs.toFixed(1)} µs per event, compiled ${own.compiledUs.toFixed(1)} µs (${fmt(1e6 / own.compiledUs)} events/s on one core), ${(own.interpretedUs / own.compiledUs).toFixed(1)}× faster  [feature step only: watermark, dedupe, windows, expressions]`,
  );
  for (const usersPerHour of [20, 200, 2000]) {
    const shared = benchSharedEntities(eventTime, usersPerHour);
    console.log(
      `features, default set, one IP address and 50 devices shared by ${fmt(usersPerHour)} users an hour: ${shared.us.toFixed(1)} µs per event (${(shared.us / own.compiledUs).toFixed(1)}× the generated traffic's; the address's distinct users in 24 h: ${fmt(shared.ipUsers)})`,
    );
  }
  for (const r of benchFeatureCounts(events, eventTime, config.partitions, [10, 50, 200])) {
    console.log(`features, ${String(r.features).padStart(3)} synthetic features (${r.groups} groups): ${fmt(r.rate)} events/s; with the n-64-32-16-1 MLP scoring them: ${fmt(r.withModel)} events/s`);
  }
  const m = benchStateMemory(users, 3, eventTime);
  console.log(
    `feature state of the default set: ${fmt(m.users)} users × 3 events over 30 days → ${fmt(m.heapBytes / 2 ** 20)} MiB of heap, ${fmt(m.perUserBytes)} bytes per user (${fmt(m.entities)} entities; ${fmt(m.eventIds)} event ids remembered; built in ${m.seconds.toFixed(1)} s)`,
  );
}

async function benchTrainingTime(config: Config, scratch: string): Promise<void> {
  for (const backend of ['wasm', 'cpu'] as const) {
    const t = await benchTraining({ rows: 50_000, epochs: 15, backend });
    console.log(`training 50,000 rows × 15 epochs on tfjs-${t.backend}: ${(t.ms / 1000).toFixed(1)} s`);
  }
  // The first start's training as `rtds start` runs it: the demo's history generated, its features replayed, MLP and fallback trained, both judged on the held-out period.
  const started = performance.now();
  const outcome = await trainFirstModel(new DemoTraffic(config, WALL_CLOCK, false), { registry: new FolderRegistry(path.join(scratch, 'lifecycle')), features: DEFAULT_FEATURE_SET }, config);
  const seconds = (performance.now() - started) / 1000;
  const line = (name: string, m: ModelMetrics): string =>
    `${name}: ROC-AUC ${m.roc_auc.toFixed(4)}, AP ${m.average_precision.toFixed(4)}, ${m.at.map((t) => `P/R at ${t.threshold.toFixed(2)} ${t.precision.toFixed(3)}/${t.recall.toFixed(3)}`).join(', ')}`;
  console.log(
    `first-start training on the demo's last ${fmt(FIRST_START_TRAINING.events)} events, ${fmt(FIRST_START_TRAINING.labelled)} labelled (${FIRST_START_TRAINING.epochs} epochs, MLP + fallback): ${seconds.toFixed(1)} s with the history generated; held-out ${fmt(outcome.test.rows)} events, ${outcome.test.positives} fraud`,
  );
  console.log(`  ${line('MLP', outcome.test)}`);
  console.log(`  ${line('fallback logistic regression', outcome.fallbackTest)}`);
}

export async function runBench(args: string[]): Promise<void> {
  const parsed = new CommandLine('bench', HELP).parse(args, {
    events: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000000' },
    decisions: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '1000000' },
    'http-rates': { type: 'string', default: '1000,2500,5000' },
    'http-connections': { type: 'string', default: '64' },
    'http-baseline': { type: 'string' },
    'core-baseline': { type: 'string' },
    'features-baseline': { type: 'string' },
    only: { type: 'string' },
  });
  if (parsed === undefined) return;
  const { values } = parsed;
  const only = new Set((values.only ?? 'core,rules,e2e,durability,latency,inference').split(','));
  // Timed from the command line in processes of its own, before anything here loads the machine.
  if (only.has('first-start')) {
    await benchFirstStart({ 'this checkout': BIN });
    if (only.size === 1) return;
  }
  const n = Number(values.events);
  const scratch = mkdtempSync(path.join(tmpdir(), 'rtds-bench-'));
  try {
    const base = loadConfig({ logLevel: 'silent' });
    const modelDir = await modelDirWithActiveModel(base, scratch);
    console.log(`RTDS bench — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
    const events = new TrafficGenerator({ seed: 3, users: 20_000 }).take(n).map((g) => g.event);
    let modelCore: number | undefined;
    if (only.has('core')) {
      const served = await serveActiveModel(new FolderRegistry(modelDir));
      if (served.metadata === null) throw new Error('bench: the model could not be loaded');
      const version = served.metadata.version;
      const model = benchCore(base, served.ladder, events, `model ${version}`);
      modelCore = model;
      const edge = benchCore(base, served.ladder, events, `model ${version}, records validated at the edge as the embedded log carries them`, null, true);
      console.log(`  validated once: the core of records carrying their edge's validation runs at ${(edge / model).toFixed(2)}× the model core`);
      const fallback = served.ladder.find((s) => s.degraded === 'fallback_model');
      if (fallback !== undefined) {
        const rate = benchCore(base, served.ladder.slice(1), events, `fallback model ${fallback.version} alone, as while the circuit is open`);
        console.log(`  fallback core is ${(rate / model).toFixed(2)}× the model core`);
      }
      // The challenger as the follower serves it: the same kind of model, no explanations.
      const shadow = await serveActiveModel(new FolderRegistry(modelDir), { topFeatures: 0 });
      const shadowed = benchCore(base, served.ladder, events, `model ${version} + a challenger in shadow`, shadow.scorer);
      console.log(`  challenger cost: the core with a challenger runs at ${(shadowed / model).toFixed(2)}× the model core`);
      const rules = benchCore(base, [new RulesOnlyScorer()], events, 'rules-only scorer');
      console.log(`  model cost: rules-only core is ${(rules / model).toFixed(2)}× the model core`);
      if (values['core-baseline'] !== undefined) await benchCoreAgainst(values['core-baseline'], base, modelDir, events, served.ladder);
    }
    if (only.has('rules')) {
      const r = benchRules();
      const share = modelCore === undefined ? '' : ` (${((r.builtin_us * modelCore) / 1e4).toFixed(1)} % of the model core's time per event)`;
      console.log(`decision stage, built-in rule set: ${r.builtin_us.toFixed(2)} µs per event${share}`);
      for (const set of r.sets) console.log(`rules: ${set.rules} CEL conditions: ${fmt(set.evaluations_per_s)} rule evaluations/s, ${set.decide_us.toFixed(2)} µs to decide an event`);
    }
    // The embedded runs ignore RTDS_KAFKA_BROKERS / RTDS_DATABASE_URL: they measure the embedded path.
    const { kafkaBrokers: _brokers, databaseUrl: _url, ...embedded } = base;
    // The model is served from its folder in every run, whatever RTDS_MODEL_REGISTRY says.
    const appConfig = (name: string, logDurability = embedded.logDurability): Config =>
      loadConfig({ ...embedded, logDurability, dataDir: path.join(scratch, name), modelRegistry: 'folder', modelDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent' }, {});
    if (only.has('e2e')) await benchEndToEnd(appConfig('e2e'), events);
    // Nine runs: each on a quarter of the events, so the comparison takes about as long as the e2e run.
    if (only.has('durability')) await benchDurability(appConfig, events.slice(0, Math.ceil(n / 4)), Number(values.rate), Number(values.seconds));
    if (only.has('latency')) await benchLatency(appConfig('latency'), Number(values.rate), Number(values.seconds));
    if (only.has('tracing')) {
      const served = await serveActiveModel(new FolderRegistry(modelDir));
      for (const r of await benchTracedCore(base, served.ladder, toBatches(events, base.partitions, 512))) {
        const cost = r.label === 'off' ? '' : ` (+${r.extraCpuUs.toFixed(1)} µs), ${fmt(r.exported)} spans exported over 4 runs`;
        console.log(`core, tracing ${r.label}: ${fmt(r.rate)} events/s, ${r.cpuUs.toFixed(1)} µs CPU per event${cost}  [append, process, features, score, decide, store write, publish spans per event; best of 3]`);
      }
      // Nine runs on a quarter of the events each, like the durability comparison.
      await benchTracing(appConfig, events.slice(0, Math.ceil(n / 4)));
    }
    if (only.has('inference')) await benchScoring();
    if (only.has('training')) await benchTrainingTime(base, scratch);
    if (only.has('features')) {
      benchFeatures(base, events, Number(values.users));
      const matrix = await benchFeatureMatrix(BIN, scratch, events, values['features-baseline']);
      for (const run of matrix.runs) {
        const which = run.bin === BIN ? '' : ` (${run.bin})`;
        console.log(`rtds features${which} over ${fmt(events.length)} events: ${run.seconds.toFixed(2)} s (start-up included), peak RSS ${fmt(run.peakRssMb)} MB; JSON.parse + one Map update per event: ${matrix.floorS.toFixed(2)} s — ${(run.seconds / matrix.floorS).toFixed(1)}× the floor  [best of 2 each]`);
      }
      if (matrix.runs.length === 2) console.log(`  rtds features, this checkout against the baseline: ${(matrix.runs[1]!.seconds / matrix.runs[0]!.seconds).toFixed(2)}× the time, ${(matrix.runs[1]!.peakRssMb / matrix.runs[0]!.peakRssMb).toFixed(2)}× the peak memory  [runs alternating]`);
    }
    if (only.has('scaleout')) await benchScaleOut(base, modelDir, events);
    if (only.has('stages')) await benchStages(base, appConfig, scratch, events, Number(values.rate), Number(values.seconds));
    if (only.has('store')) await benchStoreWrites(base.databaseUrl, scratch, events);
    if (only.has('history')) await benchHistory(base.databaseUrl, scratch, Number(values.decisions));
    if (only.has('capture')) await benchCapture(appConfig, events.slice(0, Math.ceil(n / 4)), scratch, benchEndToEnd);
    if (only.has('explorer')) {
      if (base.databaseUrl === undefined) throw new Error('bench: the explorer run needs RTDS_DATABASE_URL (PostgreSQL)');
      await benchExplorer(base.databaseUrl, Number(values.rows), path.join(scratch, 'explorer'));
    }
    if (only.has('http')) await benchHttp({ bin: BIN, baseline: values['http-baseline'], scratch, modelDir, rates: values['http-rates'].split(',').map(Number), seconds: Number(values.seconds), connections: Number(values['http-connections']) });
    if (only.has('kafka')) await benchKafka(loadConfig({ ...base, dataDir: path.join(scratch, 'kafka'), modelRegistry: 'folder', modelDir }), Number(values.rate), Number(values.seconds), events);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
