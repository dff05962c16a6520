// Where exported spans go: OTLP over HTTP (protobuf or JSON), the console, or an exporter handed in; failures reported, never thrown.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ConsoleSpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { ExportSettings } from './export-settings.ts';

/** The exporter the settings name; undefined when traces are off. */
export function spanExporter(s: ExportSettings): SpanExporter | undefined {
  if (s.exporter === 'none') return undefined;
  if (s.exporter === 'console') return new ConsoleSpanExporter();
  const url = s.tracesEndpoint ?? `${s.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const Exporter = s.protocol === 'http/json' ? OtlpJsonExporter : OtlpProtobufExporter;
  return new Exporter({ url, headers: s.headers });
}

/** An exporter whose failed exports are told to `onError` (a collector away): the spans are lost, the pipeline goes on. */
export class ReportedExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly onError: (err: Error | undefined, spans: number) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.onError(result.error, spans.length);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
