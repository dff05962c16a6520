// What a running `rtds capture` costs the instance it records: embedded end to end with and without a recorder on GET /api/v1/capture.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningApp } from '../src/app/index.ts';
import type { Config } from '../src/config/index.ts';

const BIN = fileURLToPath(new URL('../bin/rtds.js', import.meta.url));

/** Rounds: each variant once per round, in turn, so a busy spell of the machine does not fall on one of them only. */
const ROUNDS = 2;

/**
 * `rtds capture --from <url>` in a process of its own, as an operator runs it (in the instance's
 * process it would share its event loop, which no real recorder does); resolves to what it
 * recorded once the instance stopped and closed the stream.
 */
async function attachRecorder(app: RunningApp, dir: string): Promise<() => Promise<{ lines: number; bytes: number }>> {
  const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, 'capture', '--from', app.url, '--out', dir, '--rotate-bytes', '64M'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  // Recording once it says so: the instance has it on its stream from then on. Its progress lines are not the bench's.
  const said: string[] = [];
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      said.push(line);
      if (/recording .* into /.test(line)) resolve();
    });
    void exited.then(([code]) => reject(new Error(`rtds capture exited with ${code} before recording: ${said.join(' / ')}`)));
  });
  return async () => {
    const [code] = await exited;
    if (code !== 0) throw new Error(`rtds capture exited with ${code}: ${said.slice(-3).join(' / ')}`);
    let lines = 0;
    let bytes = 0;
    for (const file of readdirSync(dir)) {
      const text = readFileSync(path.join(dir, file));
      bytes += text.length;
      for (const byte of text) if (byte === 10) lines++;
    }
    return { lines, bytes };
  };
}

/**
 * `run(config, events, label, attach)` is the embedded end-to-end run (ingest → log → processor →
 * PGlite); here once without and once with a recorder, `ROUNDS` times, best of each reported.
 */
export async function benchCapture(
  appConfig: (name: string) => Config,
  events: unknown[],
  scratch: string,
  run: (config: Config, events: unknown[], label: string, attach?: (app: RunningApp) => Promise<() => Promise<unknown>>) => Promise<number>,
): Promise<void> {
  const best = { without: 0, with: 0 };
  // The run ends by draining: on a busy machine that may take longer than a shutdown is allowed.
  const config = (name: string): Config => ({ ...appConfig(name), shutdownTimeoutMs: 600_000 });
  for (let round = 0; round < ROUNDS; round++) {
    best.without = Math.max(best.without, await run(config(`capture-off-${round}`), events, 'embedded end to end, no recorder'));
    const dir = mkdtempSync(path.join(scratch, 'recording-'));
    let recorded: { lines: number; bytes: number } | undefined;
    const rate = await run(config(`capture-on-${round}`), events, 'embedded end to end, rtds capture recording it', async (app) => {
      const finished = await attachRecorder(app, dir);
      return async () => (recorded = await finished());
    });
    if (recorded?.lines !== events.length) throw new Error(`capture: ${recorded?.lines} lines recorded for ${events.length} events`);
    console.log(`  recorded ${recorded.lines.toLocaleString('en-US')} events, ${(recorded.bytes / 2 ** 20).toFixed(1)} MiB`);
    best.with = Math.max(best.with, rate);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`capture cost: with a recorder the instance runs at ${(best.with / best.without).toFixed(2)}× its rate without (best of ${ROUNDS} each)`);
}
