import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventTimeOptions, loadConfig } from '../../src/config/index.ts';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../../src/features/index.ts';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { replayFeatures } from '../../src/process/index.ts';

const BIN = fileURLToPath(new URL('../../bin/rtds.js', import.meta.url));

describe('rtds features: the training matrix of a history file', () => {
  let dir: string;
  let csv: string[][];
  let stderr: string;
  const generated = new TrafficGenerator({ seed: 21, users: 300 }).take(3000);
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rtds-matrix-'));
    // The file is not in event-time order, holds a re-sent event and a broken line.
    const lines = generated.map((g) => JSON.stringify(g.event)).reverse();
    lines.splice(10, 0, lines[20]!, '{"event_id": "broken"');
    writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'labels.jsonl'), generated.map((g) => JSON.stringify(g.label)).join('\n') + '\n');
    const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
    const run = await promisify(execFile)(process.execPath, [BIN, 'features', '--events', path.join(dir, 'events.jsonl'), '--labels', path.join(dir, 'labels.jsonl'), '--out', path.join(dir, 'm.csv')], { env });
    stderr = run.stderr;
    csv = readFileSync(path.join(dir, 'm.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports the broken line and the re-sent event, and writes one row per distinct valid event', () => {
    assert.match(stderr, /events\.jsonl:12: \(line\) not JSON/);
    assert.match(stderr, /1 invalid lines skipped, 1 re-sent events skipped/);
    assert.equal(csv.length, 1 + generated.length);
    assert.deepEqual(csv[0]!.slice(0, 4), ['event_id', 'event_time', 'late', 'is_fraud']);
    assert.deepEqual(csv[0]!.slice(4), [...DEFAULT_FEATURE_SET.names]);
  });

  it('equals the processor step replaying the history in event-time order, labels joined', () => {
    const events: RtdsEvent[] = generated.map((g) => {
      const checked = validateEvent(g.event);
      assert.ok(checked.ok);
      return checked.event;
    });
    events.sort((a, b) => a.event_time - b.event_time);
    const config = loadConfig({}, {});
    const expected = replayFeatures(events, DEFAULT_FEATURE_SET, eventTimeOptions(config), config.partitions);
    const fraud = new Map(generated.map((g) => [g.label.event_id, g.label.is_fraud]));
    const byId = new Map(csv.slice(1).map((row) => [row[0]!, row]));
    for (const { event, vector, late } of expected) {
      const row = byId.get(event.event_id);
      assert.ok(row !== undefined, event.event_id);
      assert.equal(row[2], late ? '1' : '0');
      assert.equal(row[3], fraud.get(event.event_id) ? '1' : '0');
      assert.deepEqual(row.slice(4).map(Number), Array.from(vector), `features of ${event.event_id}`);
    }
    assert.ok(csv.slice(1).some((row) => row[3] === '1'), 'some fraud is labelled');
  });
});
