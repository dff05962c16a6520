// The tracing core alone: recorded spans settle with their trace, exported under their recorded ids and times, within the bound on traces held; and its settings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { ConfigError, loadConfig, traceExport } from '../../src/config/index.ts';
import { Tracing } from '../../src/observe/tracing/tracing.ts';

/** Span times are epoch milliseconds (the SDK reads small numbers as since the process began). */
const T = Date.parse('2026-11-30T12:00:00Z');
const REMOTE = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', tracestate: 'congo=t61rcWkgMzE' };

function tracing(ratio: number, maxPending = 100): { tracing: Tracing; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  return { tracing: new Tracing({ exporter, serviceName: 'test', ratio, maxPending }), exporter };
}

describe('tracing', () => {
  it('exports a trace once its last open span ends, each span under the id it was propagated with and its recorded times', async () => {
    const { tracing: t, exporter } = tracing(1);
    const root = t.span('log append', SpanKind.PRODUCER, undefined, { 'rtds.event_id': 'e1' }, T);
    root.hold();
    root.end(T + 2);
    const propagated = root.headers().traceparent;
    const child = t.span('process', SpanKind.CONSUMER, root, {}, T + 5);
    root.release();
    child.record('decide', SpanKind.INTERNAL, T + 6, T + 7, { 'rtds.decision': 'approved' });
    await t.flush();
    assert.equal(exporter.getFinishedSpans().length, 0, 'nothing while the process span is open');
    child.end(T + 10);
    await t.flush();
    const spans = new Map(exporter.getFinishedSpans().map((s) => [s.name, s]));
    assert.deepEqual([...spans.keys()].sort(), ['decide', 'log append', 'process']);
    assert.equal(propagated, `00-${root.traceId}-${spans.get('log append')!.spanContext().spanId}-01`, 'the exported span has the id its record carried');
    assert.equal(spans.get('process')!.parentSpanContext?.spanId, spans.get('log append')!.spanContext().spanId);
    assert.equal(spans.get('decide')!.parentSpanContext?.spanId, spans.get('process')!.spanContext().spanId);
    assert.deepEqual([hrTimeToMilliseconds(spans.get('process')!.startTime), hrTimeToMilliseconds(spans.get('process')!.endTime)], [T + 5, T + 10]);
    assert.deepEqual({ ...t.counts }, { sampled: 1, kept: 0, dropped: 0, unrecorded: 0, pending: 0 });
  });

  it("continues a remote parent: its flag decides, its tracestate travels on, a kept decision overrides an unsampled flag", async () => {
    const { tracing: t, exporter } = tracing(1);
    const remote = t.extract(REMOTE);
    assert.equal(remote?.traceId, '0af7651916cd43dd8448eb211c80319c');
    const dropped = t.span('process', SpanKind.CONSUMER, remote);
    assert.match(dropped.headers().traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/, 'the unsampled flag travels on, whatever the local ratio');
    assert.equal(dropped.headers().tracestate, REMOTE.tracestate);
    dropped.end();
    const kept = t.span('process', SpanKind.CONSUMER, remote);
    kept.keep('rejected');
    kept.end();
    await t.flush();
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 1, 'only the kept one');
    assert.equal(spans[0]!.parentSpanContext?.spanId, 'b7ad6b7169203331');
    assert.deepEqual({ ...t.counts }, { sampled: 0, kept: 1, dropped: 1, unrecorded: 0, pending: 0 });
    assert.equal(t.extract({ traceparent: 'garbage' }), undefined);
  });

  it('holds at most maxPending unsampled traces; past it a new one is not recorded, yet its ids still flow', async () => {
    const { tracing: t, exporter } = tracing(0, 2);
    const open = [t.span('a', SpanKind.INTERNAL, undefined), t.span('b', SpanKind.INTERNAL, undefined)];
    const third = t.span('c', SpanKind.INTERNAL, undefined);
    assert.match(third.headers().traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    third.keep('rejected');
    third.end();
    for (const span of open) span.end();
    await t.flush();
    assert.deepEqual(exporter.getFinishedSpans(), [], 'the unrecorded trace had nothing to export');
    assert.deepEqual({ ...t.counts }, { sampled: 0, kept: 0, dropped: 2, unrecorded: 1, pending: 0 });
  });
});

describe('the OTEL_* settings', () => {
  it('are read and checked from the environment: endpoints as http(s) URLs, headers percent-decoded, the ratio within [0, 1]', () => {
    const config = loadConfig({}, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-tenant=risk', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    assert.deepEqual(traceExport(config), { exporter: 'otlp', endpoint: 'https://collector:4318/', tracesEndpoint: undefined, protocol: 'http/protobuf', headers: { authorization: 'Bearer abc', 'x-tenant': 'risk' } });
    assert.equal(config.traceSampleRatio, 0.25);
    assert.equal(loadConfig({}, {}).tracesExporter, 'none', 'off by default');
    for (const [name, value] of [['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'], ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'ftp://x/v1/traces'], ['OTEL_TRACES_SAMPLER_ARG', '1.5'], ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'], ['OTEL_TRACES_EXPORTER', 'jaeger']] as const) {
      assert.throws(() => loadConfig({}, { [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name, `${name}=${value} is refused`);
    }
    assert.throws(() => loadConfig({}, { OTEL_EXPORTER_OTLP_HEADERS: 'secret-token' }), (err: unknown) => err instanceof ConfigError && !err.message.includes('secret-token'), 'a malformed header list is refused without repeating it');
  });
});
