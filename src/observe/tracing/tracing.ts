// Traces of events through the pipeline: spans recorded for every event in flight, exported when head-sampled or when its decision is rejected or degraded.
import { ROOT_CONTEXT, TraceFlags, trace, type Attributes, type SpanContext, type SpanKind } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, SamplingDecision, TraceIdRatioBasedSampler, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ExportSettings } from './export-settings.ts';
import { ReportedExporter, spanExporter } from './exporter.ts';
import { AssignedIds, newTraceId } from './ids.ts';
import { LocalSpan, PendingTrace, spanClock, type TraceHeaders, type TraceSettlement } from './local-span.ts';

export interface TracingOptions {
  exporter: SpanExporter;
  /** OTEL_SERVICE_NAME: the resource every span is exported with. */
  serviceName: string;
  /** Head sampling ratio of the traces that begin here; a trace with a remote parent follows the parent's sampled flag. */
  ratio: number;
  /** Traces held at once at most, waiting for their fate; past it a new trace is kept only when head-sampled. */
  maxPending: number;
  onExportError?: (err: Error | undefined, spans: number) => void;
}

/** What became of the traces so far. */
export interface TracingCounts {
  /** Exported because head sampling chose them. */
  sampled: number;
  /** Exported for their decision alone (rejected or degraded). */
  kept: number;
  dropped: number;
  /** Not recorded: begun while `maxPending` traces were held. */
  unrecorded: number;
  /** Held now. */
  pending: number;
}

/** Spans queued for export at most (past it the processor drops them), per export request, and the pause between exports. */
const EXPORT_QUEUE = 8192;
const EXPORT_BATCH = 1024;
const EXPORT_DELAY_MS = 1000;

/**
 * Every event's spans are recorded as it goes (LocalSpan: a few small objects, no SDK span), since
 * whether its trace is worth exporting is known only at its decision. When nothing of a trace is
 * open here any more, it is exported — its spans made SDK spans with their recorded ids and times
 * and handed to the batch exporter — if head sampling chose it or a decision in it was rejected or
 * degraded; otherwise dropped.
 */
export class Tracing implements TraceSettlement {
  private readonly provider: TracerProvider;
  private readonly ids = new AssignedIds();
  private readonly tracer;
  private readonly ratio: TraceIdRatioBasedSampler;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly maxPending: number;
  readonly counts: TracingCounts = { sampled: 0, kept: 0, dropped: 0, unrecorded: 0, pending: 0 };

  constructor(options: TracingOptions) {
    this.ratio = new TraceIdRatioBasedSampler(options.ratio);
    this.maxPending = options.maxPending;
    const exporter = options.onExportError === undefined ? options.exporter : new ReportedExporter(options.exporter, options.onExportError);
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
      // The sampling was decided while recording: every span made here is exported.
      sampler: new AlwaysOnSampler(),
      idGenerator: this.ids,
      spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: EXPORT_QUEUE, maxExportBatchSize: EXPORT_BATCH, scheduledDelayMillis: EXPORT_DELAY_MS })],
    });
    this.tracer = this.provider.getTracer('rtds');
  }

  /**
   * A span under `parent`: recorded here (a child), in another process (its W3C context: this
   * process's part of that trace begins), or none (a new trace).
   */
  span(name: string, kind: SpanKind, parent: LocalSpan | SpanContext | undefined, attributes: Attributes = {}, start = spanClock()): LocalSpan {
    if (parent instanceof LocalSpan) return parent.child(name, kind, attributes, start);
    const traceId = parent?.traceId ?? newTraceId();
    const sampled = parent === undefined ? this.ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED : (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    const recording = sampled || this.counts.pending < this.maxPending;
    if (recording) this.counts.pending++;
    else this.counts.unrecorded++;
    return new LocalSpan(new PendingTrace(traceId, sampled, parent, recording, this), name, kind, undefined, start, attributes);
  }

  /** The remote parent W3C headers name; undefined when there is none or it is malformed. */
  extract(headers: Partial<TraceHeaders> | Record<string, string | string[] | undefined>): SpanContext | undefined {
    if (headers.traceparent === undefined) return undefined;
    return trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, headers, { get: (carrier, key) => carrier[key], keys: (carrier) => Object.keys(carrier) }));
  }

  settle(pending: PendingTrace): void {
    if (!pending.recording) return;
    this.counts.pending--;
    if (!pending.sampled && pending.keep === undefined) return void this.counts.dropped++;
    if (pending.sampled) this.counts.sampled++;
    else this.counts.kept++;
    for (const s of pending.spans) this.export(s, pending);
  }

  /** Export what is queued now. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Export what is queued and stop. */
  close(): Promise<void> {
    return this.provider.shutdown();
  }

  /** One recorded span as an SDK span, under the ids it was recorded (and propagated) with. */
  private export(s: LocalSpan, pending: PendingTrace): void {
    const parent = s.parent === undefined ? pending.remote : { traceId: pending.traceId, spanId: s.parent.spanId, traceFlags: TraceFlags.SAMPLED };
    this.ids.traceId = pending.traceId;
    this.ids.spanId = s.spanId;
    const span = this.tracer.startSpan(s.name, { kind: s.kind, startTime: s.startTime, attributes: s.attributes }, parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent));
    if (s.status !== undefined) span.setStatus(s.status);
    span.end(s.endTime);
  }
}

/**
 * Tracing as the settings say (undefined when OTEL_TRACES_EXPORTER is none), or to `exporter`
 * whatever they say. This module loads the SDK and its exporters: import it only to trace.
 */
export function openTracing(settings: ExportSettings, options: Omit<TracingOptions, 'exporter'>, exporter = spanExporter(settings)): Tracing | undefined {
  return exporter === undefined ? undefined : new Tracing({ ...options, exporter });
}
