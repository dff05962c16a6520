// Measures the features stage: update cost per event, memory per entity, and throughput as feature sets grow.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { RtdsEvent } from '../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET, FeatureSet, parseFeatureSpecs } from '../src/features/index.ts';
import { StageTasks, type EventTimeOptions } from '../src/process/index.ts';
import { DenseNetwork } from '../src/score/dense-network.ts';
import { seededRandom } from '../src/score/mlp.ts';
import { partitionFor } from '../src/transport/log.ts';

/** One run of `events` through every stage's partitions (feature step only), from fresh state: events per second. */
function oneRun(features: FeatureSet, events: readonly RtdsEvent[], byPartition: readonly number[], eventTime: EventTimeOptions, partitions: number, after?: (v: Float64Array) => void): number {
  const tasks = new StageTasks(features, eventTime, partitions);
  const began = performance.now();
  for (let i = 0; i < events.length; i++) {
    const step = tasks.step(events[i]!, byPartition[i]!);
    if (step !== null && after !== undefined) after(step.vector);
  }
  return events.length / ((performance.now() - began) / 1000);
}

/**
 * Events per second of each feature set, best of three runs after a warm-up, the sets' runs
 * alternating: a machine whose load changes during the bench changes it for all of them alike.
 */
function stepRates(sets: readonly FeatureSet[], events: readonly RtdsEvent[], eventTime: EventTimeOptions, partitions: number, after?: (v: Float64Array) => void): number[] {
  const byPartition = events.map((e) => partitionFor(e.user_id, partitions));
  const best = sets.map(() => 0);
  for (let round = 0; round < 4; round++) {
    sets.forEach((set, i) => {
      const rate = oneRun(set, events, byPartition, eventTime, partitions, after);
      if (round > 0) best[i] = Math.max(best[i]!, rate);
    });
  }
  return best;
}

function stepRate(features: FeatureSet, events: readonly RtdsEvent[], eventTime: EventTimeOptions, partitions: number, after?: (v: Float64Array) => void): number {
  return stepRates([features], events, eventTime, partitions, after)[0]!;
}

/**
 * The default set's feature step when entities are shared by many users — one IP address behind
 * which `usersPerHour` users an hour log in (a carrier's NAT, an office) and 50 devices they share
 * (kiosks): every event reads the distinct users of a window holding hundreds or thousands of them,
 * where generated traffic's devices and addresses hold one or two. µs per event (best of 3, 30,000
 * events a run) and the IP address's last distinct-users count.
 */
export function benchSharedEntities(eventTime: EventTimeOptions, usersPerHour: number): { us: number; ipUsers: number } {
  const start = Date.parse('2026-10-01T00:00:00Z');
  const gapMs = 3_600_000 / usersPerHour;
  const events: RtdsEvent[] = Array.from({ length: 30_000 }, (_, i) => ({
    event_id: `s${i}`,
    event_type: 'login',
    timestamp: start + i * gapMs,
    event_time: start + i * gapMs,
    event_time_source: 'event',
    user_id: `u${i % (usersPerHour * 30)}`,
    channel: 'web',
    ip_address: '10.0.0.1',
    device_id: `kiosk-${i % 50}`,
    country: 'DE',
  }));
  const column = DEFAULT_FEATURE_SET.indexOf('ip_users_24h');
  let ipUsers = 0;
  const rate = stepRate(DEFAULT_FEATURE_SET, events, eventTime, 1, (v) => (ipUsers = v[column]!));
  return { us: 1e6 / rate, ipUsers };
}

/**
 * Feature-update cost per event of the default set, over the bench's generated traffic: the
 * interpreter (the reference) and the compiled engine, in one run, alternating.
 */
export function benchDefaultFeatures(events: readonly RtdsEvent[], eventTime: EventTimeOptions, partitions: number): { interpretedUs: number; compiledUs: number } {
  const [interpreted, compiled] = stepRates([new FeatureSet(DEFAULT_FEATURE_SET.specs, { engine: 'interpreted' }), DEFAULT_FEATURE_SET], events, eventTime, partitions);
  return { interpretedUs: 1e6 / interpreted!, compiledUs: 1e6 / compiled! };
}

/**
 * `rtds features` (its own process, start-up included) over `events` in a JSONL file, against the
 * floor of reading the same file with one JSON.parse and one keyed Map update per event. Seconds,
 * best of two each; with `baseline` (another checkout's bin/rtds.js), its command too, the two
 * alternating, with each run's peak resident memory.
 */
export async function benchFeatureMatrix(bin: string, scratch: string, events: readonly unknown[], baseline?: string): Promise<{ floorS: number; runs: { bin: string; seconds: number; peakRssMb: number }[] }> {
  const file = path.join(scratch, 'matrix-events.jsonl');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const floor = (): number => {
    const began = performance.now();
    const perUser = new Map<string, number>();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      const e = JSON.parse(line) as { user_id: string; amount?: number };
      perUser.set(e.user_id, (perUser.get(e.user_id) ?? 0) + (e.amount ?? 0));
    }
    return (performance.now() - began) / 1000;
  };
  // The flags of bin/rtds.js's shebang, which a spawn by path bypasses. Peak memory: the kernel's
  // high-water mark (VmHWM) of the child, read every 100 ms while it runs (Linux; NaN elsewhere).
  const cli = async (command: string): Promise<{ seconds: number; peakRssMb: number }> => {
    const began = performance.now();
    const child = spawn(process.execPath, ['--max-semi-space-size=64', command, 'features', '--events', file, '--out', path.join(scratch, 'matrix.csv')], { stdio: ['ignore', 'ignore', 'inherit'] });
    let peakKb = NaN;
    const watch = setInterval(() => {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileOr(`/proc/${child.pid}/status`));
      if (hwm !== null) peakKb = Number(hwm[1]);
    }, 100);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearInterval(watch);
    if (code !== 0) throw new Error(`bench: rtds features (${command}) exited with ${code}`);
    return { seconds: (performance.now() - began) / 1000, peakRssMb: peakKb / 1024 };
  };
  const floorS = Math.min(floor(), floor());
  const bins = baseline === undefined ? [bin] : [baseline, bin];
  const runs = bins.map((b) => ({ bin: b, seconds: Infinity, peakRssMb: 0 }));
  for (let round = 0; round < 2; round++) {
    for (const run of runs) {
      const r = await cli(run.bin);
      run.seconds = Math.min(run.seconds, r.seconds);
      run.peakRssMb = Math.max(run.peakRssMb, r.peakRssMb);
    }
  }
  return { floorS, runs };
}

/** A file's text, or '' when it cannot be read (a process that has just ended). */
function readFileOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const WINDOWS = [
  { kind: 'hopping', size: '1m', hop: '10s' },
  { kind: 'hopping', size: '1h', hop: '5m' },
  { kind: 'hopping', size: '24h', hop: '1h' },
  { kind: 'hopping', size: '30d', hop: '1d' },
  { kind: 'session', gap: '30m' },
];
const ENTITIES = [['user_id'], ['user_id', 'device_id'], ['user_id', 'country'], ['user_id', 'channel']];
const AGGREGATES: [string, string | undefined][] = [
  ['count', undefined],
  ['sum', 'amount'],
  ['mean', 'amount'],
  ['max', 'amount'],
  ['std', 'amount'],
  ['distinct', 'device_id'],
  ['last', 'amount'],
  ['time_since_last', undefined],
];

/** A synthetic feature set of `n` features: every tenth derived, the rest cycling through entities, windows and aggregations. */
export function syntheticFeatureSet(n: number): FeatureSet {
  const specs: unknown[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) {
      specs.push({ name: `f${i}`, expression: `f${i - 1} / max(f${i - 2}, 1)` });
      continue;
    }
    const [aggregate, field] = AGGREGATES[i % AGGREGATES.length]!;
    specs.push({
      name: `f${i}`,
      entity: ENTITIES[Math.floor(i / AGGREGATES.length) % ENTITIES.length],
      ...(i % 3 === 0 ? { filter: { event_type: ['transaction', 'transfer', 'withdrawal'] } } : {}),
      window: WINDOWS[Math.floor(i / (AGGREGATES.length * ENTITIES.length)) % WINDOWS.length],
      aggregate,
      ...(field === undefined ? {} : { field }),
    });
  }
  return new FeatureSet(parseFeatureSpecs(specs));
}

/** The seed's MLP shape (n-64-32-16-1) with random weights, to score vectors of any width. */
function randomMlp(inputSize: number): DenseNetwork {
  const random = seededRandom(5);
  const sizes = [inputSize, 64, 32, 16, 1];
  return new DenseNetwork(
    sizes.slice(1).map((m, k) => ({
      inputSize: sizes[k]!,
      outputSize: m,
      kernel: Float32Array.from({ length: sizes[k]! * m }, () => (random() - 0.5) * 0.2),
      bias: new Float32Array(m),
      activation: k === sizes.length - 2 ? 'sigmoid' : 'relu',
    })),
  );
}

/**
 * Events per second for feature sets of each size: features alone, and features plus the MLP
 * scoring the vectors in batches of 512 (the processor's two costliest steps).
 */
export function benchFeatureCounts(events: readonly RtdsEvent[], eventTime: EventTimeOptions, partitions: number, sizes: readonly number[]): { features: number; rate: number; withModel: number; groups: number }[] {
  return sizes.map((n) => {
    const set = syntheticFeatureSet(n);
    const network = randomMlp(n);
    const block = new Float32Array(512 * n);
    const out = new Float32Array(512);
    let rows = 0;
    const score = (v: Float64Array): void => {
      block.set(v, rows * n);
      if (++rows === 512) {
        network.predict(block, out, 512);
        rows = 0;
      }
    };
    return { features: n, rate: stepRate(set, events, eventTime, partitions), withModel: stepRate(set, events, eventTime, partitions, score), groups: set.groupCount };
  });
}

/**
 * Heap held by the default set's state for `users` users with `perUser` events each, spread over
 * 30 days of event time in time order, measured after full garbage collections.
 */
export function benchStateMemory(users: number, perUser: number, eventTime: EventTimeOptions): { users: number; heapBytes: number; perUserBytes: number; entities: number; eventIds: number; seconds: number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const random = seededRandom(9);
  const start = Date.parse('2026-10-01T00:00:00Z');
  const span = 30 * 86_400_000;
  const times = Float64Array.from({ length: users * perUser }, () => start + Math.floor(random() * span)).sort();
  gc();
  const before = process.memoryUsage().heapUsed;
  const task = new StageTasks(DEFAULT_FEATURE_SET, eventTime, 1);
  const began = performance.now();
  for (let i = 0; i < times.length; i++) {
    const u = i % users;
    task.step({
      event_id: `m${i}`,
      event_type: i % 5 === 0 ? 'login' : 'transaction',
      timestamp: times[i]!,
      event_time: times[i]!,
      event_time_source: 'event',
      user_id: `user-${u}`,
      amount: 10 + (i % 200),
      country: u % 7 === 0 ? 'FR' : 'DE',
      device_id: `dev-${u}-${i % 2}`,
      ip_address: `10.${u % 250}.${i % 250}.1`,
      channel: 'web',
    }, 0);
  }
  const seconds = (performance.now() - began) / 1000;
  gc();
  const heapBytes = process.memoryUsage().heapUsed - before;
  const size = task.size();
  return { users, heapBytes, perUserBytes: heapBytes / users, entities: size.entities, eventIds: size.eventIds, seconds };
}
