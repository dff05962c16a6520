// The standard OTEL_* settings of the trace exporter, apart from the SDK so the configuration can name them without loading it.
export const TRACES_EXPORTERS = ['none', 'otlp', 'console'] as const;
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

export interface ExportSettings {
  exporter: (typeof TRACES_EXPORTERS)[number];
  /** Base URL; traces go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** Full URL of the traces endpoint, over `endpoint`. */
  tracesEndpoint: string | undefined;
  protocol: (typeof OTLP_PROTOCOLS)[number];
  headers: Record<string, string>;
}
