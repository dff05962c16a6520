// A traced micro-batch's spans: each record's processing, and within it its features, score and decision.
import { SpanKind } from '@opentelemetry/api';
import { keepReason, type LocalSpan, type Tracing } from '../observe/tracing/index.ts';
import type { LogRecord } from '../transport/log.ts';
import type { AdmittedBatch, PipelineResult } from './decision-pipeline.ts';
import type { StepTimes } from './step-times.ts';

/** What a processor's spans say of where they ran. */
export interface StageLabel {
  /** The topology stage (or stages, run at once) the records went through. */
  stage: string;
  /** The log or topic read. */
  input: string;
}

/**
 * A `process` span per record, under the context its record carries (or beginning a trace), from
 * the batch's admission to now, with its steps as children and its outcome; set as its result's
 * `trace`. Left open: the caller ends them once the results are handed on, so the store write and
 * publish spans made meanwhile keep the trace open.
 */
export function traceBatch(tracing: Tracing, label: StageLabel, admitted: AdmittedBatch, results: PipelineResult[], times: StepTimes): LocalSpan[] {
  const spans: LocalSpan[] = new Array(results.length);
  for (let i = 0; i < results.length; i++) {
    const record = admitted.records[i]!;
    const result = results[i]!;
    const span = tracing.span('process', SpanKind.CONSUMER, parentOf(tracing, record), {
      'rtds.stage': label.stage,
      'rtds.outcome': result.kind,
      'messaging.destination.name': label.input,
      'messaging.destination.partition.id': String(record.partition),
      'messaging.kafka.offset': record.offset,
    }, times.admittedAt);
    // The span now holds what the in-process log's record held.
    if (record.trace !== undefined && !('traceparent' in record.trace)) record.trace.release();
    steps(span, result, times, i);
    result.trace = span;
    spans[i] = span;
  }
  return spans;
}

function parentOf(tracing: Tracing, record: LogRecord): ReturnType<Tracing['extract']> | LocalSpan {
  const trace = record.trace;
  if (trace === undefined) return undefined;
  return 'traceparent' in trace ? tracing.extract(trace) : trace;
}

function steps(span: LocalSpan, result: PipelineResult, times: StepTimes, i: number): void {
  switch (result.kind) {
    case 'decided': {
      const d = result.decision;
      span.set('rtds.event_id', d.event_id).set('rtds.decision_id', d.decision_id);
      span.record('features', SpanKind.INTERNAL, times.features[2 * i]!, times.features[2 * i + 1]!);
      span.record('score', SpanKind.INTERNAL, times.scoreStart, times.scoreEnd, { 'rtds.model_version': d.model_version ?? 'rules only', 'rtds.degraded': d.degraded, 'rtds.risk_score': d.risk_score });
      span.record('decide', SpanKind.INTERNAL, times.decide[2 * i]!, times.decide[2 * i + 1]!, { 'rtds.decision': d.decision, 'rtds.rules_version': d.rules_version, 'rtds.late': d.late });
      span.keep(keepReason(d));
      return;
    }
    case 'forward':
      span.set('rtds.event_id', result.carried.event.event_id);
      span.record('features', SpanKind.INTERNAL, times.features[2 * i]!, times.features[2 * i + 1]!);
      return;
    case 'duplicate':
      span.set('rtds.event_id', result.event_id);
      return;
    case 'dead_letter':
    case 'conflict':
      span.set('rtds.event_id', result.letter.event_id).fail(result.letter.errors.map((e) => `${e.field}: ${e.reason}`).join('; '));
  }
}
