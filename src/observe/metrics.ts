// Prometheus metrics of the pipeline and a rolling summary (rate, mix, latency percentiles) for the dashboard.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision, Outcome } from '../contracts/index.ts';
import { RecentSamples } from './recent-samples.ts';

export interface LiveSummary {
  at: string;
  events_per_second: number;
  decisions_per_second: number;
  decisions: Record<Outcome, number>;
  dead_letters: number;
  late: number;
  degraded: number;
  latency_ms: { p50: number; p95: number; p99: number; max: number };
  consumer_lag: number;
  model_version: string | null;
  rules_version: string;
}

const LATENCY_WINDOW = 4096;
/** Store writes whose durations the health page's percentiles cover. */
const SINK_WRITES_KEPT = 512;
/** How far back the recent rates (late, degraded) reach: the summary's ticks of this span are kept. */
const RATE_WINDOW_MS = 5 * 60_000;

/** Decisions over the last minutes, and how many of them were late or degraded. */
export interface RecentRates {
  /** The span counted: up to five minutes, less since start. */
  seconds: number;
  decisions: number;
  late: number;
  degraded: number;
}

/** Durations of the latest batched store writes. */
export interface SinkWrites {
  /** Writes the percentiles cover (the latest, up to 512). */
  writes: number;
  /** Null before the first write. */
  p50_ms: number | null;
  p99_ms: number | null;
  /** When the latest write landed; null before the first. */
  last_at: string | null;
}

/** What /metrics shows of the served model's recent decisions. */
export interface LiveModelFigures {
  model_version: string;
  labelled: number;
  psi: number;
  metrics: { roc_auc: number; average_precision: number; at: readonly { threshold: number; precision: number; recall: number }[] } | null;
}

/** Failures RTDS counts by kind (rtds_errors_total): a bounded set, so the label cannot grow. */
export const ERROR_KINDS = [
  /** An input refused for breaking the contract and dead-lettered (the same refusals rtds_dead_letters_total counts by source). */
  'validation',
  /** A store write, claim or read that failed, or a request answered 503 because the store is away. */
  'store',
  /** A Kafka batch, commit, fetch or topic follow that failed. */
  'kafka',
  /** The embedded log failed to persist its committed offsets. */
  'log',
  /** A model (or challenger) that threw on a batch, or following the active model that failed. */
  'model',
  /** Following the active rule set and lists that failed, or a stored rule set this process cannot compile. */
  'rules',
  /** An unexpected failure: a request answered 500. */
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A model's circuit breaker, as /metrics reports it: 0 closed, 1 half open, 2 open. */
const CIRCUIT_STATES = { closed: 0, half_open: 1, open: 2 } as const;

/** The route label of a request that matched no route: the raw URL would let any client add series. */
export const UNMATCHED_ROUTE = 'unmatched';

/** What only the running app can tell at a scrape: the same figures GET /api/v1/health reads, read once per scrape. */
export interface ScrapedFigures {
  /** Records not yet processed, per partition of each stage input this process consumes; null lag: not known yet. */
  partitionLag(): { stage: string; partition: number; lag: number | null }[];
  /** The circuit breakers of the served model and the challenger; null where none serves. */
  circuits(): { model: keyof typeof CIRCUIT_STATES | null; challenger: keyof typeof CIRCUIT_STATES | null };
  /** On Kafka, records of the labels topic not yet stored; undefined where this process reads none. */
  labelTopicLag(): number | undefined;
  /** When the label feed last read new labels (epoch ms); undefined without a feed or before its first read. */
  labelFeedReadAt(): number | undefined;
}

/**
 * prom-client's default gauges that carry a counter's `_total` suffix (promtool refuses them).
 * Each is the sum of its per-type gauge: `sum(rtds_nodejs_active_handles)` and so on.
 */
const MISNAMED_DEFAULTS = ['rtds_nodejs_active_handles_total', 'rtds_nodejs_active_requests_total', 'rtds_nodejs_active_resources_total'];

export class PipelineMetrics {
  readonly registry = new Registry();
  readonly eventsIn: Counter<'source'>;
  readonly decisions: Counter<'decision' | 'event_type'>;
  readonly deadLetters: Counter<'source'>;
  readonly lateEvents: Counter;
  readonly duplicates: Counter;
  readonly conflicts: Counter<'source'>;
  readonly labelsApplied: Counter;
  readonly labelsStored: Counter;
  readonly degraded: Counter<'degraded'>;
  readonly latency: Histogram;
  readonly lateness: Histogram;
  readonly partialHistory: Counter;
  readonly sinkPending: Gauge;
  /** Measures the processor's keyed state when /metrics is scraped; none in a process without a processor. */
  private stateSize: (() => { entities: number; bytes: number; eventIds: number }) | undefined;
  private liveModel: (() => Promise<LiveModelFigures | null>) | undefined;
  private scraped: ScrapedFigures | undefined;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly errors: Counter<'kind'>;
  readonly kafkaTransactions: Histogram;
  readonly kafkaTransactionAborts: Counter;
  readonly sinkFlush: Histogram;
  readonly claimRound: Histogram;
  readonly storeRowsIsolated: Counter<'table' | 'reason'>;
  readonly storeRowsUnstorable: Counter<'table'>;
  readonly storeWriteRetries: Counter<'failure'>;

  // Rolling state for the summary: totals now vs at the previous tick, recent latencies.
  private readonly totals = { events: 0, decisions: 0, approved: 0, flagged: 0, rejected: 0, deadLetters: 0, late: 0, degraded: 0 };
  private previous = { events: 0, decisions: 0, at: performance.now() };
  private readonly recentLatency = new RecentSamples(LATENCY_WINDOW);
  private readonly recentWrites = new RecentSamples(SINK_WRITES_KEPT);
  private lastWriteAt: number | undefined;
  /** The totals at each summary tick of the rate window, oldest first; the first is the start (all zero). */
  private readonly ticks = [{ at: performance.now(), decisions: 0, late: 0, degraded: 0 }];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'rtds_' });
      for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    this.eventsIn = new Counter({ name: 'rtds_events_in_total', help: 'Events accepted into the pipeline, by source', labelNames: ['source'], registers });
    this.decisions = new Counter({ name: 'rtds_decisions_total', help: 'Decisions made, by outcome and event type', labelNames: ['decision', 'event_type'], registers });
    this.deadLetters = new Counter({ name: 'rtds_dead_letters_total', help: 'Invalid inputs sent to the dead-letter store, by source', labelNames: ['source'], registers });
    this.labelsStored = new Counter({ name: 'rtds_labels_stored_total', help: 'Labels read from the labels topic and stored', registers });
    this.labelsApplied = new Counter({ name: 'rtds_labels_applied_total', help: 'Fraud verdicts (and overturned ones) handed to label-driven features', registers });
    this.lateEvents = new Counter({ name: 'rtds_late_events_total', help: 'Events later than the watermark minus the allowed lateness (decided, joined no window)', registers });
    this.duplicates = new Counter({ name: 'rtds_duplicate_events_total', help: 'Re-sent event ids recognised and not decided again', registers });
    this.conflicts = new Counter({
      name: 'rtds_conflicting_events_total',
      help: 'Re-sent event ids with another body than the one holding the id: refused and dead-lettered, never decided; by source (http at the edge, log in the processor)',
      labelNames: ['source'],
      registers,
    });
    this.degraded = new Counter({ name: 'rtds_degraded_decisions_total', help: 'Decisions made below the main model, by degradation step', labelNames: ['degraded'], registers });
    this.lateness = new Histogram({
      name: 'rtds_late_event_lateness_seconds',
      help: 'How far (event time) behind its partition watermark each late event was',
      buckets: [1, 10, 60, 600, 3600, 6 * 3600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400],
      registers,
    });
    this.partialHistory = new Counter({
      name: 'rtds_partial_history_decisions_total',
      help: 'Decisions of events so late that some of their windows reached before the history held (history "partial")',
      registers,
    });
    this.latency = new Histogram({
      name: 'rtds_decision_latency_seconds',
      help: 'From event accepted to decision available',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.sinkPending = new Gauge({ name: 'rtds_sink_pending_rows', help: 'Rows waiting for the next batched write', registers });
    const measured = (pick: (s: { entities: number; bytes: number; eventIds: number }) => number): number | undefined => (this.stateSize === undefined ? undefined : pick(this.stateSize()));
    const state = (name: string, help: string, pick: (s: { entities: number; bytes: number; eventIds: number }) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = measured(pick);
          if (value !== undefined) this.set(value);
        },
      });
    };
    state('rtds_feature_state_entities', 'Entities (users, merchants, …) with feature state in this processor', (s) => s.entities);
    state('rtds_feature_state_bytes', 'Approximate bytes of feature state in this processor (estimated from a sample of entities)', (s) => s.bytes);
    state('rtds_dedupe_event_ids', 'Event ids remembered to skip re-sent events', (s) => s.eventIds);
    // The app's figures at each scrape; none in a process that has not reported them.
    const app = (): ScrapedFigures | undefined => this.scraped;
    const scrapedGauge = (name: string, help: string, labelNames: string[], set: (g: Gauge, f: ScrapedFigures) => void): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const figures = app();
          if (figures !== undefined) set(this, figures);
        },
      });
    };
    scrapedGauge('rtds_consumer_lag_records', 'Records of a stage input partition consumed here not yet processed and committed', ['stage', 'partition'], (g, f) => {
      for (const p of f.partitionLag()) if (p.lag !== null) g.set({ stage: p.stage, partition: String(p.partition) }, p.lag);
    });
    scrapedGauge('rtds_model_circuit_state', 'Circuit breaker of the served model or the challenger: 0 closed, 1 half open (one batch tries it), 2 open (skipped, the fallback scores)', ['scorer'], (g, f) => {
      const circuits = f.circuits();
      for (const scorer of ['model', 'challenger'] as const) {
        const state = circuits[scorer];
        if (state !== null) g.set({ scorer }, CIRCUIT_STATES[state]);
      }
    });
    // An unlabelled gauge always has a value: NaN (no value) where this process has no such feed, never a reassuring 0.
    scrapedGauge('rtds_label_topic_lag_records', 'Records of the labels topic not yet stored (Kafka; NaN where this process reads none)', [], (g, f) => {
      g.set(f.labelTopicLag() ?? Number.NaN);
    });
    scrapedGauge('rtds_label_feed_lag_seconds', 'Seconds since label-driven features last read newly stored labels, read every RTDS_LABEL_POLL_MS (NaN where no feed runs, or before its first read)', [], (g, f) => {
      const at = f.labelFeedReadAt();
      g.set(at === undefined ? Number.NaN : (Date.now() - at) / 1000);
    });
    // The served model's live figures, read from the store once per scrape (gauges are collected concurrently).
    let reading: { at: number; figures: Promise<LiveModelFigures | null> } | undefined;
    const figures = (): Promise<LiveModelFigures | null> => {
      if (reading === undefined || performance.now() - reading.at > 1000) reading = { at: performance.now(), figures: this.liveModel?.() ?? Promise.resolve(null) };
      return reading.figures;
    };
    const live = (name: string, help: string, set: (g: Gauge, f: LiveModelFigures) => void, labelNames = ['model_version']): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          const f = await figures().catch(() => null);
          if (f !== null) set(this, f);
        },
      });
    };
    const finite = (g: Gauge, labels: Record<string, string>, value: number | undefined): void => {
      if (value !== undefined && Number.isFinite(value)) g.set(labels, value);
    };
    live('rtds_model_live_labelled', 'Recent decisions of the served model with a verdict (the base of the live figures)', (g, f) => g.set({ model_version: f.model_version }, f.labelled));
    live('rtds_model_live_roc_auc', 'ROC-AUC of the served model over its recent labelled decisions', (g, f) => finite(g, { model_version: f.model_version }, f.metrics?.roc_auc));
    live('rtds_model_live_average_precision', 'Average precision of the served model over its recent labelled decisions', (g, f) => finite(g, { model_version: f.model_version }, f.metrics?.average_precision));
    live(
      'rtds_model_live_precision',
      'Precision at a deployed threshold over recent labelled decisions',
      (g, f) => f.metrics?.at.forEach((t) => finite(g, { model_version: f.model_version, threshold: String(t.threshold) }, t.precision)),
      ['model_version', 'threshold'],
    );
    live(
      'rtds_model_live_recall',
      'Recall at a deployed threshold over recent labelled decisions',
      (g, f) => f.metrics?.at.forEach((t) => finite(g, { model_version: f.model_version, threshold: String(t.threshold) }, t.recall)),
      ['model_version', 'threshold'],
    );
    live('rtds_model_score_psi', 'Population stability index of recent scores against the held-out scores at training', (g, f) => finite(g, { model_version: f.model_version }, f.psi));
    this.storeRowsIsolated = new Counter({
      name: 'rtds_store_rows_isolated_total',
      help: 'Rows the store refused for their data (by SQLSTATE, or encoding), set apart from their batch; events among them are dead-lettered',
      labelNames: ['table', 'reason'],
      registers,
    });
    this.storeRowsUnstorable = new Counter({ name: 'rtds_store_rows_unstorable_total', help: 'Dead letters the store refused even made safe: only logged', labelNames: ['table'], registers });
    this.storeWriteRetries = new Counter({ name: 'rtds_store_write_retries_total', help: 'Batched writes retried after the store failed (connectivity or other), by failure', labelNames: ['failure'], registers });
    this.sinkFlush = new Histogram({
      name: 'rtds_sink_flush_seconds',
      help: 'Duration of one batched store write (events, decisions and dead letters in one transaction)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.claimRound = new Histogram({
      name: 'rtds_claim_seconds',
      help: 'Duration of one round of event-id claims in the store, queueing there included: each micro-batch is decided only once its ids are claimed',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.httpRequests = new Counter({ name: 'rtds_http_requests_total', help: `HTTP requests answered, by method, route pattern ("${UNMATCHED_ROUTE}" when none matched) and status code`, labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({
      name: 'rtds_http_request_duration_seconds',
      help: 'From a request received to its answer sent, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new Counter({ name: 'rtds_errors_total', help: `Failures by kind: ${ERROR_KINDS.join(', ')}`, labelNames: ['kind'], registers });
    // Every kind from zero, so a rate over it exists before its first failure.
    for (const kind of ERROR_KINDS) this.errors.inc({ kind }, 0);
    this.kafkaTransactions = new Histogram({
      name: 'rtds_kafka_transaction_seconds',
      help: "A processor's committed Kafka transaction, from begin to commit: its batches' outputs and consumed offsets",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.kafkaTransactionAborts = new Counter({
      name: 'rtds_kafka_transaction_aborts_total',
      help: 'Kafka transactions aborted while open: a failed commit, a rebalance or a stop; their batches are read again',
      registers,
    });
  }

  /** Report the app's lag per partition, circuits and label feed on each scrape. */
  measure(figures: ScrapedFigures): void {
    this.scraped = figures;
  }

  /** An HTTP request answered. */
  answered(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  failed(kind: ErrorKind): void {
    this.errors.inc({ kind });
  }

  /** Report the served model's live figures on each scrape. */
  measureModel(figures: () => Promise<LiveModelFigures | null>): void {
    this.liveModel = figures;
  }

  /** Report the processor's keyed state (entities, bytes, remembered ids) on each scrape. */
  measureState(size: () => { entities: number; bytes: number; eventIds: number }): void {
    this.stateSize = size;
  }


  eventIn(source: string, n = 1): void {
    this.eventsIn.inc({ source }, n);
    this.totals.events += n;
  }

  deadLetter(source: string): void {
    this.deadLetters.inc({ source });
    this.errors.inc({ kind: 'validation' });
    this.totals.deadLetters++;
  }

  /** Decisions counted since this process started. */
  get decisionsCounted(): number {
    return this.totals.decisions;
  }

  decided(d: Decision, eventType: string): void {
    this.decisions.inc({ decision: d.decision, event_type: eventType });
    this.latency.observe(d.processing_time_ms / 1000);
    this.totals.decisions++;
    this.totals[d.decision]++;
    if (d.late) {
      this.lateEvents.inc();
      this.totals.late++;
    }
    if (d.history === 'partial') this.partialHistory.inc();
    if (d.degraded !== 'none') {
      this.degraded.inc({ degraded: d.degraded });
      this.totals.degraded++;
    }
    this.recentLatency.add(d.processing_time_ms);
  }

  /** A batched store write landed after `ms`: for /metrics and for the health page's percentiles. */
  sinkFlushed(ms: number): void {
    this.sinkFlush.observe(ms / 1000);
    this.recentWrites.add(ms);
    this.lastWriteAt = Date.now();
  }

  sinkWrites(): SinkWrites {
    const writes = this.recentWrites.size;
    const [p50, p99] = this.recentWrites.quantiles(0.5, 0.99).map((ms) => (writes === 0 ? null : Math.round(ms * 1000) / 1000));
    return { writes, p50_ms: p50!, p99_ms: p99!, last_at: this.lastWriteAt === undefined ? null : new Date(this.lastWriteAt).toISOString() };
  }

  /** Counted from the summary's ticks, so between two ticks the figures stand still. */
  recentRates(): RecentRates {
    const first = this.ticks[0]!;
    const last = this.ticks[this.ticks.length - 1]!;
    return { seconds: Math.round((last.at - first.at) / 1000), decisions: last.decisions - first.decisions, late: last.late - first.late, degraded: last.degraded - first.degraded };
  }

  /** The summary since the previous call; one ticker calls it once a second and shares the result. */
  summary(context: { consumerLag: number; modelVersion: string | null; rulesVersion: string }): LiveSummary {
    const now = performance.now();
    const seconds = Math.max((now - this.previous.at) / 1000, 1e-3);
    const [p50, p95, p99, max] = this.recentLatency.quantiles(0.5, 0.95, 0.99, 1).map((ms) => Math.round(ms * 1000) / 1000);
    const out: LiveSummary = {
      at: new Date().toISOString(),
      events_per_second: Math.round((this.totals.events - this.previous.events) / seconds),
      decisions_per_second: Math.round((this.totals.decisions - this.previous.decisions) / seconds),
      decisions: { approved: this.totals.approved, flagged: this.totals.flagged, rejected: this.totals.rejected },
      dead_letters: this.totals.deadLetters,
      late: this.totals.late,
      degraded: this.totals.degraded,
      latency_ms: { p50: p50!, p95: p95!, p99: p99!, max: max! },
      consumer_lag: context.consumerLag,
      model_version: context.modelVersion,
      rules_version: context.rulesVersion,
    };
    this.previous = { events: this.totals.events, decisions: this.totals.decisions, at: now };
    this.recentLatency.clear(); // percentiles describe the last tick only, so an idle system shows no stale latency
    this.ticks.push({ at: now, decisions: this.totals.decisions, late: this.totals.late, degraded: this.totals.degraded });
    while (this.ticks.length > 2 && this.ticks[1]!.at <= now - RATE_WINDOW_MS) this.ticks.shift();
    return out;
  }
}
