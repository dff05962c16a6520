// Tracing: events' spans recorded cheaply, sampled at their decision, exported through the OpenTelemetry SDK.
// This face is light; the SDK and its exporters load with tracing.ts, imported only when tracing is on.
export type { Tracing, TracingCounts, TracingOptions } from './tracing.ts';
export { keepReason, LocalSpan, spanClock, type KeepReason, type TraceHeaders } from './local-span.ts';
export { OTLP_PROTOCOLS, TRACES_EXPORTERS, type ExportSettings } from './export-settings.ts';
