import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Label } from '../../src/contracts/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { FolderRegistry, seededRandom } from '../../src/score/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));
// Not a test-runner child: without NODE_TEST_CONTEXT it runs as a user would run it.
const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('rtds train guards what it activates', () => {
  let dir: string;
  const generated = new TrafficGenerator({ seed: 11, users: 400 }).take(2000);
  const file = (name: string): string => path.join(dir, name);
  /** rtds train on the events and the labels file `labels`, into the folder registry `models`. */
  const train = async (models: string, labels: string, ...args: string[]): Promise<Run> => {
    const argv = [BIN, 'train', '--events-file', file('events.jsonl'), '--labels-file', file(labels), '--epochs', '2', '--seed', '3', ...args];
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, { env: { ...env, RTDS_MODEL_DIR: file(models) } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as Run;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  /** stderr without the progress lines: what is left must be the one line that says why. */
  const said = (run: Run): string[] =>
    run.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('train: '));
  const writeLabels = (name: string, labels: Label[]): void => writeFileSync(file(name), labels.map((l) => JSON.stringify(l)).join('\n') + '\n');

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-train-guards-'));
    writeFileSync(file('events.jsonl'), generated.map((g) => JSON.stringify(g.event)).join('\n') + '\n');
    // Verdicts drawn at random (10 % fraud) whatever the event: nothing for a model to learn.
    const random = seededRandom(5);
    writeLabels(
      'random.jsonl',
      generated.map((g) => ({ ...g.label, is_fraud: random() < 0.1 })),
    );
    // Three fraud, all early: the validation and test periods hold none.
    writeLabels(
      'few.jsonl',
      generated.map((g, i) => ({ ...g.label, is_fraud: i % 500 === 0 && i < 1500 })),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('registers but does not activate a model below the ROC-AUC floor: one line with both figures, exit 3', async () => {
    const run = await train('floor', 'random.jsonl');
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /^model v1 registered in /);
    const lines = said(run);
    assert.equal(lines.length, 1, run.stderr);
    const m = /^rtds train: v1 registered but not activated: held-out ROC-AUC (0\.\d{4}) is below the floor 0\.6000; rtds models activate v1 \(or --force\) activates it anyway$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    assert.ok(Number(m[1]) < 0.6);
    const registry = new FolderRegistry(file('floor'));
    assert.deepEqual(
      (await registry.list()).map((l) => l.version),
      ['v1'],
    );
    assert.equal(await registry.active(), null, 'nothing activated');
  });

  it('activates such a model with --force, saying so in a warning', async () => {
    const run = await train('forced', 'random.jsonl', '--force');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^model v1 registered and activated in /);
    assert.deepEqual(said(run), [said(run)[0]!]);
    assert.match(said(run)[0]!, /^rtds train: warning: v1 activated although held-out ROC-AUC 0\.\d{4} is below the floor 0\.6000 \(--force\)$/);
    assert.equal(await new FolderRegistry(file('forced')).active(), 'v1');
  });

  it('refuses too little labelled history before training, naming the counts of each period, exit 1', async () => {
    const run = await train('few', 'few.jsonl');
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    // 2,000 labelled events: the first 70 % train, the next 10 % validate, the last 20 % test.
    assert.deepEqual(said(run), [
      'rtds train: too little labelled history: train 1400 events / 3 fraud, validation 200 / 0, test 400 / 0; need at least 50 events with 5 fraud and 5 legitimate in each (label more events, or take a longer history)',
    ]);
    // Nothing trained, so no epoch was reported; only the features were computed.
    assert.doesNotMatch(run.stderr, /MLP/);
    assert.deepEqual(await new FolderRegistry(file('few')).list(), []);
  });
});
