import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { trainOnGeneratedHistory } from '../../src/app/training.ts';
import type { Evaluation } from '../../src/cli/evaluate.ts';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

describe('rtds evaluate', () => {
  let dir: string;
  let version: string;
  const history = new TrafficGenerator({ seed: 50, users: 400 }).take(4000);
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-evaluate-'));
    const config = loadConfig({}, {});
    ({ version } = await trainOnGeneratedHistory({ modelDir: path.join(dir, 'models'), events: 8000, seed: 3, epochs: 3, features: DEFAULT_FEATURE_SET, eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: [0.5, 0.7] }));
    // Another seed's traffic, one broken line, and one event left unlabelled.
    writeFileSync(path.join(dir, 'events.jsonl'), [...history.map((g) => JSON.stringify(g.event)), '{"event_id":'].join('\n') + '\n');
    writeFileSync(path.join(dir, 'labels.jsonl'), history.slice(1).map((g) => JSON.stringify(g.label)).join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('judges the active model on labelled history by the serving path, prints and saves the report', async () => {
    const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
    const run = await promisify(execFile)(process.execPath, [BIN, 'evaluate', '--events', path.join(dir, 'events.jsonl'), '--labels', path.join(dir, 'labels.jsonl')], { env: { ...env, RTDS_MODEL_DIR: path.join(dir, 'models') } });
    assert.match(run.stderr, /events\.jsonl:4001: \(line\) not JSON/);
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
  });
});
