// The HTTP path under a real load client: `rtds start` in a process of its own, autocannon offering fixed rates to POST /api/v1/decide and POST /api/v1/events.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Instance, Options, Result } from 'autocannon';
import { TrafficGenerator } from '../src/ingest/generator/index.ts';

const WARM_UP_S = 3;

export interface HttpBenchOptions {
  bin: string;
  /** Another checkout's bin/rtds.js (the code before a change): each run is made on it too, right before this one's, for ratios in one run. */
  baseline?: string | undefined;
  scratch: string;
  modelDir: string;
  rates: number[];
  seconds: number;
  /** Connections autocannon keeps open: enough that a fixed rate is never held back by waiting answers. */
  connections: number;
}

/** A port free on 127.0.0.1 now (bound and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** `rtds start` without generator on the embedded log and PGlite, serving the bench's model; resolves once /readyz says ready. */
async function startServer(options: HttpBenchOptions, bin: string, name: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const env = {
    ...process.env,
    RTDS_DATA_DIR: path.join(options.scratch, name),
    RTDS_MODEL_REGISTRY: 'folder',
    RTDS_MODEL_DIR: options.modelDir,
    RTDS_TRAIN_ON_START: 'false',
    RTDS_LOG_LEVEL: 'warn',
    RTDS_KAFKA_BROKERS: '',
    RTDS_DATABASE_URL: '',
  };
  const child = spawn(process.execPath, [bin, 'start', '--no-generator', '--port', String(port)], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bench: rtds start exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { url, child };
    if (Date.now() > deadline) throw new Error('bench: rtds start not ready within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Bodies of events never sent before, one per request (a repeat would be answered from the store,
 * not decided), each timed when it is sent, as a live client's would be.
 */
function eventBodies(): () => string {
  const generator = new TrafficGenerator({ seed: 17, users: 20_000, dailyRhythm: false, warmStart: true });
  return () => JSON.stringify({ ...generator.next().event, timestamp: new Date().toISOString() });
}

async function load(autocannon: (o: Options) => Instance, url: string, route: string, rate: number | undefined, seconds: number, connections: number, body: () => string): Promise<Result> {
  const instance = autocannon({
    url: `${url}${route}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    ...(rate === undefined ? {} : { overallRate: rate }),
    requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
  });
  return (await instance) as unknown as Result;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** CPU seconds a process has used, all its threads (the PGlite worker too), from /proc; undefined where there is none. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    // utime and stime, in clock ticks (100 per second on Linux), after the command name in parentheses.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** A run, with the server's CPU over it: what bounds full speed on a shared machine. */
async function measured(child: ChildProcess, run: () => Promise<Result>): Promise<{ result: Result; cpu: string }> {
  const before = cpuSeconds(child.pid);
  const result = await run();
  const after = cpuSeconds(child.pid);
  if (before === undefined || after === undefined) return { result, cpu: '' };
  const used = after - before;
  return { result, cpu: `; server CPU ${(used / result.duration).toFixed(2)} cores, ${fmt((used * 1e6) / Math.max(1, result['2xx']))} µs per answer` };
}

function line(route: string, offered: number | undefined, r: Result): string {
  const rate = r['2xx'] / r.duration;
  const refused = r.non2xx + r.errors + r.timeouts;
  const codes = Object.entries(r.statusCodeStats ?? {})
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, s]) => `${s.count ?? 0}× ${code}`)
    .join(', ');
  return `${route} at ${offered === undefined ? 'full speed' : `${fmt(offered)} req/s offered`}: ${fmt(rate)} req/s answered; latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, p99.9 ${r.latency.p99_9} ms, max ${r.latency.max} ms${refused === 0 ? '' : `; refused or failed: ${codes || 'none'}, ${fmt(r.errors)} connection errors, ${fmt(r.timeouts)} timeouts`}`;
}

/**
 * Each route at each fixed rate, then as fast as the connections go (the client runs in this
 * process, the server in its own: on two cores they share the machine, so full speed is a floor).
 * With a baseline, each run is made on it first, then on this checkout, each server alone under load.
 */
export async function benchHttp(options: HttpBenchOptions): Promise<void> {
  const { default: autocannon } = (await import('autocannon')) as unknown as { default: (o: Options) => Instance };
  const servers = [{ label: '', ...(await startServer(options, options.bin, 'http')) }];
  if (options.baseline !== undefined) servers.unshift({ label: 'baseline ', ...(await startServer(options, options.baseline, 'http-baseline')) });
  try {
    const body = eventBodies();
    for (const { url } of servers) await load(autocannon, url, '/api/v1/decide', options.rates[0], WARM_UP_S, options.connections, body);
    for (const route of ['/api/v1/decide', '/api/v1/events']) {
      for (const rate of [...options.rates, undefined]) {
        for (const { label, url, child } of servers) {
          const { result, cpu } = await measured(child, () => load(autocannon, url, route, rate, options.seconds, options.connections, body));
          console.log(`http: ${label}${line(route, rate, result)}${cpu}`);
        }
      }
    }
    console.log(`  [autocannon ${options.connections} connections, ${options.seconds} s per run, one event per request, rtds start in its own process: embedded log (fsync), PGlite${options.baseline === undefined ? '' : `; baseline: ${options.baseline}`}]`);
  } finally {
    for (const { child } of servers) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
}
