// Opens tracing as configured: the OpenTelemetry SDK is loaded only when traces are on.
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { traceExport, type Config } from '../config/index.ts';
import type { Logger } from '../observe/index.ts';
import type { Tracing } from '../observe/tracing/index.ts';

/** A collector that is away is reported at most this often: each failed export would otherwise be a line a second. */
const EXPORT_FAILURE_REPORT_MS = 60_000;

/** Tracing per the OTEL_* settings, or to `exporter` (tests, benchmarks) whatever they say; undefined when off. */
export async function openAppTracing(config: Config, logger: Logger, exporter?: SpanExporter): Promise<Tracing | undefined> {
  if (exporter === undefined && config.tracesExporter === 'none') return undefined;
  const { openTracing } = await import('../observe/tracing/tracing.ts');
  let lost = 0;
  let reported = -Infinity;
  const settings = traceExport(config);
  const tracing = openTracing(
    settings,
    {
      serviceName: config.serviceName,
      ratio: config.traceSampleRatio,
      maxPending: config.tracePendingMax,
      onExportError: (err, spans) => {
        lost += spans;
        if (performance.now() - reported < EXPORT_FAILURE_REPORT_MS) return;
        logger.warn({ err, spans_lost: lost, endpoint: settings.tracesEndpoint ?? settings.endpoint }, 'exporting traces failed; those spans are lost (reported at most once a minute)');
        lost = 0;
        reported = performance.now();
      },
    },
    exporter,
  );
  logger.info({ exporter: exporter === undefined ? config.tracesExporter : 'given', ratio: config.traceSampleRatio, service: config.serviceName }, 'tracing on');
  return tracing;
}
