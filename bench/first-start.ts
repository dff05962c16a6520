// The first start as a user meets it: `rtds start` on an empty data folder, timed from the command to the dashboard's page, to /readyz 200 and to the first decision.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './http.ts';

/** How often each answer is asked for: finer than the figures' rounding, coarse enough not to load the machine. */
const POLL_MS = 100;
/** A first start that has not decided by then has failed. */
const GIVE_UP_MS = 300_000;

interface FirstStart {
  dashboardS: number;
  readyS: number;
  decisionS: number;
  /** The slowest answer to /readyz while waiting for it to be 200: how long the starting process kept a request waiting. */
  slowestAnswerS: number;
}

/** Whether `url` answers 2xx; the body is read, so the connection goes back to the pool. */
async function answers(url: string, init?: RequestInit): Promise<boolean> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.ok;
}

/** Seconds from `began` until `ok` answers true, asked every POLL_MS (a refused connection counts as no); `onAsked` hears how long each ask took. */
async function secondsUntil(began: number, ok: () => Promise<boolean>, onAsked?: (seconds: number) => void): Promise<number> {
  for (;;) {
    const asked = performance.now();
    const answered = await ok().catch(() => false);
    onAsked?.((performance.now() - asked) / 1000);
    if (answered) return (performance.now() - began) / 1000;
    if (performance.now() - began > GIVE_UP_MS) throw new Error('first start: no answer after 300 s');
    await sleep(POLL_MS);
  }
}

async function firstStart(bin: string): Promise<FirstStart> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtds-first-start-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const began = performance.now();
  const child = spawn(process.execPath, [bin, 'start', '--port', String(port)], {
    env: { ...process.env, RTDS_DATA_DIR: path.join(dir, 'data'), RTDS_MODEL_DIR: path.join(dir, 'models'), RTDS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const dashboardS = await secondsUntil(began, () => answers(`${url}/`));
    let slowestAnswerS = 0;
    const readyS = await secondsUntil(began, () => answers(`${url}/readyz`), (s) => (slowestAnswerS = Math.max(slowestAnswerS, s)));
    const event = { event_id: `first-start-${process.pid}`, event_type: 'withdrawal', user_id: 'alice', amount: 2500, currency: 'EUR', channel: 'atm', country: 'DE' };
    const decisionS = await secondsUntil(began, () => answers(`${url}/api/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }));
    return { dashboardS, readyS, decisionS, slowestAnswerS };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `runs` first starts of each of `bins` (label → the rtds bin), interleaved so each compares with
 * the other under the same load; each line, then the best of each figure, with the load around them.
 */
export async function benchFirstStart(bins: Readonly<Record<string, string>>, runs = 3): Promise<void> {
  const before = loadavg();
  const results = new Map<string, FirstStart[]>(Object.keys(bins).map((label) => [label, []]));
  for (let i = 0; i < runs; i++) {
    for (const [label, bin] of Object.entries(bins)) {
      const r = await firstStart(bin);
      results.get(label)!.push(r);
      console.log(`first start ${i + 1} (${label}): dashboard ${r.dashboardS.toFixed(2)} s, /readyz 200 ${r.readyS.toFixed(1)} s, first decision ${r.decisionS.toFixed(1)} s after rtds start; slowest /readyz answer while starting ${r.slowestAnswerS.toFixed(2)} s`);
    }
  }
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  for (const [label, rs] of results) {
    const best = (key: keyof FirstStart): string => Math.min(...rs.map((r) => r[key])).toFixed(key === 'readyS' || key === 'decisionS' ? 1 : 2);
    console.log(`first start (${label}), best of ${runs}: dashboard ${best('dashboardS')} s, ready ${best('readyS')} s, first decision ${best('decisionS')} s`);
  }
  console.log(`load before ${load(before)}, after ${load(loadavg())}`);
}
