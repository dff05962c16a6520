// A long-running `rtds` command as a user runs it: a child process whose stderr a test waits on, stopped by a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RTDS_BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

export interface RunningCommand {
  child: ChildProcess;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** Resolves once stderr matches `pattern`; rejects after `ms`, or when the command exits first. */
  said(pattern: RegExp, ms: number): Promise<void>;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/** `rtds <args>` with `env` on top of the test's environment; not a test-runner child (no NODE_TEST_CONTEXT). */
export function runCommand(args: string[], env: { [name: string]: string } = {}): RunningCommand {
  const { NODE_TEST_CONTEXT: _runner, ...inherited } = process.env;
  const child = spawn(process.execPath, [RTDS_BIN, ...args], { env: { ...inherited, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    said: (pattern, ms) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(stderr)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} on stderr after ${ms} ms; it said: ${stderr}`));
        }, ms);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`exited (${code}) before saying ${pattern}; it said: ${stderr}`));
        });
        check();
      }),
  };
}
