// Configuration: every setting in one typed table with a default, an env var, a parser and a description.
import path from 'node:path';
import { parseApiKeys, type AccessPolicy } from '../api/api-keys.ts';
import type { EventTimeBounds } from '../contracts/index.ts';
import { LOG_LEVELS, LOG_MODULES, parseModuleLevels } from '../observe/logger.ts';
import { OTLP_PROTOCOLS, TRACES_EXPORTERS, type ExportSettings } from '../observe/tracing/export-settings.ts';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
    reason: string,
  ) {
    super(`${variable}=${JSON.stringify(value)}: ${reason}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string) => T;

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be an integer in [${min}, ${max}]`);
    return n;
  };
const num =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`must be a number in [${min}, ${max}]`);
    return n;
  };
const bool: Parser<boolean> = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
};
const text: Parser<string> = (raw) => raw;
const list: Parser<string[]> = (raw) => raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
const optionalText: Parser<string | undefined> = (raw) => (raw === '' ? undefined : raw);
const url: Parser<string> = (raw) => {
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) throw new Error('must be an http:// or https:// URL');
  return raw;
};
const optionalUrl: Parser<string | undefined> = (raw) => (raw === '' ? undefined : url(raw));
/** W3C baggage-like `key=value,key=value`, values percent-encoded (the OTLP headers' format). */
const headerList: Parser<Record<string, string>> = (raw) =>
  Object.fromEntries(
    list(raw).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error('must be key=value pairs separated by commas');
      return [pair.slice(0, eq).trim(), decodeURIComponent(pair.slice(eq + 1).trim())];
    }),
  );
const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
    return raw as T;
  };

interface Setting<T> {
  env: string;
  default: string;
  parse: Parser<T>;
  doc: string;
  /** Its value is never repeated in an error. */
  secret?: boolean;
}
const setting = <T>(env: string, def: string, parse: Parser<T>, doc: string, secret = false): Setting<T> => ({ env, default: def, parse, doc, ...(secret ? { secret } : {}) });

/** The settings table. README's configuration table is printed from it by `rtds config`. */
export const SETTINGS = {
  host: setting('RTDS_HOST', '127.0.0.1', text, 'Interface the HTTP server binds (use 0.0.0.0 to expose it).'),
  port: setting('RTDS_PORT', '8501', int(0, 65535), 'HTTP port: dashboard, REST, WebSocket, /metrics.'),
  dataDir: setting('RTDS_DATA_DIR', './data', text, 'Folder for the embedded database and trained models.'),
  databaseUrl: setting('RTDS_DATABASE_URL', '', optionalText, 'PostgreSQL URL; unset means embedded PGlite under RTDS_DATA_DIR.'),
  kafkaBrokers: setting('RTDS_KAFKA_BROKERS', '', optionalText, 'Kafka bootstrap servers; unset means the embedded in-process log.'),
  partitions: setting('RTDS_PARTITIONS', '12', int(1, 1024), 'Partitions of the events log (key = user_id); on Kafka, of topics RTDS creates.'),
  logDurability: setting(
    'RTDS_LOG_DURABILITY',
    'fsync',
    oneOf('fsync', 'write', 'memory'),
    'Embedded log (no RTDS_KAFKA_BROKERS): fsync writes each accepted batch to <RTDS_DATA_DIR>/log and syncs it to disk before answering 202 (survives a crash of the machine); write skips the sync (survives a crash of the process, not of the machine); memory keeps no file (a crash loses events not yet stored).',
  ),
  kafkaTopicPrefix: setting('RTDS_KAFKA_TOPIC_PREFIX', 'rtds.', text, 'Prefix of the Kafka topics (events, decisions, labels, events.dlq, events.late, control).'),
  kafkaGroup: setting('RTDS_KAFKA_GROUP', 'rtds-processor', text, 'Consumer group of the processor instances.'),
  maxEventAgeMs: setting('RTDS_MAX_EVENT_AGE_MS', String(10 * 365.25 * 86_400_000), int(0), 'An event whose time lies further in the past is refused (dead-lettered with the reason): a typo or an attack, never history to decide live. Training files are not bounded by it.'),
  maxEventAheadMs: setting('RTDS_MAX_EVENT_AHEAD_MS', String(86_400_000), int(0), 'An event (or a label’s labeled_at) further in the future than this is refused: one such event would move its partition’s watermark ahead of every real one.'),
  maxBatchEvents: setting('RTDS_MAX_BATCH_EVENTS', '10000', int(1, 1_000_000), 'Most events (or labels) in one POST; a larger batch is refused whole with 413.'),
  maxEventBytes: setting('RTDS_MAX_EVENT_BYTES', '65536', int(256, 16 * 1024 * 1024), 'A log record larger than this is dead-lettered without being parsed.'),
  kafkaExactlyOnce: setting('RTDS_KAFKA_EXACTLY_ONCE', 'true', bool, 'Processors commit each batch’s decisions, dead letters, late events and offsets in one Kafka transaction; false is at least once.'),
  instanceId: setting('RTDS_INSTANCE_ID', '', optionalText, 'Name of this processor instance (its transactional id and, when set, its static group membership); keep it stable across restarts and unique per instance, so a restart aborts its predecessor’s open transaction at once and takes its place in the group without a rebalance. Default: host-pid, no static membership.'),
  kafkaTransactionTimeoutMs: setting('RTDS_KAFKA_TRANSACTION_TIMEOUT_MS', '10000', int(1000, 900_000), 'The broker aborts a processor’s transaction left open this long (the processor died); read_committed readers wait for it.'),
  kafkaSessionTimeoutMs: setting('RTDS_KAFKA_SESSION_TIMEOUT_MS', '10000', int(1000, 600_000), 'A processor silent this long leaves the group and its partitions move (Kafka’s default is 45–60 s).'),
  kafkaLingerMs: setting('RTDS_KAFKA_LINGER_MS', '5', int(0, 1000), 'How long a produced record waits for others to share its request.'),
  kafkaBatchSize: setting('RTDS_KAFKA_BATCH_SIZE', '1000', int(1, 100_000), 'Records per produce request at most.'),
  kafkaCompression: setting('RTDS_KAFKA_COMPRESSION', 'snappy', oneOf('none', 'gzip', 'snappy', 'lz4', 'zstd'), 'Compression of produced batches.'),
  maxOutOfOrdernessMs: setting('RTDS_MAX_OUT_OF_ORDERNESS_MS', '5000', int(0), 'Watermark = max event time seen (per partition) − this bound.'),
  allowedLatenessMs: setting('RTDS_ALLOWED_LATENESS_MS', '0', int(0), 'How far behind the watermark an event still joins its windows; later ones are decided, join no window and go to the late side output.'),
  lateHistoryMs: setting('RTDS_LATE_HISTORY_MS', String(60 * 60_000), int(0), 'How long (event time) state is kept past the allowed lateness so that a late event still reads complete windows as of its own time; a later one is decided with its older history unknown (history "partial").'),
  stageSkewMs: setting(
    'RTDS_STAGE_SKEW_MS',
    String(60 * 60_000),
    int(0),
    "How far (event time) the events reaching a merchant, device or IP stage may lag the latest it has seen, through no lateness of their own: they come from every user partition, which progress unevenly (a backlog, a slow processor). That stage's watermark trails by this much more, and its state is kept this much longer.",
  ),
  dedupeWindowMs: setting('RTDS_DEDUPE_WINDOW_MS', String(10 * 60_000), int(0), 'How long (event time, behind the watermark) a processor remembers event ids, so a re-sent event is skipped without counting in its features; any re-send, older or in another partition, is also recognised by its claim in the store.'),
  threshold: setting('RTDS_THRESHOLD', '0.7', num(0.2, 1), 'Default reject threshold t: score ≥ t rejected, ≥ t − 0.2 flagged.'),
  featuresFile: setting('RTDS_FEATURES_FILE', '', optionalText, 'YAML or JSON feature specs (docs/features.md); unset uses the default fraud set. Models record the set they were trained on.'),
  rulesPollMs: setting('RTDS_RULES_POLL_MS', '1000', int(10), 'How often a process checks the store for a newly activated rule set or a change of the block and allow lists (two small reads); a change through its own API applies at once.'),
  labelPollMs: setting('RTDS_LABEL_POLL_MS', '1000', int(10), 'How often a processor reads newly stored labels for label-driven features (fraud_count, fraud_rate); only when the feature set has some.'),
  rulesFile: setting('RTDS_RULES_FILE', '', optionalText, 'YAML or JSON rule set (docs/rules.md: thresholds per event type, limits, blocked countries, CEL conditions, the safe default per event type); unset uses the built-in set.'),
  modelRegistry: setting(
    'RTDS_MODEL_REGISTRY',
    'auto',
    oneOf('auto', 'folder', 'store'),
    'Where models are registered: `store` (tables in the database), `folder` (RTDS_MODEL_DIR); `auto` is the store with RTDS_DATABASE_URL (shared by every instance), the folder otherwise (embedded PGlite admits one process, and `rtds train`/`rtds models` run beside `rtds start`).',
  ),
  modelDir: setting('RTDS_MODEL_DIR', '', optionalText, 'Model registry folder (RTDS_MODEL_REGISTRY=folder); default <RTDS_DATA_DIR>/models.'),
  scoreBudgetMs: setting('RTDS_SCORE_BUDGET_MS', '1', num(0.001, 10_000), 'Model scoring time per event above which a batch counts as failed; failures in a row open the circuit and the fallback scores.'),
  microBatchBudgetMs: setting('RTDS_MICRO_BATCH_BUDGET_MS', '20', num(0.1, 10_000), 'Target time of one micro-batch (features, scoring, decisions): a larger batch from the log is cut into micro-batches sized from the measured cost per event, and HTTP and store writes get a turn between them.'),
  microBatchMax: setting('RTDS_MICRO_BATCH_MAX', '2048', int(16, 1_000_000), 'Most events scored in one micro-batch, however cheap they are.'),
  breakerFailures: setting('RTDS_BREAKER_FAILURES', '3', int(1), 'Failed model batches in a row (errors or over budget) that open the circuit.'),
  breakerCooldownMs: setting('RTDS_BREAKER_COOLDOWN_MS', '30000', int(1), 'How long an open circuit skips the model before one batch tries it again.'),
  modelPollMs: setting('RTDS_MODEL_POLL_MS', '2000', int(10), 'How often a process checks the registry for a newly activated model, which it then warms up and serves without restart; on Kafka a safety net, as activations are announced on the control topic.'),
  trainOnStart: setting('RTDS_TRAIN_ON_START', 'true', bool, 'Train a model at start when none exists, on the generator’s own traffic (docs/models.md); otherwise rules-only, degraded.'),
  generator: setting('RTDS_GENERATOR', 'true', bool, '`rtds start` runs the traffic generator in-process.'),
  generatorRate: setting(
    'RTDS_GENERATOR_RATE',
    '50',
    num(0.1, 1_000_000),
    'Events/s of the in-process generator, in event time and on the wall clock. Its population is sized to it (each user acts about 25 times a day; at most 250,000 users), and a first start trains on this same traffic.',
  ),
  generatorSeed: setting('RTDS_GENERATOR_SEED', '42', int(0), 'Seed of the in-process generator and of the first model’s training history.'),
  sinkBatchSize: setting('RTDS_SINK_BATCH_SIZE', '2000', int(1, 100_000), 'Rows per batched write to the store.'),
  sinkConcurrency: setting('RTDS_SINK_CONCURRENCY', '4', int(1, 64), 'Batches written to PostgreSQL at once, each on its own connection (the embedded store writes one at a time).'),
  sinkFlushMs: setting('RTDS_SINK_FLUSH_MS', '50', int(1, 60_000), 'Longest a decision waits before it is written.'),
  sinkRetryMaxMs: setting('RTDS_SINK_RETRY_MAX_MS', '5000', int(100, 600_000), 'A store write (or an event id claim) that fails for connectivity is retried after 100 ms, the pause doubling up to this.'),
  shutdownTimeoutMs: setting('RTDS_SHUTDOWN_TIMEOUT_MS', '20000', int(100, 3_600_000), 'Longest a shutdown waits to drain the log and write the store (it may be down); past it RTDS exits non-zero, saying what was not written.'),
  readyProbeMs: setting('RTDS_READY_PROBE_MS', '1000', int(50, 60_000), 'How often readiness probes the store (SELECT 1) and the model registry.'),
  readyStoreFailingMs: setting('RTDS_READY_STORE_FAILING_MS', '3000', int(0, 600_000), '/readyz is 503 once store writes have failed (connectivity) this long, or a probe has gone unanswered this long; a failed probe counts at once.'),
  readyMaxSinkRows: setting('RTDS_READY_MAX_SINK_ROWS', '100000', int(1), '/readyz is 503 while more rows than this wait to be written to the store.'),
  readyMaxLag: setting('RTDS_READY_MAX_LAG', '1000000', int(1), '/readyz is 503 while this process’s consumer lag (records not yet processed) passes this.'),
  decideTimeoutMs: setting('RTDS_DECIDE_TIMEOUT_MS', '1000', int(1, 60_000), 'Budget of POST /api/v1/decide before it answers 504.'),
  apiKeys: setting(
    'RTDS_API_KEYS',
    '',
    parseApiKeys,
    'API keys as role:key,role:key (keys of 16 characters or more): read for GET routes, /ws and /metrics; ingest to send events, decide and send labels; admin to change models (and may do all). Sent as Authorization: Bearer, X-API-Key, or ?api_key= on /ws. Unset: the API is open, as the default binds 127.0.0.1.',
    true,
  ),
  allowedHosts: setting(
    'RTDS_ALLOWED_HOSTS',
    '',
    list,
    'Without API keys, the Host names answered beside localhost, 127.0.0.1, [::1] and RTDS_HOST (unless 0.0.0.0 or ::), comma-separated — the name users reach RTDS by through a proxy; `*` answers any (the proxy checks). Others get 421: a page that rebinds its own name to this machine cannot call the API. Requests and /ws upgrades with an Origin other than the server’s own (or one of these names) get 403. Ignored with keys.',
  ),
  rateLimit: setting('RTDS_RATE_LIMIT', '1200000', int(0), 'With API keys, requests per minute per key (a batch of events is one request); past it 429 with Retry-After. 0: no limit. Without keys there is none (loopback callers only).'),
  backtestTimeoutMs: setting('RTDS_BACKTEST_TIMEOUT_MS', '30000', int(1, 3_600_000), 'Budget of POST /api/v1/rules/backtest; past it the backtest stops and answers 503 with how far it got.'),
  tracesExporter: setting(
    'OTEL_TRACES_EXPORTER',
    'none',
    oneOf(...TRACES_EXPORTERS),
    'OpenTelemetry traces of each event (HTTP or Kafka ingest, log append, processing, features, score, decide, store write, publish): `otlp` exports them to OTEL_EXPORTER_OTLP_ENDPOINT, `console` prints them; `none` records nothing (README, "Traces").',
  ),
  otlpEndpoint: setting('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://localhost:4318', url, 'Base URL of the OTLP/HTTP collector; traces are sent to its /v1/traces path.'),
  otlpTracesEndpoint: setting('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '', optionalUrl, 'Full URL traces are sent to, over OTEL_EXPORTER_OTLP_ENDPOINT.'),
  otlpProtocol: setting('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf', oneOf(...OTLP_PROTOCOLS), 'OTLP encoding over HTTP (gRPC is not offered).'),
  otlpHeaders: setting('OTEL_EXPORTER_OTLP_HEADERS', '', headerList, 'Headers of every OTLP request, as key=value,key=value (values percent-encoded): a collector’s credentials.', true),
  serviceName: setting('OTEL_SERVICE_NAME', 'rtds', text, 'service.name of the exported spans: name each deployment (API, processors) as you want it told apart.'),
  traceSampleRatio: setting(
    'OTEL_TRACES_SAMPLER_ARG',
    '1',
    num(0, 1),
    'Share of traces exported, parent-based: a trace begun here is kept by this ratio of its trace id, one continued from a traceparent as its sampled flag says. Traces with a rejected or degraded decision are exported whatever it says.',
  ),
  tracePendingMax: setting('RTDS_TRACE_PENDING_MAX', '100000', int(1), 'Traces held in memory at once while their decision is awaited (a few hundred bytes each); past it a new trace is kept only when the ratio chose it.'),
  logLevel: setting('RTDS_LOG_LEVEL', 'info', oneOf(...LOG_LEVELS), 'pino log level.'),
  logLevels: setting(
    'RTDS_LOG_LEVELS',
    '',
    parseModuleLevels,
    `Log level per module, overriding RTDS_LOG_LEVEL for it, as module=level,… (e.g. store=debug,kafka=warn); each line names its module. Modules: ${Object.entries(LOG_MODULES).map(([name, what]) => `${name} (${what})`).join(', ')}.`,
  ),
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;
export type Config = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never } & { modelDir: string };

/**
 * Read the configuration from an environment (process.env by default) with overrides from code
 * (tests, CLI flags). Every invalid value is reported at once.
 */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: ConfigError[] = [];
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    if (key in overrides && overrides[key as keyof Config] !== undefined) {
      out[key] = overrides[key as keyof Config];
      continue;
    }
    const raw = env[s.env] ?? s.default;
    try {
      out[key] = s.parse(raw);
    } catch (err) {
      problems.push(new ConfigError(s.env, s.secret === true ? '(not shown)' : raw, (err as Error).message));
    }
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateError(problems, problems.map((p) => p.message).join('; '));
  const config = out as Config;
  config.modelDir ??= path.join(config.dataDir, 'models');
  return config;
}

/** The configuration table in Markdown, for the README. */
export function settingsTable(): string {
  const rows = Object.values(SETTINGS).map((s: Setting<unknown>) => `| \`${s.env}\` | ${s.default === '' ? '(unset)' : `\`${s.default}\``} | ${s.doc} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** Who may call the API: keys and their rate, or the host names served without keys. */
export function accessPolicy(config: Config): AccessPolicy {
  return { keys: config.apiKeys, rateLimitPerMinute: config.rateLimit, bindHost: config.host, allowedHosts: config.allowedHosts };
}

/** The seed's thresholds from RTDS_THRESHOLD t: flag at t − 0.2, reject at t (rounded to 1e-9, so 0.7 − 0.2 reads 0.5). */
export function deployedThresholds(config: Config): [flag: number, reject: number] {
  return [Math.round((config.threshold - 0.2) * 1e9) / 1e9, config.threshold];
}

/** The live edges' bounds on event time (HTTP, the log), from the clock. */
export function eventTimeBounds(config: Config): EventTimeBounds {
  return { maxAgeMs: config.maxEventAgeMs, maxAheadMs: config.maxEventAheadMs };
}

/** The standard OTEL_* settings of the trace exporter. */
export function traceExport(config: Config): ExportSettings {
  return { exporter: config.tracesExporter, endpoint: config.otlpEndpoint, tracesEndpoint: config.otlpTracesEndpoint, protocol: config.otlpProtocol, headers: config.otlpHeaders };
}

/** The event-time settings that the processor and training share, so both judge lateness alike. */
export function eventTimeOptions(config: Config): { maxOutOfOrdernessMs: number; allowedLatenessMs: number; lateHistoryMs: number; stageSkewMs: number; dedupeWindowMs: number } {
  return { maxOutOfOrdernessMs: config.maxOutOfOrdernessMs, allowedLatenessMs: config.allowedLatenessMs, lateHistoryMs: config.lateHistoryMs, stageSkewMs: config.stageSkewMs, dedupeWindowMs: config.dedupeWindowMs };
}
