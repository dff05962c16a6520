// What tracing costs the pipeline core per event: the processor's spans of a micro-batch, recorded, settled and (when sampled) made SDK spans and queued for export.
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { eventTimeOptions, type Config } from '../src/config/index.ts';
import { DecisionEngine, defaultRuleSet } from '../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../src/features/index.ts';
import type { LocalSpan } from '../src/observe/tracing/index.ts';
import { Tracing } from '../src/observe/tracing/tracing.ts';
import { DecisionPipeline } from '../src/process/index.ts';
import { traceBatch } from '../src/process/batch-spans.ts';
import { StepTimes } from '../src/process/step-times.ts';
import type { Scorer } from '../src/score/index.ts';
import type { LogRecord } from '../src/transport/log.ts';

/** An exporter that only counts: the SDK's span making and the batch processor are measured, no encoding or network. */
class CountingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.spans += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

export interface TracedCoreRate {
  label: string;
  /** Events per second of wall time. */
  rate: number;
  /** CPU time per event (every thread of the process: GC included): on a shared machine, steadier than the rate. */
  cpuUs: number;
  /** CPU microseconds per event more than untraced. */
  extraCpuUs: number;
  exported: number;
}

/**
 * The core (validate → features → score → decide, batches of 512, no I/O) untraced, then with
 * every event's embedded spans — its append (the root, held as on the embedded log), processing
 * with features, score and decide, a store write and a publish — at ratio 0 and at ratio 1. Best
 * of two runs each after a warm-up.
 */
export async function benchTracedCore(config: Config, scorers: Scorer[], batches: LogRecord[][]): Promise<TracedCoreRate[]> {
  const events = batches.reduce((n, b) => n + b.length, 0);
  const run = (tracing: Tracing | undefined): { rate: number; cpuUs: number } => {
    const pipeline = new DecisionPipeline({ scorers, engine: new DecisionEngine(defaultRuleSet(config.threshold)), features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config) });
    const began = performance.now();
    const cpu = process.cpuUsage();
    for (const batch of batches) {
      if (tracing === undefined) {
        pipeline.processBatch(batch);
        continue;
      }
      for (const record of batch) {
        const append = tracing.span('log append', SpanKind.PRODUCER, undefined, { 'rtds.event_id': (record.value as { event_id: string }).event_id });
        append.hold();
        append.end();
        record.trace = append;
      }
      const times = new StepTimes(batch.length);
      const admitted = pipeline.admit(batch);
      const results = pipeline.decide(admitted, undefined, undefined, times);
      const spans = traceBatch(tracing, { stage: 'user_id', input: 'bench' }, admitted, results, times);
      const writes: LocalSpan[] = [];
      for (const span of spans) {
        writes.push(span.child('store write', SpanKind.CLIENT));
        span.child('publish', SpanKind.PRODUCER).end();
        span.end();
      }
      for (const write of writes) write.end();
    }
    const used = process.cpuUsage(cpu);
    return { rate: events / ((performance.now() - began) / 1000), cpuUs: (used.user + used.system) / events };
  };
  const best = async (ratio: number | undefined): Promise<{ rate: number; cpuUs: number; exported: number }> => {
    const exporter = new CountingExporter();
    const tracing = ratio === undefined ? undefined : new Tracing({ exporter, serviceName: 'bench', ratio, maxPending: 100_000 });
    run(tracing); // warm-up
    const runs = [run(tracing), run(tracing), run(tracing)];
    await tracing?.close();
    return { rate: Math.max(...runs.map((r) => r.rate)), cpuUs: Math.min(...runs.map((r) => r.cpuUs)), exported: exporter.spans };
  };
  const off = await best(undefined);
  const modes = [
    { label: 'off', ...off },
    { label: 'ratio 0', ...(await best(0)) },
    { label: 'ratio 1', ...(await best(1)) },
  ];
  return modes.map((m) => ({ label: m.label, rate: m.rate, cpuUs: m.cpuUs, extraCpuUs: m.cpuUs - off.cpuUs, exported: m.exported }));
}
