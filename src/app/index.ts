// The whole system in one process: wires transport, processor, store, API and generator from the config.
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { accessPolicy, deployedThresholds, eventTimeBounds, eventTimeOptions, type Config } from '../config/index.ts';
import { parseControlRecord, parsePublishedDecision, type RtdsEvent } from '../contracts/index.ts';
import { DecisionEngine, defaultRuleSet, loadRuleSetFile } from '../decide/index.ts';
import { loadFeatureSet, type FeatureSet } from '../features/index.ts';
import { EventIngest } from '../ingest/event-ingest.ts';
import { TrafficTap } from '../ingest/traffic-tap.ts';
import { WALL_CLOCK, type Clock } from '../ingest/generator/index.ts';
import { clip, clipErrors, createLogger, moduleLogger, PipelineMetrics, ProcessMonitor, settlesWithin, type LiveSummary, type Logger, type LogModule, type ScrapedFigures } from '../observe/index.ts';
import type { LocalSpan, Tracing } from '../observe/tracing/index.ts';
import { CarriedEventError, DeadLetterRoute, decodeCarried, DecisionPipeline, MicroBatchSize, Processor, stageOutput, type PartitionHistory, type StageTasks } from '../process/index.ts';
import { CircuitOpenError, type BreakerState } from '../score/index.ts';
import { claimedBodies, fraudVerdictsOf, DecisionSink, loadEmbeddedHistory, loadPartitionHistory, openDatabase, releaseLostClaims, StoreClaims, storedOffsetsFrom, type Database, type DeadLetter, type HistoryReach } from '../store/index.ts';
import { partitionFor } from '../transport/log.ts';
import { DecisionFeed } from '../api/decision-feed.ts';
import type { ConsumedInput } from '../api/health.ts';
import { livePerformance, type ModelControl } from '../api/models.ts';
import { HttpPort } from '../api/http-port.ts';
import { buildServer } from '../api/server.ts';
import { DemoTraffic } from './demo-traffic.ts';
import { LabelFeed } from '../follow/label-feed.ts';
import { labelIntake } from './label-intake.ts';
import { LiveTraffic } from './live-traffic.ts';
import { RulesFollower } from '../follow/rules-follower.ts';
import { ActiveModelFollower } from '../follow/active-model-follower.ts';
import { loadScorers, trainingPercent, type FirstStartTraining } from './model.ts';
import { openModelRegistry } from './model-registry.ts';
import { openTransport, type Transport } from '../transport/transport.ts';
import { stageGroup, topologyFor } from './topology.ts';
import { Readiness } from './readiness.ts';
import { openAppTracing } from './tracing.ts';
import type { TrainingProgress } from './training.ts';


export interface RunningApp {
  /** Base URL of the HTTP server. */
  url: string;
  config: Config;
  logger: Logger;
  db: Database;
  metrics: PipelineMetrics;
  pipeline: DecisionPipeline;
  ingest: EventIngest;
  sink: DecisionSink;
  /** Fresh decisions as they are made. */
  feed: DecisionFeed;
  /** Stored verdicts on their way to label-driven features; absent when the feature set has none, or no processor runs here. */
  labels: LabelFeed | undefined;
  /** Called as each batch of the labels topic is durable: labels stored, and refused (dead-lettered). Kafka only. */
  onLabelsStored(listener: (stored: number, refused: number) => void): void;
  /** Called with the version served after each switch of the active model (activation, rollback, announcement or poll). */
  onModelSwitched(listener: (version: string | null) => void): void;
  /** When tracing: its traces' fate so far, and a way to export what is queued now. */
  tracing: Tracing | undefined;
  /** Events appended to the log and not yet committed by this process's processor. */
  lag(): number;
  /** Drain the log, flush the store, close everything. */
  stop(): Promise<void>;
}

/** Decisions of the served model that its live figures (/metrics) cover. */
const LIVE_WINDOW = 10_000;

/** Below this a micro-batch's fixed costs (a scorer call, a clock read, a turn of the event loop) start to show. */
const MIN_MICRO_BATCH = 16;

/** The sink holds at most this many batches before the processor waits for the store. */
const SINK_HIGH_WATER_BATCHES = 8;

export interface AppRoles {
  /** HTTP API, dashboard and (with the generator setting) synthetic traffic. */
  api: boolean;
  /** A processor instance: consumes the events log and decides. */
  processor: boolean;
}

export interface AppOptions {
  logger?: Logger;
  roles?: AppRoles;
  /** The clock of the demo's traffic: where its history ends and live traffic starts, and its pace. Default the wall clock. */
  clock?: Clock;
  /** Trace to this exporter (tests, benchmarks), whatever OTEL_TRACES_EXPORTER says. */
  spanExporter?: SpanExporter;
  /** The HTTP port, already bound by the caller (rtds start binds it before loading the app); default: bound first thing here. */
  httpPort?: HttpPort;
  /** How the first model's training goes, when one is trained at start. */
  onTraining?: (progress: TrainingProgress) => void;
  /** The first model's training run: FIRST_START_TRAINING but in tests, which train a small one. */
  firstModel?: FirstStartTraining;
}

/**
 * Starts the system. With the API, the HTTP port is bound first: a busy port fails at once, and
 * the dashboard, /healthz and a /readyz that says what is starting (the first model's training,
 * with its progress) answer while the rest assembles; then the full API takes the port over.
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const roles = options.roles ?? { api: true, processor: true };
  const port = roles.api ? (options.httpPort ?? (await HttpPort.bind(config.host, config.port))) : undefined;
  try {
    return await assemble(config, options, roles, port);
  } catch (err) {
    await port?.close();
    throw err;
  }
}

async function assemble(config: Config, options: AppOptions, roles: AppRoles, port: HttpPort | undefined): Promise<RunningApp> {
  const root = options.logger ?? createLogger(config.logLevel);
  const log = (module: LogModule): Logger => moduleLogger(root, module, config.logLevels);
  const logger = log('app');
  const storeLog = log('store');
  const processLog = log('process');
  const modelLog = log('model');
  const labelsLog = log('labels');
  const runsTraffic = roles.api && config.generator;
  const demo = new DemoTraffic(config, options.clock ?? WALL_CLOCK, runsTraffic);
  /** What the port's starting answers say is under way. */
  const starting = (step: string): void => {
    if (port !== undefined) port.step = step;
  };
  if (port !== undefined) logger.info({ url: port.url }, `listening: the dashboard at ${port.url}/ shows what is starting`);
  const db = await openDatabase(config);
  logger.info({ database: db.kind, dataDir: config.databaseUrl === undefined ? config.dataDir : undefined }, 'store ready');

  const metrics = new PipelineMetrics();
  const tracing = await openAppTracing(config, logger, options.spanExporter);
  const featureSet = loadFeatureSet(config.featuresFile);
  logger.info({ feature_set: featureSet.version, features: featureSet.names.length, file: config.featuresFile }, 'feature set loaded');
  const registry = openModelRegistry(config, featureSet.version, db, (message) => modelLog.warn(message));
  logger.info({ registry: registry.location }, 'model registry ready');
  starting('loading the model');
  const scorers = await loadScorers(config, modelLog, featureSet, registry, demo, {
    size: options.firstModel,
    onTraining: (progress) => {
      starting(`training the first model (${trainingPercent(progress)} %)`);
      options.onTraining?.(progress);
    },
  });
  starting('restoring state and starting the processors');
  const engine = new DecisionEngine(config.rulesFile === undefined ? defaultRuleSet(config.threshold) : loadRuleSetFile(config.rulesFile), { features: featureSet.names });
  const topology = topologyFor(config, featureSet);
  // On Kafka each stage runs in the processors its partitions are assigned to; on the embedded log all of them run here at once.
  const distributed = config.kafkaBrokers !== undefined && topology.hops > 0;
  const pipeline = new DecisionPipeline({
    scorers,
    engine,
    features: featureSet,
    eventTime: eventTimeOptions(config),
    partitions: config.partitions,
    distributed,
    validation: { timeBounds: eventTimeBounds(config) },
    // An open circuit is reported once, when it opens, not on every batch it skips.
    onScorerError: (scorer, err) => {
      if (err instanceof CircuitOpenError) return;
      metrics.failed('model');
      modelLog.error({ err, model_version: scorer.version, degraded: scorer.degraded }, 'scorer failed; stepping down the degradation ladder');
    },
    onChallengerError: (challenger, err) => {
      if (err instanceof CircuitOpenError) return;
      metrics.failed('model');
      modelLog.error({ err, challenger: challenger.version }, 'challenger failed on a batch; its shadow scores are missing there');
    },
  });

  // A repartition topic keeps what its stage's restore reads back, and a day more.
  const retentionMs = pipeline.restoreReachMs + 86_400_000;
  const transport = await openTransport(config, log(config.kafkaBrokers === undefined ? 'log' : 'kafka'), metrics, distributed ? topology.stages.slice(1).map((s) => ({ topic: s.input, retentionMs })) : []);
  // How the sink's writes and the processor's claims wait out a store that is away: alike.
  const storeRetry = { firstMs: 100, maxMs: config.sinkRetryMaxMs };
  const newSink = (): DecisionSink => new DecisionSink(db, {
    batchSize: config.sinkBatchSize,
    flushMs: config.sinkFlushMs,
    // One PGlite connection runs one transaction at a time.
    concurrency: db.kind === 'pglite' ? 1 : config.sinkConcurrency,
    log: transport.eventsLog,
    featureSet: featureSet.version,
    retry: storeRetry,
    onFlush: ({ ms }) => metrics.sinkFlushed(ms),
    onError: (err, failure, retryInMs) => {
      metrics.storeWriteRetries.inc({ failure });
      metrics.failed('store');
      storeLog.error({ err, failure, retry_in_ms: retryInMs }, 'store write failed; the batch is kept and retried');
    },
    onIsolated: (row) => {
      metrics.storeRowsIsolated.inc({ table: row.table, reason: row.reason });
      const fields = { table: row.table, event_id: clip(row.event_id), trace_id: row.trace_id, reason: row.reason, error: row.message };
      if (row.deadLettered) return void storeLog.warn(fields, 'the store refused a row for its data; set apart from its batch and dead-lettered');
      metrics.storeRowsUnstorable.inc({ table: row.table });
      metrics.failed('store');
      storeLog.error(fields, 'the store refused a dead letter even made safe: this log line is all that remains of it');
    },
  });
  const sink = newSink();
  // Every event id is claimed in the store before it is decided: one decision per id, whichever
  // partition or processor a re-send reaches. A store that is away is waited out, as the sink does.
  const claims = new StoreClaims(db.claims, {
    log: transport.eventsLog,
    retry: storeRetry,
    onRound: (ms) => metrics.claimRound.observe(ms / 1000),
    onError: (err, failure, retryInMs) => {
      metrics.storeWriteRetries.inc({ failure });
      metrics.failed('store');
      storeLog.error({ err, failure, retry_in_ms: retryInMs }, 'claiming event ids failed; their micro-batch waits and the claim is retried');
    },
  });
  const feed = new DecisionFeed();
  // What this process counts and shows live: with an API on Kafka, every processor's committed
  // decisions from the topic (another instance may own the event's partition); otherwise its own.
  const followTopic = roles.api && transport.followDecisions !== undefined;
  feed.subscribe((d) => metrics.decided(d, d.event_type));

  // Every refused input — at the HTTP edge or read from the log — takes this one route.
  const deadLetters = new DeadLetterRoute(sink, metrics, processLog, transport.topics?.deadLetters, transport.publish);
  const deadLetter = (letter: DeadLetter, trace?: LocalSpan): void => deadLetters.refuse(letter, undefined, trace);
  const outputTopics = transport.topics === undefined ? undefined : { ...transport.topics, repartition: (stage: number) => topology.stages[stage]!.input };
  // The source commits offsets after this: the store (and on Kafka the topics) have it all, so a
  // restart delivers again exactly what was not yet decided and stored.
  const durableFor = (stageSink: DecisionSink): (() => Promise<void>) =>
    transport.kind === 'embedded' ? sharedFlush(stageSink, config.sinkFlushMs) : async () => void (await Promise.all([stageSink.flush(), transport.settle()]));
  /** Sinks of the later stages (stages apart): each commits after its own rows only, not after every stage's. */
  const stageSinks: DecisionSink[] = [];
  const reach: HistoryReach = { ms: pipeline.restoreReachMs, verdicts: pipeline.usesLabels };
  const onRestored = (stage: string, from: string) => (partition: number, events: number, ms: number) => processLog.info({ stage, partition, events, ms: Math.round(ms) }, `partition state restored from ${from}`);
  // One processor per stage that runs here apart: the user stage's, and on Kafka one per later stage.
  const processors = (roles.processor ? topology.stages.slice(0, distributed ? undefined : 1) : []).map((stage, s) => {
    const io = transport.stage(stage.input, stageGroup(config, stage), s === 0 ? config.maxEventBytes : carriedRecordBytes(config, featureSet));
    // A later stage writes few rows (decisions of events without a later key, unreadable records):
    // waiting for the user stage's rows too would add a store write to every hop.
    const stageSink = s === 0 ? sink : newSink();
    if (s > 0) stageSinks.push(stageSink);
    const output = stageOutput({
      sink: stageSink,
      metrics,
      logger: processLog,
      deadLetters: s === 0 ? deadLetters : new DeadLetterRoute(stageSink, metrics, processLog, transport.topics?.deadLetters, transport.publish),
      topics: outputTopics,
      publish: io.publish,
      onDecided: followTopic ? undefined : (published) => feed.publish(published),
      ready: () => stageSink.belowOrEqual(SINK_HIGH_WATER_BATCHES * config.sinkBatchSize),
      durable: durableFor(stageSink),
    });
    // On Kafka a partition can arrive from another instance. The user stage's state comes back from
    // the events the store holds for it (the store is its changelog: see README); a later stage's
    // from its input topic, which holds exactly what it counted before its committed offset.
    const history =
      transport.kind === 'embedded'
        ? undefined
        : s === 0
          ? { load: (partition: number, beforeOffset: number) => loadPartitionHistory(db, transport.eventsLog, partition, beforeOffset, reach), onRestored: onRestored(stage.name, 'the store') }
          : { load: (partition: number, beforeOffset: number) => stageHistory(transport, db, stage.input, partition, beforeOffset, featureSet, reach), onRestored: onRestored(stage.name, 'its input topic') };
    // Each stage sizes its own micro-batches: their work per event differs.
    const microBatch = new MicroBatchSize({ budgetMs: config.microBatchBudgetMs, min: MIN_MICRO_BATCH, max: config.microBatchMax });
    // Stages run at once here are one processing span per event; apart, one per stage.
    const label = { stage: distributed ? stage.name : topology.stages.map((t) => t.name).join(' → '), input: s === 0 ? transport.eventsLog : stage.input };
    return new Processor(io.source, pipeline, output, { stage: s, history, claims: s === 0 ? claims : undefined, microBatch, tracing: tracing === undefined ? undefined : { tracing, label } });
  });
  const lag = (): number => processors.reduce((n, p) => n + p.lag(), 0);
  const consumed = (): ConsumedInput[] =>
    processors.map((p, s) => {
      const stage = topology.stages[s]!;
      return { stage: stage.name, topic: stage.input, group: transport.kind === 'kafka' ? stageGroup(config, stage) : null, progress: p.progress() };
    });
  if (roles.processor && transport.kind === 'embedded') {
    const released = await releaseLostClaims(db, transport.eventsLog);
    if (released > 0) storeLog.warn({ released }, 'event ids claimed by records of an earlier embedded log, lost undecided, are free again: a re-send is decided');
    await restoreEmbedded(db, pipeline, reach, processLog, demo.takeState(featureSet, eventTimeOptions(config), config.partitions));
    if (transport.resume !== undefined) await skipStored(db, transport.eventsLog, transport.resume, log('log'));
  }
  // Verdicts reach label-driven features through the store, whichever way they arrived.
  const labels =
    roles.processor && pipeline.usesLabels
      ? new LabelFeed({
          db,
          pipeline,
          route: (l) => (transport.kind === 'embedded' ? partitionFor(l.labelled.event.user_id, config.partitions) : l.log_topic === transport.eventsLog ? (l.log_partition ?? undefined) : undefined),
          intervalMs: config.labelPollMs,
          logger: labelsLog,
          onApplied: (n) => metrics.labelsApplied.inc(n),
          onFailure: () => metrics.failed('store'),
        })
      : undefined;
  await labels?.start();
  // Every process serves (or, API only, reports) whichever version is activated, without restart.
  const models = new ActiveModelFollower(registry, pipeline, featureSet, modelLog, config, () => metrics.failed('model'));
  await models.start();
  const rules = new RulesFollower(db, pipeline, featureSet.names, log('rules'), config.rulesPollMs, () => metrics.failed('rules'));
  await rules.start();
  // On Kafka an activation or a new challenger anywhere is announced on the control topic: every process follows at once, not at its next poll.
  const announcements = await transport.followControl?.((value) => {
    const record = parseControlRecord(value);
    if (record === undefined) return void modelLog.warn({ value: clip(value) }, 'skipped a record of the control topic that RTDS does not know');
    modelLog.info({ kind: record.kind, model_version: record.version, at: record.at }, 'registry change announced');
    models.check().catch((err: unknown) => {
      metrics.failed('model');
      modelLog.error({ err }, 'following the announced change failed; the next poll retries');
    });
  });
  // On Kafka the processors' group also stores the labels topic: the store is where verdicts are joined to events.
  const labelSource = roles.processor ? transport.labelSource?.() : undefined;
  const labelListeners: ((stored: number, refused: number) => void)[] = [];
  await labelSource?.start(
    labelIntake(
      db,
      eventTimeBounds(config),
      (letter) => {
        sink.writeDeadLetter(letter);
        metrics.deadLetter(letter.source);
        labelsLog.warn({ event_id: clip(letter.event_id), errors: clipErrors(letter.errors), source: letter.source }, 'invalid label dead-lettered');
      },
      () => sink.flush(),
      (stored, refused) => {
        metrics.labelsStored.inc(stored);
        for (const listener of labelListeners) listener(stored, refused);
      },
    ),
  );
  // Any producer can write to the topic: a record that is not a decision is skipped, not fatal.
  const following = followTopic
    ? await transport.followDecisions!((value) => {
        const decision = parsePublishedDecision(value);
        if (decision === undefined) log('kafka').warn({ value: clip(value) }, 'skipped a record of the decisions topic that is not a decision');
        else feed.publish(decision);
      })
    : undefined;

  // What the ingest takes in, for whoever records it (GET /api/v1/capture).
  const tap = new TrafficTap();
  const ingest = new EventIngest({
    log: tap.recording(transport.producer),
    deadLetter,
    validation: { timeBounds: eventTimeBounds(config) },
    claimedBodies: (eventIds) => claimedBodies(db.claims, eventIds),
    tracing,
    onAccepted: (source, n) => metrics.eventIn(source, n),
    onResent: (source, sameBody, otherBody) => {
      metrics.duplicates.inc(sameBody);
      metrics.conflicts.inc({ source }, otherBody);
    },
  });

  const summarise = (): LiveSummary => metrics.summary({ consumerLag: lag(), modelVersion: pipeline.modelVersion, rulesVersion: pipeline.rulesVersion });
  let latest = summarise();
  const ticker = setInterval(() => {
    latest = summarise();
    metrics.sinkPending.set(sink.pending);
  }, 1000);
  if (roles.processor) metrics.measureState(() => pipeline.stateSize());

  const modelControl: ModelControl = { registry, db, thresholds: deployedThresholds(config), follow: () => models.check(), served: () => pipeline.modelVersion, challenging: () => pipeline.challengerVersion };
  metrics.measureModel(() => livePerformance(modelControl, LIVE_WINDOW));
  // /metrics and the health route read the same figures.
  const circuits = (): { model: BreakerState | null; challenger: BreakerState | null } => ({ model: pipeline.modelCircuit, challenger: pipeline.challengerCircuit });
  const scraped: ScrapedFigures = {
    partitionLag: () => consumed().flatMap((input) => input.progress.partitions.map((p) => ({ stage: input.stage, partition: p.partition, lag: p.lag }))),
    circuits,
    labelTopicLag: () => labelSource?.lag(),
    labelFeedReadAt: () => labels?.lastRead().at,
  };
  metrics.measure(scraped);

  let accepting = false;
  const readiness = new Readiness(
    { db, sink, lag, readRegistry: () => registry.active(), accepting: () => accepting },
    { probeMs: config.readyProbeMs, storeFailingMs: config.readyStoreFailingMs, maxSinkRows: config.readyMaxSinkRows, maxLag: config.readyMaxLag },
  );
  readiness.start();
  const monitor = new ProcessMonitor();
  monitor.start();
  const server = port
    ? await buildServer({
        ingest,
        feed,
        db,
        metrics,
        logger: log('api'),
        decideTimeoutMs: config.decideTimeoutMs,
        maxBatch: config.maxBatchEvents,
        timeBounds: eventTimeBounds(config),
        deadLetter,
        features: featureSet,
        summary: () => latest,
        flush: () => sink.flush(),
        readiness: () => readiness.report(),
        health: {
          transport: transport.kind,
          partitions: config.partitions,
          inputs: consumed,
          groups: transport.describeGroups === undefined ? undefined : () => transport.describeGroups!(topology.stages.map((stage) => stageGroup(config, stage))),
          sink: () => sink.health(),
          circuits,
          listsVersion: () => pipeline.listsVersion,
          labelTopicLag: scraped.labelTopicLag,
          labelFeed: labels,
          process: monitor,
        },
        models: modelControl,
        lists: { db, follow: async () => (await rules.check()).lists },
        rules: { db, features: featureSet.names, featureSet: featureSet.version, follow: () => rules.check(), backtestTimeoutMs: config.backtestTimeoutMs },
        access: accessPolicy(config),
        tracing,
        traffic: tap,
      }, port.serverFactory)
    : undefined;
  await server?.ready();
  for (const p of processors) await p.start();
  port?.serve();
  const url = port?.url ?? '';
  accepting = true;

  if (server !== undefined && config.apiKeys.length === 0 && !['127.0.0.1', 'localhost', '::1'].includes(config.host)) {
    logger.warn({ host: config.host }, 'the API is open to the network without keys: set RTDS_API_KEYS');
  }
  const traffic = runsTraffic ? new LiveTraffic({ ingest, db, demo, logger: log('generator'), tap }) : undefined;
  traffic?.start();
  const running = { transport: transport.kind, roles, model_version: pipeline.modelVersion, rules_version: pipeline.rulesVersion, generator: traffic === undefined ? false : config.generatorRate };
  logger.info({ url, ...running }, server === undefined ? 'RTDS processor is running' : `RTDS is running: dashboard at ${url}/`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      accepting = false;
      // The store may be down: draining and flushing get one bound, then RTDS exits saying what it left.
      const deadline = performance.now() + config.shutdownTimeoutMs;
      const left = (): number => Math.max(0, deadline - performance.now());
      await traffic?.stop();
      await server?.close();
      await port?.close();
      const drained = await settlesWithin(Promise.all(processors.map((p) => p.stop({ drain: true }))), left());
      // A batch still waiting for its claim stays undecided and uncommitted: read again at the next start.
      claims.close();
      await labelSource?.stop();
      await labels?.stop();
      await announcements?.close();
      await models.stop();
      await rules.stop();
      await following?.close();
      await readiness.stop();
      const undrained = lag();
      const unwrittenRows = (await Promise.all([sink, ...stageSinks].map((each) => each.close(left())))).reduce((n, r) => n + r.unwrittenRows, 0);
      await transport.close();
      // The store's writes are done: their spans, the last of each trace, are ended and exported now.
      if (tracing !== undefined) await settlesWithin(tracing.close(), Math.max(left(), 1000));
      clearInterval(ticker);
      monitor.stop();
      // A pool waiting on a dead server must not hold the exit either.
      await settlesWithin(db.close(), Math.max(left(), 1000));
      if (drained && unwrittenRows === 0) return void logger.info('stopped: log drained, store flushed');
      const fate =
        transport.kind === 'kafka'
          ? 'their offsets are not committed: the group reads them again'
          : config.logDurability === 'memory'
            ? 'the embedded log keeps no file (RTDS_LOG_DURABILITY=memory): they are lost'
            : 'the embedded log file keeps them: the next start decides and stores them';
      const incomplete = new ShutdownIncompleteError(config.shutdownTimeoutMs, unwrittenRows, drained ? 0 : undrained);
      logger.error({ unwritten_rows: unwrittenRows, undrained_records: drained ? 0 : undrained, timeout_ms: config.shutdownTimeoutMs }, `stopped before everything was stored: ${fate}`);
      throw incomplete;
    })());

  return { url, config, logger, db, metrics, pipeline, ingest, sink, feed, labels, tracing, onLabelsStored: (listener) => void labelListeners.push(listener), onModelSwitched: (listener) => models.onSwitch(listener), lag, stop };
}

/** The shutdown bound passed with work left: the process exits non-zero, and the log line says what was left. */
export class ShutdownIncompleteError extends Error {
  override name = 'ShutdownIncompleteError';
  constructor(
    readonly timeoutMs: number,
    readonly unwrittenRows: number,
    readonly undrainedRecords: number,
  ) {
    super(`shutdown bound of ${timeoutMs} ms passed: ${unwrittenRows} rows not written to the store, ${undrainedRecords} log records not processed`);
  }
}

/**
 * Largest repartition record a stage reads: the validated event (as large as an accepted one,
 * re-serialised) with a number per feature and the fields the decision needs.
 */
function carriedRecordBytes(config: Config, features: FeatureSet): number {
  return config.maxEventBytes + 1024 + 32 * features.names.length;
}

/**
 * What stage `input`'s partition processed before `beforeOffset`: the events its input topic holds
 * committed (read back from the topic's start), back as far as any value reaches, and the stored
 * fraud verdicts for them.
 */
async function stageHistory(transport: Transport, db: Database, input: string, partition: number, beforeOffset: number, features: FeatureSet, reach: HistoryReach): Promise<PartitionHistory> {
  const events: RtdsEvent[] = [];
  let latest = -Infinity;
  // Only RTDS writes these topics; a record it cannot read was dead-lettered when first processed, and counted nowhere.
  await transport.replay!(input, partition, beforeOffset, (value) => {
    try {
      const { event } = decodeCarried(value, features.names.length);
      events.push(event);
      if (event.event_time > latest) latest = event.event_time;
    } catch (err) {
      if (!(err instanceof CarriedEventError)) throw err;
    }
  });
  const recent = events.filter((e) => e.event_time >= latest - reach.ms);
  return { events: recent, verdicts: reach.verdicts ? await fraudVerdictsOf(db, recent) : [] };
}

/**
 * `sink.flush` for the embedded log's many small batches: the calls within `ms` share one flush,
 * made `ms` after the first. Each batch flushing at once would cut the store's writes into one
 * transaction per batch, which at a few events per batch is most of what PGlite spends; a shared
 * flush still covers every row handed over before each call, and only the commit waits for it.
 */
function sharedFlush(sink: DecisionSink, ms: number): () => Promise<void> {
  let next: Promise<void> | undefined;
  return () =>
    (next ??= new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => {
      next = undefined;
      return sink.flush();
    }));
}

/**
 * After a restart every stage's state is rebuilt from the events the store holds, log after log
 * (the in-memory log's runs, then the durable log), in the order they were decided, back as far
 * as any value can reach. With nothing stored (a first start) the pipeline continues `demoState`
 * instead: the state of the demo's stream up to now, which the generator continues live (DemoTraffic).
 */
async function restoreEmbedded(db: Database, pipeline: DecisionPipeline, reach: HistoryReach, logger: Logger, demoState: StageTasks | undefined): Promise<void> {
  const started = performance.now();
  const history = await loadEmbeddedHistory(db, reach);
  if (history.events.length === 0 && demoState !== undefined) {
    pipeline.adopt(demoState);
    return void logger.info("feature state continues the demo's history the first model was trained on");
  }
  const events = pipeline.restoreAll(history);
  if (events > 0) logger.info({ events, verdicts: history.verdicts.length, ms: Math.round(performance.now() - started) }, 'feature state restored from the store');
}

/**
 * The durable embedded log persists its committed offsets a little after the store has the
 * records, so a crash in between leaves records that are stored but not committed. Those the store
 * holds without a gap from the committed offset are committed now: they were decided, stored and
 * restored into state above, so delivering them again would show them twice to the features.
 * Past a gap (a dead letter or a re-sent id, which store no event at their position) the rest
 * is delivered again, and the processor recognises the stored ones by their ids.
 */
async function skipStored(db: Database, log: string, resume: NonNullable<Transport['resume']>, logger: Logger): Promise<void> {
  const from = resume.committed();
  const stored = await storedOffsetsFrom(db, log, from);
  let skipped = 0;
  for (const [partition, offsets] of stored) {
    let next = from[partition]!;
    for (const offset of offsets) {
      if (offset !== next) break;
      next++;
    }
    if (next > from[partition]!) resume.skipTo(partition, next);
    skipped += next - from[partition]!;
  }
  logger.info({ log, skipped }, 'embedded log: records stored before the last run ended are committed without being delivered again');
}
