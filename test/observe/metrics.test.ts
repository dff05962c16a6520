import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { guarded } from '../../src/follow/active-model-follower.ts';
import { createLogger, ERROR_KINDS } from '../../src/observe/index.ts';
import { RulesOnlyScorer } from '../../src/score/index.ts';
import { ScriptedModel } from '../score/scripted-model.ts';
import { promtool } from '../support/promtool.ts';
import { waitFor } from '../support/wait.ts';

const DASHBOARD = 'infra/grafana/rtds-dashboard.json';
const ALERTS = 'infra/prometheus/rtds-alerts.yml';
const PARTITIONS = 3;

/** One sample of the Prometheus text format: its name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition (no label value here holds a quote or a brace). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match !== null, `a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample of `name` whose labels include `labels`. */
function valueOf(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `one sample of ${name} ${JSON.stringify(labels)}, not ${found.length}`);
  return found[0]?.value;
}

/** Every metric name the exposition declares, with the series names of its histograms. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** The RTDS series a PromQL expression reads. */
const rtdsNames = (expr: string): string[] => [...expr.matchAll(/\brtds_[a-z0-9_]+/g)].map((m) => m[0]);

/** Run promtool, failing with what it said, or skip the test where it is not installed (never under CI). */
function promtoolPasses(t: TestContext, args: string[], input?: string): boolean {
  const run = promtool(args, input);
  if ('skip' in run) {
    t.skip(run.skip);
    return false;
  }
  assert.equal(run.status, 0, `promtool ${args.join(' ')} said:\n${run.output}`);
  return true;
}

describe('Prometheus metrics, dashboard and alert rules of a running embedded RTDS', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-metrics-'));
  const lines: { level: number; module?: string; msg: string; route?: string; status?: number; reason?: string }[] = [];
  let app: RunningApp;
  const post = (body: unknown): Promise<Response> => fetch(`${app.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const scrape = async (): Promise<string> => (await fetch(`${app.url}/metrics`)).text();
  let sent = 0;
  const event = (): Record<string, unknown> => ({ event_id: `m-${sent++}`, event_type: 'login', user_id: `user-${sent % 5}`, country: 'DE' });

  before(async () => {
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    // The process module only at error: its dead-letter warnings must not appear, while the api module's refusals (info) do.
    const config = loadConfig({ dataDir: dir, port: 0, partitions: PARTITIONS, generator: false, trainOnStart: false, sinkFlushMs: 5, logLevels: { process: 'error' } }, {});
    app = await startApp(config, { logger: createLogger('info', logs) });

    for (let i = 0; i < 3; i++) assert.equal((await post(event())).status, 202);
    assert.equal((await post({ event_id: 'm-bad', event_type: 'login', country: 'DE' })).status, 400, 'no user_id');
    assert.equal((await fetch(`${app.url}/no/such/route?api_key=not-logged`)).status, 404);
    assert.equal((await fetch(`${app.url}/api/v1/events/m-missing`)).status, 404);
    await waitFor('three decisions counted', 20_000, async () => (samples(await scrape()).filter((s) => s.name === 'rtds_decisions_total').reduce((n, s) => n + s.value, 0) >= 3 ? true : undefined));

    // A model that throws on every batch, behind the circuit breaker the app puts every served model behind.
    const failing = new ScriptedModel({ ms: 0 });
    failing.mode = 'failing';
    app.pipeline.useScorers(guarded([failing, new RulesOnlyScorer(DEFAULT_FEATURE_SET)], config, app.logger));
    // One event a request: each a batch the model fails, until the breaker opens.
    await waitFor('the model circuit open', 20_000, async () => {
      if (app.pipeline.modelCircuit === 'open') return true;
      assert.equal((await post(event())).status, 202);
      return undefined;
    });
    await app.sink.flush();
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes promtool check metrics', async (t) => {
    promtoolPasses(t, ['check', 'metrics'], await scrape());
  });

  it('counts HTTP requests by route pattern and status, a request no route matches under "unmatched"', async () => {
    const all = samples(await scrape());
    assert.ok(valueOf(all, 'rtds_http_requests_total', { method: 'POST', route: '/api/v1/events', status: '202' })! >= sent);
    assert.equal(valueOf(all, 'rtds_http_requests_total', { method: 'POST', route: '/api/v1/events', status: '400' }), 1);
    assert.equal(valueOf(all, 'rtds_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.equal(valueOf(all, 'rtds_http_requests_total', { method: 'GET', route: '/api/v1/events/:event_id', status: '404' }), 1);
    assert.ok(!all.some((s) => Object.values(s.labels).some((v) => v.includes('m-missing') || v.includes('/no/such'))), 'no raw URL in a label');
    assert.ok(valueOf(all, 'rtds_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/events' })! >= sent + 1);
  });

  it('counts errors by kind, every kind from zero: the refused input, the failing model', async () => {
    const all = samples(await scrape());
    assert.deepEqual(all.filter((s) => s.name === 'rtds_errors_total').map((s) => s.labels.kind).sort(), [...ERROR_KINDS].sort());
    assert.equal(valueOf(all, 'rtds_errors_total', { kind: 'validation' }), 1);
    // The batches it failed before the breaker opened; skipped after, it fails no more.
    assert.equal(valueOf(all, 'rtds_errors_total', { kind: 'model' }), app.config.breakerFailures);
    assert.equal(valueOf(all, 'rtds_errors_total', { kind: 'internal' }), 0);
  });

  it("shows the model's circuit, the lag of each partition, the store's write latency and the label feed", async () => {
    const all = samples(await scrape());
    assert.equal(valueOf(all, 'rtds_model_circuit_state', { scorer: 'model' }), 2, 'open');
    assert.equal(valueOf(all, 'rtds_model_circuit_state', { scorer: 'challenger' }), undefined, 'no challenger, no series');
    const lag = all.filter((s) => s.name === 'rtds_consumer_lag_records');
    assert.deepEqual(lag.map((s) => s.labels), Array.from({ length: PARTITIONS }, (_, p) => ({ stage: 'user_id', partition: String(p) })));
    assert.ok(lag.every((s) => Number.isInteger(s.value) && s.value >= 0));
    assert.ok(valueOf(all, 'rtds_sink_flush_seconds_count')! >= 1, 'the store wrote');
    assert.ok(valueOf(all, 'rtds_sink_flush_seconds_bucket', { le: '+Inf' })! >= 1);
    assert.ok(valueOf(all, 'rtds_claim_seconds_count')! >= 1, 'event ids were claimed');
    assert.ok(Number.isNaN(valueOf(all, 'rtds_label_topic_lag_records')!), 'no labels topic on the embedded log');
    await waitFor('a read of the label feed', 10_000, () => app.labels?.lastRead().at);
    const feedLag = valueOf(samples(await scrape()), 'rtds_label_feed_lag_seconds')!;
    assert.ok(feedLag >= 0 && feedLag < 60, `${feedLag} s since the label feed read`);
    assert.ok(!all.some((s) => s.name.startsWith('rtds_nodejs_active_') && s.name.endsWith('_total')), 'no gauge named like a counter');
    assert.ok(all.some((s) => s.name === 'rtds_nodejs_active_handles'), 'the per-type gauges stay');
  });

  it('lists every series it exposes in the README', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const own = [...exposedNames(await scrape())].filter((name) => !/^rtds_(process|nodejs)_|_(bucket|sum|count)$/.test(name));
    assert.ok(own.length > 30, `${own.length} series`);
    assert.deepEqual(own.filter((name) => !readme.includes(`\`${name}\``)), [], 'series missing from the README');
  });

  it('logs each refused request once, with its route, status and reason, at the api module’s level; the process module logs at its own', () => {
    const refused = lines.filter((l) => l.msg.startsWith('refused'));
    assert.deepEqual(
      refused.map((l) => [l.module, l.route, l.status]),
      [
        ['api', 'POST /api/v1/events', 400],
        ['api', 'GET (unmatched)', 404],
        ['api', 'GET /api/v1/events/:event_id', 404],
      ],
    );
    assert.equal(refused[0]!.reason, 'no valid event');
    assert.equal(refused[2]!.reason, 'event m-missing not found');
    assert.ok(!JSON.stringify(lines).includes('not-logged'), 'no query string in the log');
    assert.ok(!lines.some((l) => l.msg === 'invalid input dead-lettered'), 'the process module logs errors only');
    assert.ok(lines.some((l) => l.module === 'app' && l.msg.startsWith('RTDS is running')), 'other modules at the root level');
  });

  it('has a Grafana dashboard whose queries read only series /metrics exposes, in PromQL promtool accepts', async (t) => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title, expr: target.expr })));
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    const exposed = exposedNames(await scrape());
    for (const { panel, expr } of queries) {
      const names = rtdsNames(expr);
      assert.ok(names.length > 0, `${panel}: ${expr}`);
      for (const name of names) assert.ok(exposed.has(name), `${panel} reads ${name}, which /metrics does not expose`);
    }
    for (const series of ['rtds_decisions_total', 'rtds_decision_latency_seconds_bucket', 'rtds_consumer_lag_records', 'rtds_model_circuit_state', 'rtds_sink_flush_seconds_bucket', 'rtds_http_requests_total', 'rtds_dead_letters_total']) {
      assert.ok(queries.some((q) => rtdsNames(q.expr).includes(series)), `a panel over ${series}`);
    }
    // Each query as a recording rule, Grafana's variables given values: promtool parses every one.
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((q, i) => ({ record: `rtds_dashboard:query_${i}`, expr: q.expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*') })),
        },
      ],
    };
    const file = path.join(dir, 'dashboard-queries.yml');
    writeFileSync(file, JSON.stringify(rules));
    promtoolPasses(t, ['check', 'rules', file]);
  });

  it('has alert rules promtool accepts, over series /metrics exposes, each with a for, a severity, a summary, a description and a runbook', async (t) => {
    if (!promtoolPasses(t, ['check', 'rules', ALERTS])) return;
    const { groups } = parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string; for?: string; labels?: { severity?: string }; annotations?: Record<string, string> }[] }[] };
    const rules = groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.alert).sort(), ['RtdsConsumerLagHigh', 'RtdsDeadLetterRate', 'RtdsModelCircuitOpen', 'RtdsPartitionLagGrowing', 'RtdsRejectionRateSpike']);
    const exposed = exposedNames(await scrape());
    for (const rule of rules) {
      assert.match(rule.for ?? '', /^\d+[smh]$/, `${rule.alert}: for`);
      assert.ok(['warning', 'critical'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      for (const key of ['summary', 'description', 'runbook']) assert.ok((rule.annotations?.[key] ?? '').length > 20, `${rule.alert}: ${key}`);
      for (const name of rtdsNames(rule.expr)) assert.ok(exposed.has(name), `${rule.alert} reads ${name}, which /metrics does not expose`);
    }
  });
});
