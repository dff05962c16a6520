import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Evaluation } from '../../src/cli/evaluate.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;

describe('rtds train and rtds evaluate on history files', () => {
  let dir: string;
  let rtds: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  const writeHistory = (name: string, generated: ReturnType<TrafficGenerator['take']>, unlabelled: number): void => {
    // One broken line, and the first events left unlabelled: they feed the features but are no rows.
    writeFileSync(path.join(dir, `${name}.events.jsonl`), [...generated.map((g) => JSON.stringify(g.event)), '{"event_id":'].join('\n') + '\n');
    writeFileSync(path.join(dir, `${name}.labels.jsonl`), generated.slice(unlabelled).map((g) => JSON.stringify(g.label)).join('\n') + '\n');
  };
  const history = new TrafficGenerator({ seed: 50, users: 400 }).take(4000);
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-evaluate-'));
    rtds = (...args) => promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...env, RTDS_MODEL_DIR: path.join(dir, 'models') } });
    // Seed 4: each of the three periods holds a few dozen fraud events (attacks come in bursts, and with seed 3 validation has 1).
    writeHistory('train', new TrafficGenerator({ seed: 4, users: 400 }).take(8000), 100);
    writeHistory('test', history, 1);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on labelled files, holding out the latest labelled events', async () => {
    const run = await rtds('train', '--events-file', path.join(dir, 'train.events.jsonl'), '--labels-file', path.join(dir, 'train.labels.jsonl'), '--epochs', '3', '--seed', '3');
    assert.match(run.stdout, /model v1 registered and activated/);
    const metadata = JSON.parse(readFileSync(path.join(dir, 'models', 'v1', 'metadata.json'), 'utf8')) as { metrics: { rows: number }; training: { train_rows: number; validation_rows: number } };
    // 7,900 labelled events in three consecutive periods: the last 20 % test, the eighth before it
    // validation; every tenth training row is fitted a second time without its history.
    assert.equal(metadata.metrics.rows, 7900 - 6320);
    assert.deepEqual([metadata.training.train_rows, metadata.training.validation_rows], [5530 + 553, 790]);
  });

  it('judges the active model on labelled history by the serving path, prints and saves the report', async () => {
    const version = 'v1';
    const run = await rtds('evaluate', '--events', path.join(dir, 'test.events.jsonl'), '--labels', path.join(dir, 'test.labels.jsonl'));
    assert.match(run.stderr, /test\.events\.jsonl:4001: \(line\) not JSON/);
    assert.match(run.stdout, /ROC-AUC 0\.\d{4}/);
    const saved = readdirSync(path.join(dir, 'models', version, 'evaluations'));
    assert.equal(saved.length, 1);
    const e = JSON.parse(readFileSync(path.join(dir, 'models', version, 'evaluations', saved[0]!), 'utf8')) as Evaluation;
    assert.equal(e.model_version, version);
    assert.equal(e.unlabelled, 1);
    const m = e.metrics;
    assert.equal(m.rows, history.length - 1);
    assert.equal(m.positives, history.slice(1).filter((g) => g.label.is_fraud).length);
    // At the deployed thresholds (flag at RTDS_THRESHOLD − 0.2, reject at RTDS_THRESHOLD).
    assert.deepEqual(m.at.map((t) => t.threshold), [0.5, 0.7]);
    for (const t of m.at) assert.equal(t.confusion.tp + t.confusion.fp + t.confusion.tn + t.confusion.fn, m.rows);
    assert.equal(m.at[0]!.confusion.tp + m.at[0]!.confusion.fn, m.positives);
    assert.equal(e.calibration.reduce((n, b) => n + b.rows, 0), m.rows);
    assert.equal(e.distribution.fraud.reduce((a, b) => a + b, 0), m.positives);
    // A model trained on one seed's traffic ranks another's well.
    assert.ok(m.roc_auc > 0.9, `ROC-AUC ${m.roc_auc}`);
    // The fallback trained with it, judged on the same events.
    assert.match(run.stdout, /its fallback \(logistic regression\): ROC-AUC 0\.\d{4}/);
    assert.equal(e.fallback_metrics?.rows, m.rows);
    assert.equal(e.fallback_metrics.positives, m.positives);
    assert.ok(e.fallback_metrics.roc_auc > 0.8 && e.fallback_metrics.roc_auc !== m.roc_auc, `fallback ROC-AUC ${e.fallback_metrics.roc_auc}`);
  });
});
