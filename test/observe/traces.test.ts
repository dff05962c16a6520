// OpenTelemetry traces of the embedded app: one trace from the HTTP request to the stored decision, exported in memory and over OTLP/HTTP, and sampled at the decision.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/observe/index.ts';
import { RulesOnlyScorer } from '../../src/score/index.ts';
import { ScriptedModel } from '../score/scripted-model.ts';
import { waitFor } from '../support/wait.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const event = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event_id: id, event_type: 'transaction', user_id: `user-${id}`, amount: 12, currency: 'EUR', channel: 'web', country: 'DE', ...extra });

/** An embedded app in a folder of its own, traced; `configure` adds settings. */
async function tracedApp(dirs: string[], configure: Partial<Config>, exporter?: InMemorySpanExporter, lines?: string[]): Promise<RunningApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-traces-'));
  dirs.push(dataDir);
  const config = loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, modelPollMs: 3_600_000, ...configure }, {});
  const logger = lines === undefined ? undefined : createLogger('debug', { write: (line: string) => void lines.push(line) });
  return startApp(config, { ...(exporter === undefined ? {} : { spanExporter: exporter }), ...(logger === undefined ? {} : { logger }) });
}

const post = (app: RunningApp, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${app.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** The spans of `traceId` exported so far, after exporting what is queued. */
async function exported(app: RunningApp, exporter: InMemorySpanExporter, traceId: string): Promise<ReadableSpan[]> {
  await app.tracing!.flush();
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
}

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const named = spans.filter((s) => s.name === name);
  assert.equal(named.length, 1, `one ${name} span, among ${spans.map((s) => s.name).join(', ')}`);
  return named[0]!;
}

const isChild = (child: ReadableSpan, parent: ReadableSpan): boolean => child.parentSpanContext?.spanId === parent.spanContext().spanId;

describe('traces of the embedded app', () => {
  const dirs: string[] = [];
  const apps: RunningApp[] = [];
  // One app for the in-memory tests, at ratio 0: a caller's sampled traceparent is followed (parent-based), the rest sampled at the decision.
  const exporter = new InMemorySpanExporter();
  const lines: string[] = [];
  let app: RunningApp;
  before(async () => {
    app = await tracedApp(dirs, { traceSampleRatio: 0 }, exporter, lines);
    apps.push(app);
  });
  after(async () => {
    for (const each of apps) await each.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('follows an event from POST /api/v1/events with a sampled traceparent to its stored decision, span by span', async () => {
    const res = await post(app, '/api/v1/events', [event('traced-1')], { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'vendor=opaque' });
    assert.equal(res.status, 202);
    const spans = await waitFor('the trace up to its store write', 10_000, async () => {
      const found = await exported(app, exporter, TRACE_ID);
      return found.some((s) => s.name === 'store write') ? found : undefined;
    });

    assert.deepEqual(spans.map((s) => s.name).sort(), ['POST /api/v1/events', 'decide', 'features', 'log append', 'process', 'publish', 'score', 'store write']);
    const request = only(spans, 'POST /api/v1/events');
    const append = only(spans, 'log append');
    const processing = only(spans, 'process');
    const [features, score, decide, store, publish] = ['features', 'score', 'decide', 'store write', 'publish'].map((name) => only(spans, name));
    assert.equal(request.kind, SpanKind.SERVER);
    assert.equal(request.parentSpanContext?.spanId, CALLER_SPAN, "the request continues the caller's span");
    assert.equal(request.parentSpanContext?.isRemote, true);
    assert.equal(request.spanContext().traceState?.get('vendor'), 'opaque', "the caller's tracestate is kept");
    assert.equal(request.attributes['http.route'], '/api/v1/events');
    assert.equal(request.attributes['http.response.status_code'], 202);
    assert.ok(isChild(append, request) && append.kind === SpanKind.PRODUCER);
    assert.equal(append.attributes['rtds.event_id'], 'traced-1');
    assert.ok(isChild(processing, append) && processing.kind === SpanKind.CONSUMER, 'the record carried its append span to the processor');
    assert.equal(processing.attributes['rtds.event_id'], 'traced-1');
    assert.equal(processing.attributes['rtds.outcome'], 'decided');
    for (const step of [features!, score!, decide!, store!, publish!]) assert.ok(isChild(step, processing), `${step.name} is a step of the processing`);
    assert.equal(decide!.attributes['rtds.decision'], 'approved');
    assert.equal(score!.attributes['rtds.degraded'], 'rules_only');
    assert.equal(store!.kind, SpanKind.CLIENT);
    assert.equal(publish!.attributes['messaging.destination.name'], 'live feed');
    const end = (s: ReadableSpan): number => hrTimeToMilliseconds(s.endTime);
    assert.ok(end(features!) <= end(decide!) && end(decide!) <= end(store!), 'features, then the decision, then the store');
    assert.equal(Math.max(...spans.map(end)), end(store!), 'the trace ends with the store write');

    const stored = (await (await fetch(`${app.url}/api/v1/events/traced-1`)).json()) as { decision: { trace_id: string; decision_id: string } };
    assert.equal(stored.decision.trace_id, TRACE_ID, 'GET /api/v1/events/{id} tells the trace');
    const decided = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'decided' && l.event_id === 'traced-1');
    assert.deepEqual([decided?.trace_id, decided?.decision_id], [TRACE_ID, stored.decision.decision_id], "the decision's log line names its trace");
  });

  it('exports over OTLP/HTTP (JSON) to the configured endpoint, with the service name', async () => {
    const bodies: { contentType: string | undefined; body: OtlpTraces }[] = [];
    const receiver: Server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') bodies.push({ contentType: req.headers['content-type'], body: JSON.parse(text) as OtlpTraces });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = receiver.address() as AddressInfo;
      const otlp = await tracedApp(dirs, { tracesExporter: 'otlp', otlpProtocol: 'http/json', otlpTracesEndpoint: `http://127.0.0.1:${port}/v1/traces`, serviceName: 'rtds-under-test' });
      apps.push(otlp);
      const answer = (await (await post(otlp, '/api/v1/decide', event('otlp-1'))).json()) as { trace_id: string };
      assert.match(answer.trace_id, /^[0-9a-f]{32}$/, 'the decision answered names its trace');
      const names = await waitFor('the decided trace at the receiver', 10_000, async () => {
        await otlp.tracing!.flush();
        const received = bodies.flatMap((b) => b.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))).filter((s) => s.traceId === answer.trace_id);
        return received.some((s) => s.name === 'store write') ? received.map((s) => s.name).sort() : undefined;
      });
      assert.deepEqual(names, ['POST /api/v1/decide', 'decide', 'features', 'log append', 'process', 'publish', 'score', 'store write']);
      assert.equal(bodies[0]!.contentType, 'application/json');
      const service = bodies[0]!.body.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name');
      assert.equal(service?.value.stringValue, 'rtds-under-test');
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('at ratio 0 still exports the traces of rejected and degraded decisions, and no other', async () => {
    const earlier = { ...app.tracing!.counts };
    // A served model (not degraded), then rules only (degraded).
    app.pipeline.useScorers([new ScriptedModel({ ms: 0 })]);
    const decide = async (body: unknown): Promise<{ decision: string; degraded: string; trace_id: string }> => (await post(app, '/api/v1/decide', body)).json() as Promise<{ decision: string; degraded: string; trace_id: string }>;
    const approved = await decide(event('ratio0-approved'));
    const rejected = await decide(event('ratio0-rejected', { country: 'KP' }));
    app.pipeline.useScorers([new RulesOnlyScorer()]);
    const degraded = await decide(event('ratio0-degraded'));
    assert.deepEqual([approved, rejected, degraded].map((d) => [d.decision, d.degraded]), [['approved', 'none'], ['rejected', 'none'], ['approved', 'rules_only']]);

    const counts = app.tracing!.counts;
    await waitFor('three traces settled', 10_000, () => (counts.pending === 0 && counts.dropped + counts.kept >= earlier.dropped + earlier.kept + 3 ? true : undefined));
    assert.deepEqual({ kept: counts.kept - earlier.kept, dropped: counts.dropped - earlier.dropped, sampled: counts.sampled - earlier.sampled }, { kept: 2, dropped: 1, sampled: 0 });
    assert.deepEqual(await exported(app, exporter, approved.trace_id), [], 'the approved decision at ratio 0 is not exported');
    for (const d of [rejected, degraded]) {
      const names = (await exported(app, exporter, d.trace_id)).map((s) => s.name).sort();
      assert.deepEqual(names, ['POST /api/v1/decide', 'decide', 'features', 'log append', 'process', 'publish', 'score', 'store write'], `the ${d.decision}/${d.degraded} trace, whole`);
    }
  });
});

/** The parts of an OTLP/JSON traces request the test reads. */
interface OtlpTraces {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { traceId: string; name: string }[] }[] }[];
}
