// `rtds start` stopped by a signal at any moment of its start: drained once started (exit 0), or at once on a second signal (130) — never killed by the signal's default.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The `msg` of each JSON log line, in order. */
  messages: string[];
  stderr: string;
}

describe('rtds start and signals', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-signals-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  /**
   * `rtds start --no-generator`, sent `signal` as soon as it prints its first log line (long
   * before it runs); with `again`, sent it a second time once the first is heard (two sent
   * together may reach it as one).
   */
  function startAndSignal(signal: NodeJS.Signals, again = false): Promise<Ended> {
    // Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
    const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, 'start', '--no-generator'], {
      env: { ...env, RTDS_DATA_DIR: dataDir, RTDS_PORT: '0', RTDS_TRAIN_ON_START: 'false', RTDS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const messages: string[] = [];
    let stderr = '';
    let partial = '';
    let sent = 0;
    const send = (): void => {
      const heard = /stopping once RTDS has started/.test(stderr) || messages.some((m) => m.startsWith('draining'));
      if ((sent === 0 && messages.length > 0) || (sent === 1 && again && heard)) {
        sent++;
        child.kill(signal);
      }
    };
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      send();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.startsWith('{')) messages.push(String((JSON.parse(line) as { msg: unknown }).msg));
      send();
    });
    return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, messages, stderr })));
  }

  it('a signal while starting stops it once started, drained, with exit code 0', { timeout: 60_000 }, async () => {
    const ended = await startAndSignal('SIGTERM');
    assert.deepEqual({ code: ended.code, signal: ended.signal }, { code: 0, signal: null }, ended.stderr);
    const running = ended.messages.findIndex((m) => m.startsWith('RTDS is running'));
    const draining = ended.messages.findIndex((m) => m.startsWith('draining'));
    assert.ok(running >= 0 && draining > running, `started, then drained: ${JSON.stringify(ended.messages)}`);
  });

  it('a second signal while starting exits at once with code 130', { timeout: 60_000 }, async () => {
    const ended = await startAndSignal('SIGINT', true);
    assert.deepEqual({ code: ended.code, signal: ended.signal }, { code: 130, signal: null }, ended.stderr);
  });
});
