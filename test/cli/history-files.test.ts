// Reading labelled history: every line of a JSONL file read once, whatever its line endings and however its chunks fall.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { eachLine, readHistoryFiles } from '../../src/cli/history-files.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rtds-history-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function linesOf(name: string, text: string | Buffer): Promise<[number, string][]> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const seen: [number, string][] = [];
  await eachLine(file, (n, line) => seen.push([n, line]));
  return seen;
}

const event = (i: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ event_id: `h-${i}`, event_type: 'login', user_id: `u-${i % 3}`, channel: 'web', timestamp: new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString(), ...extra });

describe('history files', () => {
  it('numbers every line, skips blank ones and drops the CR of CRLF endings', async () => {
    assert.deepEqual(await linesOf('mixed.jsonl', 'a\r\n\r\n  \nb\nc\r\n'), [
      [1, 'a'],
      [4, 'b'],
      [5, 'c'],
    ]);
  });

  it('reads a last line without a newline, and nothing from an empty file', async () => {
    assert.deepEqual(await linesOf('tail.jsonl', 'first\nlast'), [
      [1, 'first'],
      [2, 'last'],
    ]);
    assert.deepEqual(await linesOf('empty.jsonl', ''), []);
  });

  it('keeps lines and multi-byte characters whole across read chunks', async () => {
    // Lines of 1,000 characters, each with a three-byte euro sign: over 3 MiB, so chunk boundaries
    // (1 MiB) fall inside lines, some inside a character, and one line is longer than a chunk.
    const lines = Array.from({ length: 3_000 }, (_, i) => `${i}:${'€'.padStart(1_000 - String(i).length - 1, 'x')}`);
    lines[1_500] = `long:${'€'.repeat(600_000)}`;
    const seen = await linesOf('chunks.jsonl', lines.join('\r\n') + '\r\n');
    assert.equal(seen.length, lines.length);
    seen.forEach(([n, line], i) => {
      assert.equal(n, i + 1);
      assert.equal(line, lines[i], `line ${n}`);
    });
  });

  it('refuses bad lines by file and line number and keeps the valid ones in event-time order', async () => {
    const eventsFile = path.join(dir, 'events.jsonl');
    const labelsFile = path.join(dir, 'labels.jsonl');
    await writeFile(eventsFile, [event(2), '{not json', '', event(1), event(3, { amount: -5, currency: 'EUR' }), event(0)].join('\n') + '\n');
    await writeFile(labelsFile, [JSON.stringify({ event_id: 'h-1', is_fraud: true }), JSON.stringify({ event_id: 'h-1', is_fraud: false }), '[]'].join('\r\n'));
    const stderr = mock.method(process.stderr, 'write', () => true);
    let history;
    try {
      history = await readHistoryFiles(eventsFile, labelsFile);
    } finally {
      stderr.mock.restore();
    }
    const reported = stderr.mock.calls.map((c) => String(c.arguments[0]));
    assert.equal(history.invalid, 3);
    assert.match(reported[0]!, new RegExp(`^${eventsFile}:2: \\(line\\) not JSON`));
    assert.match(reported[1]!, new RegExp(`^${eventsFile}:5: amount `));
    assert.match(reported[2]!, new RegExp(`^${labelsFile}:3: `));
    assert.deepEqual(
      history.events.map((e) => e.event_id),
      ['h-0', 'h-1', 'h-2'],
    );
    assert.equal(history.labels.get('h-1')?.is_fraud, false);
  });
});
