import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));
const run = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  // Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
  const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('the rtds command line', () => {
  for (const command of ['start', 'processor']) {
    it(`rtds ${command} --help prints its usage and exits 0, starting nothing`, async () => {
      const { code, stdout, stderr } = await run(command, '--help');
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^usage: rtds ${command}`));
      assert.equal(stderr, '');
    });
  }

  it('refuses a flag a command does not take in one line, without a stack trace, exit 2', async () => {
    for (const args of [['start', '--bogus'], ['processor', 'extra'], ['generate', '--bogus']]) {
      const { code, stderr } = await run(...args);
      assert.equal(code, 2, args.join(' '));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, new RegExp(`^rtds ${args[0]}: .*see rtds ${args[0]} --help`));
    }
  });
});
