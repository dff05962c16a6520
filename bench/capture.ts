// What a running `rtds capture` costs the instance it records: embedded end to end with and without a recorder on GET /api/v1/capture.
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RunningApp } from '../src/app/index.ts';
import { CaptureFiles } from '../src/cli/capture-files.ts';
import { instanceSource } from '../src/cli/capture-sources.ts';
import type { Config } from '../src/config/index.ts';

/** Rounds: each variant once per round, in turn, so a busy spell of the machine does not fall on one of them only. */
const ROUNDS = 2;

/** A recorder attached over HTTP, as `rtds capture --from <url>` runs it; resolves to what it recorded once the instance stopped. */
async function attachRecorder(app: RunningApp, dir: string): Promise<() => Promise<{ lines: number; bytes: number }>> {
  const files = await CaptureFiles.open(dir, { rotateBytes: 64 * 1024 * 1024 });
  const source = instanceSource(app.url, false, undefined);
  await source.start(async (line) => void (await files.write(line)));
  return async () => {
    await source.ended;
    await files.close();
    return { lines: files.lines, bytes: files.bytes };
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
