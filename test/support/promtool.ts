// Prometheus's promtool (Debian package `prometheus`) for the metrics and alert-rule tests; skipped locally when it is not installed, required under CI.
import { spawnSync } from 'node:child_process';

const PROMTOOL = process.env.RTDS_TEST_PROMTOOL ?? 'promtool';

export interface PromtoolRun {
  status: number;
  /** stdout and stderr together: what promtool said, for the failure message. */
  output: string;
}

/** Run `promtool ...args` with `input` on stdin; a skip reason when it is missing outside CI. */
export function promtool(args: string[], input?: string): PromtoolRun | { skip: string } {
  const run = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (run.error !== undefined) {
    const reason = `promtool not runnable (${run.error.message}); apt-get install -y --no-install-recommends prometheus`;
    if (process.env.CI === 'true') throw new Error(`promtool is required under CI: ${reason}`);
    return { skip: reason };
  }
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}
