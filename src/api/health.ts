// GET /api/v1/health: each component's status in words (log, store, model, rules, labels, process) and the figures behind it.
import type { FastifyInstance } from 'fastify';
import { settlesWithin, type ProcessMonitor, type ProcessSample, type RecentRates, type SinkWrites } from '../observe/index.ts';
import type { BreakerState } from '../score/index.ts';
import { countDeadLetters, labelArrivals, type Database, type DeadLetterCount, type LabelArrivals, type SinkHealth } from '../store/index.ts';
import type { SourceProgress } from '../transport/log.ts';
import type { GroupView } from '../transport/transport.ts';
import type { ApiContext } from './server.ts';

export type Status = 'ok' | 'degraded' | 'down';

/** Something wrong with a component, as readiness finds it. */
export interface ComponentProblem {
  component: 'log' | 'store' | 'model' | 'process';
  status: Exclude<Status, 'ok'>;
  reason: string;
}

/** A stage input this process's processors consume. */
export interface ConsumedInput {
  stage: string;
  topic: string;
  /** Its consumer group on Kafka; null on the embedded log, read by this process alone. */
  group: string | null;
  progress: SourceProgress;
}

/** What only the running app can tell the health route. */
export interface HealthSources {
  transport: 'embedded' | 'kafka';
  /** RTDS_PARTITIONS: every stage input has this many partitions. */
  partitions: number;
  /** The stage inputs this process consumes (none in an API-only process). */
  inputs(): ConsumedInput[];
  /** On Kafka, every stage's consumer group: each processor in it, in any process, and the partitions it owns; absent on the embedded log. */
  groups: (() => Promise<GroupView[]>) | undefined;
  /** The sink of the user stage's decisions and dead letters (the one readiness judges). */
  sink(): SinkHealth;
  circuits(): { model: BreakerState | null; challenger: BreakerState | null };
  listsVersion(): number;
  /** On Kafka, records of the labels topic not yet stored; undefined where this process reads none. */
  labelTopicLag(): number | undefined;
  /** The reads that hand stored verdicts to label-driven features; undefined when the features count none. */
  labelFeed: { lastRead(): { at: number | undefined; intervalMs: number } } | undefined;
  process: ProcessMonitor;
}

export interface ComponentHealth {
  name: 'log' | 'store' | 'model' | 'rules' | 'labels' | 'process';
  status: Status;
  /** What is wrong, or what is right, in words. */
  reason: string;
}

export interface LogDetails {
  transport: HealthSources['transport'];
  partitions: number;
  /** Records behind over the partitions read here. */
  lag: number;
  inputs: ConsumedInput[];
  /** On Kafka, the stages' consumer groups as their coordinator sees them; null on the embedded log. */
  groups: GroupView[] | { error: string } | null;
}

export interface StoreDetails {
  kind: 'postgres' | 'pglite';
  reachable: boolean;
  pending_writes: number;
  writes: SinkWrites;
  failing_since: string | null;
  last_error: string | null;
}

export interface ModelDetails {
  served: string | null;
  circuit: BreakerState | null;
  challenger: string | null;
  challenger_circuit: BreakerState | null;
}

export type LabelDetails = (LabelArrivals | { error: string }) & {
  recent_s: number;
  topic_lag: number | null;
  feed: { last_read_at: string | null; interval_ms: number } | null;
};

export interface ProcessDetails {
  pid: number;
  uptime_s: number;
  /** The latest sample; null before the first. */
  latest: ProcessSample | null;
  heap_share: number;
  gc_since_start: { count: number; ms: number };
  /** The samples of the last minutes as columns, oldest first (`at` in epoch ms). */
  history: { at: number[]; cpu_percent: number[]; rss_bytes: number[]; event_loop_delay_p50_ms: number[]; event_loop_delay_p99_ms: number[] };
}

/** The answer of GET /api/v1/health. */
export interface SystemHealth {
  at: string;
  /** The worst of the components'. */
  status: Status;
  components: ComponentHealth[];
  log: LogDetails;
  store: StoreDetails;
  model: ModelDetails;
  rules: { rules_version: string; lists_version: number };
  labels: LabelDetails;
  dead_letters: { recent_s: number; recent: number; total: number; by_source: DeadLetterCount[] } | { error: string };
  /** When dead letters and label arrivals were read from the store: at most every 5 s, whoever asks. */
  store_read_at: string;
  rates: RecentRates & { late_share: number | null; degraded_share: number | null };
  process: ProcessDetails;
}

/** The span of "recent" dead letters and labels. */
const RECENT_MS = 3_600_000;
/** A read of the store or the broker for this route waits no longer: a page must show it down, not hang on it. */
const READ_MS = 1000;
/**
 * The store's and the broker's figures are read at most this often, however many pages poll:
 * counting dead letters scans their table (0.5 s at a million rows on two cores).
 */
const READ_EVERY_MS = 5000;
/** The event loop delayed more than this (p99 over a sample) delays every decision and answer as much. */
const EVENT_LOOP_DELAY_DEGRADED_MS = 200;
/** Heap in use over its limit beyond which the process is near running out of memory. */
const HEAP_SHARE_DEGRADED = 0.9;
/** Label reads missed in a row before the label feed counts as behind. */
const LABEL_READS_MISSED = 5;

const SEVERITY: Record<Status, number> = { ok: 0, degraded: 1, down: 2 };
const worst = (statuses: Status[]): Status => statuses.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'ok');

/** A read of the store or the broker within READ_MS: its value, or why there is none. */
type TimedRead<T> = { value: T } | { error: string };

async function timedRead<T>(read: () => Promise<T>): Promise<TimedRead<T>> {
  let value: T | undefined;
  try {
    if (await settlesWithin(read().then((v) => void (value = v)), READ_MS)) return { value: value as T };
    return { error: `no answer within ${READ_MS} ms` };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** The figures read from the store and the broker for this route, and when. */
interface PolledFigures {
  at: string;
  deadLetters: TimedRead<DeadLetterCount[]>;
  labels: TimedRead<LabelArrivals>;
  /** Null on the embedded log. */
  groups: TimedRead<GroupView[]> | null;
}

/** The figures for each request, read again once READ_EVERY_MS have passed; requests meanwhile share the read. */
function polledFigures(db: Database, groups: HealthSources['groups']): () => Promise<PolledFigures> {
  let latest: { at: number; figures: Promise<PolledFigures> } | undefined;
  return () => {
    const now = Date.now();
    if (latest === undefined || now - latest.at >= READ_EVERY_MS) {
      const at = new Date(now).toISOString();
      const figures = Promise.all([
        timedRead(() => countDeadLetters(db, RECENT_MS)),
        timedRead(() => labelArrivals(db, RECENT_MS)),
        groups === undefined ? null : timedRead(groups),
      ]).then(([deadLetters, labels, members]) => ({ at, deadLetters, labels, groups: members }));
      latest = { at: now, figures };
    }
    return latest.figures;
  };
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const figures = polledFigures(ctx.db, ctx.health.groups);
  app.get(
    '/api/v1/health',
    {
      schema: {
        tags: ['ops'],
        summary:
          'Each component’s status (ok, degraded, down) with the reason in words: the log and its lag per partition (on Kafka, the processors of each stage’s group and the partitions each owns), the store and its writes, the model and its circuit, rules and lists, the label feed, the process (CPU, memory, event-loop delay, GC, with their last minutes); dead letters by source; late and degraded rates.',
      },
    },
    async () => systemHealth(ctx, await figures()),
  );
}

function systemHealth(ctx: ApiContext, { at, deadLetters, labels, groups }: PolledFigures): SystemHealth {
  const { health } = ctx;
  const { problems } = ctx.readiness();
  const concerning = (component: ComponentProblem['component']): ComponentProblem[] => problems.filter((p) => p.component === component);
  const log = logHealth(health, concerning('log'), groups);
  const store = storeHealth(ctx, concerning('store'), [deadLetters, labels]);
  const model = modelHealth(ctx, concerning('model'));
  const summary = ctx.summary();
  const rules: ComponentHealth = { name: 'rules', status: 'ok', reason: `rule set ${summary.rules_version}, block and allow lists version ${health.listsVersion()}` };
  const label = labelHealth(health, labels);
  const runtime = processHealth(health.process, concerning('process'));
  const components = [log.component, store.component, model.component, rules, label.component, runtime.component];
  const rates = ctx.metrics.recentRates();
  return {
    at: new Date().toISOString(),
    status: worst(components.map((c) => c.status)),
    components,
    log: log.details,
    store: store.details,
    model: model.details,
    rules: { rules_version: summary.rules_version, lists_version: health.listsVersion() },
    labels: label.details,
    dead_letters: 'error' in deadLetters ? { error: deadLetters.error } : deadLetterTotals(deadLetters.value),
    store_read_at: at,
    rates: { ...rates, late_share: share(rates.late, rates.decisions), degraded_share: share(rates.degraded, rates.decisions) },
    process: runtime.details,
  };
}

/** A component's status and the figures it was judged on. */
interface Judged<T> {
  component: ComponentHealth;
  details: T;
}

const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

function logHealth(health: HealthSources, problems: ComponentProblem[], groups: TimedRead<GroupView[]> | null): Judged<LogDetails> {
  const inputs = health.inputs();
  const lag = inputs.reduce((n, i) => n + i.progress.partitions.reduce((m, p) => m + (p.lag ?? 0), 0), 0);
  const details: LogDetails = { transport: health.transport, partitions: health.partitions, lag, inputs, groups: groups === null ? null : 'error' in groups ? { error: groups.error } : groups.value };
  const name = health.transport === 'embedded' ? 'embedded log' : 'Kafka';
  const component = (status: Status, reason: string): Judged<LogDetails> => ({ component: { name: 'log', status, reason }, details });
  const stalled = inputs.filter((i) => i.progress.problem !== null);
  if (stalled.length > 0) return component('down', stalled.map((i) => `${i.topic}: ${i.progress.problem}`).join('; '));
  // A group without members reads nothing: events wait in its input however healthy this process is.
  const groupTrouble =
    groups === null ? [] : 'error' in groups ? [`cannot describe the consumer groups: ${groups.error}`] : groups.value.filter((g) => g.members.length === 0).map((g) => `no processor in group ${g.group}: its input is not read`);
  if (problems.length + groupTrouble.length > 0) {
    const status = worst([...problems.map((p) => p.status), ...(groupTrouble.length > 0 ? (['degraded'] as const) : [])]);
    return component(status, [...problems.map((p) => p.reason), ...groupTrouble].join('; '));
  }
  const members = groups === null || 'error' in groups ? '' : `${groupsSummary(groups.value)}; `;
  if (inputs.length === 0) return component('ok', `${name}: ${members}no processor runs in this process`);
  const read =
    health.transport === 'embedded' ? `all ${health.partitions} partitions read here` : `${inputs.map((i) => `${i.progress.partitions.length} of ${health.partitions} partitions of ${i.topic}`).join(', ')} owned here`;
  return component('ok', `${name}: ${members}${read}; ${lag} records behind`);
}

/** "2 processors in group rtds", or per group where their counts differ. */
function groupsSummary(groups: GroupView[]): string {
  const counts = new Set(groups.map((g) => g.members.length));
  const processors = (n: number): string => `${n} processor${n === 1 ? '' : 's'}`;
  if (counts.size === 1) return `${processors(groups[0]!.members.length)} in ${groups.length === 1 ? `group ${groups[0]!.group}` : `each of ${groups.length} stage groups`}`;
  return groups.map((g) => `${processors(g.members.length)} in ${g.group}`).join(', ');
}

function storeHealth(ctx: ApiContext, problems: ComponentProblem[], reads: TimedRead<unknown>[]): Judged<StoreDetails> {
  const sink = ctx.health.sink();
  const writes = ctx.metrics.sinkWrites();
  const kind = ctx.db.kind === 'pglite' ? 'PGlite' : 'PostgreSQL';
  const failedReads = reads.flatMap((r) => ('error' in r ? [r.error] : []));
  const failingS = sink.failingSince === undefined ? undefined : Math.round((Date.now() - sink.failingSince) / 1000);
  const details: StoreDetails = {
    kind: ctx.db.kind,
    reachable: !problems.some((p) => p.status === 'down') && failedReads.length === 0,
    pending_writes: sink.pending,
    writes,
    failing_since: sink.failingSince === undefined ? null : new Date(sink.failingSince).toISOString(),
    last_error: sink.lastError ?? null,
  };
  const component = (status: Status, reason: string): Judged<StoreDetails> => ({ component: { name: 'store', status, reason: `${kind}: ${reason}` }, details });
  if (problems.length > 0) return component(worst(problems.map((p) => p.status)), problems.map((p) => p.reason).join('; '));
  if (failedReads.length > 0) return component('degraded', `reading dead letters and labels failed: ${failedReads[0]}`);
  if (failingS !== undefined) return component('degraded', `writes failing for ${failingS} s, retried: ${sink.lastError ?? 'unknown error'}`);
  const latency = writes.p50_ms === null || writes.p99_ms === null ? 'no write yet' : `writes p50 ${writes.p50_ms.toFixed(1)} ms, p99 ${writes.p99_ms.toFixed(1)} ms over the latest ${writes.writes}`;
  return component('ok', `reachable; ${sink.pending} rows waiting; ${latency}`);
}

function modelHealth(ctx: ApiContext, problems: ComponentProblem[]): Judged<ModelDetails> {
  const served = ctx.models.served();
  const challenger = ctx.models.challenging();
  const circuits = ctx.health.circuits();
  const details = { served, circuit: circuits.model, challenger, challenger_circuit: circuits.challenger };
  const wrong: string[] = problems.map((p) => p.reason);
  if (served === null) wrong.push('no model served: rules only (decisions say degraded "rules_only")');
  if (circuits.model === 'open') wrong.push(`circuit open: ${served} is skipped and the fallback scores`);
  if (circuits.model === 'half_open') wrong.push(`circuit half open: ${served} is tried again on one batch`);
  if (circuits.challenger === 'open' || circuits.challenger === 'half_open') wrong.push(`challenger ${challenger} circuit ${circuits.challenger.replace('_', ' ')}: its shadow scores are missing`);
  if (wrong.length > 0) return { component: { name: 'model', status: 'degraded', reason: wrong.join('; ') }, details };
  const reason = `${served} served, circuit closed${challenger === null ? '' : `; challenger ${challenger} in shadow`}`;
  return { component: { name: 'model', status: 'ok', reason }, details };
}

function labelHealth(health: HealthSources, arrivals: TimedRead<LabelArrivals>): Judged<LabelDetails> {
  const topicLag = health.labelTopicLag() ?? null;
  const read = health.labelFeed?.lastRead();
  const feed = read === undefined ? null : { last_read_at: read.at === undefined ? null : new Date(read.at).toISOString(), interval_ms: read.intervalMs };
  const around = { recent_s: RECENT_MS / 1000, topic_lag: topicLag, feed };
  if ('error' in arrivals) return { component: { name: 'labels', status: 'down', reason: `cannot read labels from the store: ${arrivals.error}` }, details: { error: arrivals.error, ...around } };
  const details: LabelDetails = { ...arrivals.value, ...around };
  const behindMs = read?.at === undefined ? undefined : Date.now() - read.at;
  if (read !== undefined && behindMs !== undefined && behindMs > LABEL_READS_MISSED * read.intervalMs) {
    return { component: { name: 'labels', status: 'degraded', reason: `label-driven features last read new labels ${Math.round(behindMs / 1000)} s ago` }, details };
  }
  const latest = arrivals.value.last_received_at === null ? 'no label received yet' : `latest received ${arrivals.value.last_received_at}`;
  return { component: { name: 'labels', status: 'ok', reason: `${latest}; ${arrivals.value.recent} in the last hour${topicLag === null ? '' : `; ${topicLag} on the labels topic not yet stored`}` }, details };
}

function processHealth(monitor: ProcessMonitor, problems: ComponentProblem[]): Judged<ProcessDetails> {
  const history = monitor.history();
  const latest: ProcessSample | undefined = history[history.length - 1];
  const heapShare = monitor.heapShare();
  const details: ProcessDetails = {
    pid: process.pid,
    uptime_s: Math.round(process.uptime()),
    latest: latest ?? null,
    heap_share: heapShare,
    gc_since_start: monitor.gcTotals(),
    history: {
      at: history.map((s) => s.at),
      cpu_percent: history.map((s) => s.cpu_percent),
      rss_bytes: history.map((s) => s.rss_bytes),
      event_loop_delay_p50_ms: history.map((s) => s.event_loop_delay_ms.p50),
      event_loop_delay_p99_ms: history.map((s) => s.event_loop_delay_ms.p99),
    },
  };
  const wrong = problems.map((p) => p.reason);
  if (latest !== undefined && latest.event_loop_delay_ms.p99 > EVENT_LOOP_DELAY_DEGRADED_MS) wrong.push(`event loop delayed: p99 ${latest.event_loop_delay_ms.p99.toFixed(0)} ms, as long as every answer waits`);
  if (heapShare > HEAP_SHARE_DEGRADED) wrong.push(`heap at ${(100 * heapShare).toFixed(0)} % of its limit`);
  if (wrong.length > 0) return { component: { name: 'process', status: 'degraded', reason: wrong.join('; ') }, details };
  const reason = latest === undefined ? 'first sample not taken yet' : `CPU ${latest.cpu_percent.toFixed(0)} %, RSS ${(latest.rss_bytes / 2 ** 20).toFixed(0)} MiB, event-loop delay p99 ${latest.event_loop_delay_ms.p99.toFixed(1)} ms`;
  return { component: { name: 'process', status: 'ok', reason }, details };
}

function deadLetterTotals(counts: DeadLetterCount[]): { recent_s: number; recent: number; total: number; by_source: DeadLetterCount[] } {
  return { recent_s: RECENT_MS / 1000, recent: counts.reduce((n, c) => n + c.recent, 0), total: counts.reduce((n, c) => n + c.total, 0), by_source: counts };
}
