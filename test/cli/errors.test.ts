import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeFailure } from '../../src/cli/failure-line.ts';
import { openDatabase, type Database } from '../../src/store/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `rtds <args>` as a user runs it (not a test-runner child), with `env` on top of a quiet, isolated environment. */
function rtds(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { NODE_TEST_CONTEXT: _runner, RTDS_LOG_LEVEL: _level, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failure as the issue asks: exit ≠ 0, stderr exactly one line, no stack frame, and it says `names`. */
function assertOneLine(run: Run, names: RegExp, code?: number): void {
  assert.notEqual(run.code, 0, `exit 0; stderr: ${run.stderr}`);
  if (code !== undefined) assert.equal(run.code, code, run.stderr);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `not one line:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /^\s+at /m);
  assert.match(lines[0]!, names);
}

/** A port nothing listens on (fetch refuses some low ports outright as unsafe). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every command and sub-command that takes --help. */
const HELP = [
  ['start'],
  ['processor'],
  ['generate'],
  ['capture'],
  ['replay'],
  ['topology'],
  ['features'],
  ['train'],
  ['models'],
  ['models', 'list'],
  ['models', 'activate'],
  ['models', 'rollback'],
  ['models', 'challenge'],
  ['rules'],
  ['rules', 'list'],
  ['rules', 'add'],
  ['rules', 'activate'],
  ['rules', 'rollback'],
  ['evaluate'],
  ['bench'],
  ['config'],
];

describe('the rtds command line: usage, and one line per problem', () => {
  let dir: string;
  const file = (name: string): string => path.join(dir, name);
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-cli-errors-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** `rtds <args>` for each of `runs`, three at a time: each is a process of its own. */
  const each = async <T>(runs: readonly T[], check: (item: T, i: number) => Promise<void>): Promise<void> => {
    for (let i = 0; i < runs.length; i += 3) await Promise.all(runs.slice(i, i + 3).map((item, j) => check(item, i + j)));
  };
  const help = (commands: string[][]) => () =>
    each(commands, async (command, i) => {
      const run = await rtds([...command, i % 2 === 0 ? '--help' : '-h'], { RTDS_DATA_DIR: file('help-data') });
      assert.equal(run.code, 0, `${command.join(' ')}: ${run.stderr}`);
      assert.equal(run.stderr, '', command.join(' '));
      assert.match(run.stdout, new RegExp(`rtds ${command[0]}`, 'i'), command.join(' '));
      assert.match(run.stdout, /usage/i, command.join(' '));
    });

  it('prints the usage for --help (and -h) on every command, exit 0, nothing on stderr', help(HELP.filter((c) => c.length === 1)));
  it('prints the usage for --help (and -h) on every sub-command', help(HELP.filter((c) => c.length === 2)));

  const refusals = (cases: [string[], RegExp][]) => () => each(cases, async ([args, names]) => assertOneLine(await rtds(args), names, 2));
  it(
    'refuses an unknown flag, command or argument in one line, exit 2, naming the command and its --help',
    refusals([
      [['generate', '--bogus'], /^rtds generate: unknown option --bogus \(see rtds generate --help\)$/],
      [['models', 'activate', 'v1', '--bogus'], /^rtds models activate: unknown option --bogus \(see rtds models activate --help\)$/],
      [['rules', 'add', '--bogus'], /^rtds rules add: unknown option --bogus/],
      [['start', '--bogus'], /^rtds start: unknown option --bogus/],
      [['processor', 'extra'], /^rtds processor: unexpected argument "extra"/],
      [['models', 'promote'], /^rtds models: unknown command "promote" \(see rtds models --help\)$/],
      [['frobnicate'], /^rtds: unknown command "frobnicate" \(see rtds --help\)$/],
    ]),
  );
  it(
    'refuses a bad or missing value in one line, exit 2, saying what it must be',
    refusals([
      [['generate', '--count', '-5'], /^rtds generate: --count must be an integer ≥ 1, got "-5"/],
      [['replay', '--in', 'x.jsonl', '--target', 'http://127.0.0.1:1', '--rate', 'abc'], /^rtds replay: --rate must be a number > 0, got "abc"/],
      [['generate', '--rate'], /^rtds generate: --rate needs a value/],
      [['start', '--port', 'x'], /^rtds start: configuration error: RTDS_PORT="x": must be an integer/],
      [['models', 'activate'], /^rtds models activate: which version\?/],
    ]),
  );

  it('names a missing file and an invalid rule set by path, with the reason', async () => {
    const missing = file('missing.yaml');
    assertOneLine(await rtds(['rules', 'add', missing], { RTDS_DATA_DIR: file('data-rules') }), new RegExp(`^rtds rules add: cannot open ${missing}: no such file or directory \\(ENOENT\\)$`));
    assertOneLine(await rtds(['features', '--events', missing]), new RegExp(`^rtds features: cannot open ${missing}: no such file or directory`));
    assertOneLine(await rtds(['replay', '--in', missing, '--target', 'http://127.0.0.1:1']), new RegExp(`^rtds replay: cannot read --in ${missing}: no such file or directory`), 2);
    const invalid = file('invalid.yaml');
    writeFileSync(invalid, 'version: bad-1\nthresholds: { default: 3 }\nrules: [{ id: x, kind: nonsense }]\n');
    assertOneLine(await rtds(['rules', 'add', invalid], { RTDS_DATA_DIR: file('data-rules') }), new RegExp(`^rtds rules add: invalid rule set ${invalid}: .*thresholds`));
  });

  it('names an unknown model version and where it looked; RTDS_LOG_LEVEL=debug adds the stack', async () => {
    const models = file('models');
    const run = await rtds(['models', 'activate', 'v99'], { RTDS_MODEL_DIR: models });
    assertOneLine(run, new RegExp(`^rtds models activate: no model version "v99" in .*${path.basename(models)}`), 1);
    const debug = await rtds(['models', 'activate', 'v99'], { RTDS_MODEL_DIR: models, RTDS_LOG_LEVEL: 'debug' });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^rtds models activate: no model version "v99"/);
    assert.match(debug.stderr, /^\s+at /m, 'the stack, when asked for');
  });

  it('names an unreachable --target and an unreachable PostgreSQL', async () => {
    const closed = await closedPort();
    assertOneLine(await rtds(['generate', '--count', '10', '--target', `http://127.0.0.1:${closed}`, '--quiet']), new RegExp(`^rtds generate: cannot reach http://127\\.0\\.0\\.1:${closed} \\(--target\\): connection refused \\(ECONNREFUSED\\)$`), 1);
    assertOneLine(await rtds(['rules', 'list'], { RTDS_DATABASE_URL: 'postgres://rtds:secret@127.0.0.1:1/test' }), /^rtds rules list: PostgreSQL at postgres:\/\/rtds:\*\*\*@127\.0\.0\.1:1\/test is unreachable: .*ECONNREFUSED/, 1);
  });

  it('names unreachable Kafka brokers', async () => {
    assertOneLine(await rtds(['generate', '--count', '1', '--target', 'kafka', '--quiet'], { RTDS_KAFKA_BROKERS: '127.0.0.1:1' }), /^rtds generate: cannot reach the Kafka brokers 127\.0\.0\.1:1 \(RTDS_KAFKA_BROKERS\)/, 1);
  });

  it('fails at once when the port is in use, before opening the store or training', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const dataDir = file('data-port');
      const run = await rtds(['start', '--no-generator', '--port', String(port)], { RTDS_DATA_DIR: dataDir });
      assertOneLine(run, new RegExp(`^rtds start: cannot listen on 127\\.0\\.0\\.1:${port}: another process listens on it`), 1);
      assert.equal(run.stdout, '', 'nothing started: no log line');
    } finally {
      holder.close();
    }
  });

  describe('the embedded database, one process at a time', () => {
    let dataDir: string;
    let db: Database | undefined;
    before(async () => {
      dataDir = file('data-locked');
      db = await openDatabase({ dataDir });
    });
    after(async () => db?.close());

    it('a second process opening it fails at once, naming the process that holds it', async () => {
      const run = await rtds(['rules', 'list'], { RTDS_DATA_DIR: dataDir });
      assertOneLine(run, new RegExp(`^rtds rules list: the embedded database is in use by process ${process.pid} \\(${path.join(dataDir, 'pg.lock')}\\)`), 1);
      // The same process opening it twice is refused alike: two PGlite on one folder would corrupt it.
      await assert.rejects(openDatabase({ dataDir }), { name: 'DatabaseLockedError' });
    });

    it('a lock whose process is gone is taken over', async () => {
      await db!.close();
      db = undefined;
      const dead = spawn(process.execPath, ['-e', '']);
      await new Promise((resolve) => dead.once('exit', resolve));
      writeFileSync(path.join(dataDir, 'pg.lock'), `${dead.pid}\n`);
      const run = await rtds(['rules', 'list'], { RTDS_DATA_DIR: dataDir });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /no rule set stored/);
    });

    it('a lock whose pid now names another process (reused after a crash) is taken over; one naming the live owner is not', async () => {
      const lockFile = path.join(dataDir, 'pg.lock');
      // This test's process runs under the recorded pid, but it started at another time than recorded.
      writeFileSync(lockFile, `${process.pid} 1\n`);
      const run = await rtds(['rules', 'list'], { RTDS_DATA_DIR: dataDir });
      assert.equal(run.code, 0, run.stderr);
      // The start time as the lock records it: the same process is still the owner.
      const stat = readFileSync('/proc/self/stat', 'utf8');
      writeFileSync(lockFile, `${process.pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`);
      const held = await rtds(['rules', 'list'], { RTDS_DATA_DIR: dataDir });
      assertOneLine(held, new RegExp(`^rtds rules list: the embedded database is in use by process ${process.pid} `), 1);
      rmSync(lockFile);
    });
  });

  it('an unexpected error is one line saying so, with how to see the stack', () => {
    const { line, exitCode } = describeFailure(new TypeError('x.y is not a function\n  and more'), 'start');
    assert.equal(exitCode, 1);
    assert.equal(line, 'rtds start: internal error: x.y is not a function and more (rerun with RTDS_LOG_LEVEL=debug for the stack trace)');
  });
});
