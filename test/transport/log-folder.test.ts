import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { LogFolderError } from '../../src/transport/embedded/log-folder.ts';
import { PartitionedLog, type DurableLogOptions } from '../../src/transport/embedded/partitioned-log.ts';
import { partitionFor, type LogRecord } from '../../src/transport/log.ts';

const root = mkdtempSync(path.join(tmpdir(), 'rtds-log-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshDir = (): string => path.join(root, `log-${folders++}`);
const options = (dir: string, extra: Partial<DurableLogOptions> = {}): DurableLogOptions => ({ dir, fsync: true, newName: () => `embedded@test-${dir}`, ...extra });
const segments = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('segment-')).sort();

/** Waits for a condition a background step makes true (a polled deadline, no fixed sleep). */
async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Consumes the log with a handler that is durable at once; returns what it was handed. */
async function consumeAll(log: PartitionedLog, group = 'g'): Promise<{ records: LogRecord[]; stop: () => Promise<void> }> {
  const records: LogRecord[] = [];
  const consumer = log.consumer(group, 64);
  await consumer.start(async (batch) => {
    records.push(...batch);
    return { durable: Promise.resolve() };
  });
  return { records, stop: () => consumer.stop({ drain: true }) };
}

describe('the durable embedded log', () => {
  it('writes appends made together as one group, acknowledged only once written, and visible only then', async () => {
    const dir = freshDir();
    const log = await PartitionedLog.open(2, options(dir));
    const seen: number[] = [];
    log.onAppend((p) => seen.push(p));
    const acks = Array.from({ length: 50 }, (_, i) => log.append(`user-${i}`, { n: i }));
    assert.equal(log.endOffset(0) + log.endOffset(1), 0, 'nothing is readable before the write');
    assert.equal(new Set(acks).size, 1, 'the 50 appends of one turn share one write');
    await Promise.all(acks);
    assert.equal(log.endOffset(0) + log.endOffset(1), 50);
    // Appends made while a write is under way wait for it and share the next one.
    const writing = log.append('first', { n: 50 });
    await new Promise((resolve) => setImmediate(resolve));
    const next = Array.from({ length: 10 }, (_, i) => log.append(`late-${i}`, { n: 51 + i }));
    assert.notEqual(next[0], writing);
    assert.equal(new Set(next).size, 1);
    await Promise.all([writing, ...next]);
    await log.close();
    assert.equal(segments(dir).length, 1);
    assert.ok(statSync(path.join(dir, segments(dir)[0]!)).size > 61 * 30);
  });

  it('delivers again after a reopen every record not committed, with its key, value, partition and offset', async () => {
    const dir = freshDir();
    const first = await PartitionedLog.open(3, options(dir));
    const values = Array.from({ length: 30 }, (_, i) => ({ key: `u${i % 7}`, value: { event_id: `e${i}`, amount: i / 3, nested: { ok: true } } }));
    await Promise.all(values.map((v) => first.append(v.key, v.value)));
    // The group commits the first 4 records of each partition, then the process "crashes" (no drain).
    for (let p = 0; p < 3; p++) first.commit('g', p, Math.min(4, first.endOffset(p)));
    await first.close();

    const second = await PartitionedLog.open(3, options(dir));
    const { records, stop } = await consumeAll(second);
    const expected = 30 - [0, 1, 2].reduce((n, p) => n + Math.min(4, first.endOffset(p)), 0);
    await until(() => records.length === expected, 'the replay');
    await stop();
    for (const r of records) {
      assert.ok(r.offset >= 4, `offset ${r.offset} of partition ${r.partition} was committed`);
      assert.equal(r.partition, partitionFor(r.key, 3));
    }
    const byId = new Map(records.map((r) => [(r.value as { event_id: string }).event_id, r]));
    for (const v of values) {
      const r = byId.get(v.value.event_id);
      if (r !== undefined) assert.deepEqual({ key: r.key, value: r.value }, v);
    }
    // New appends continue each partition's offsets.
    const end = second.endOffset(partitionFor('u1', 3));
    await second.append('u1', { event_id: 'after' });
    assert.equal(second.read(partitionFor('u1', 3), end, 10)[0]?.offset, end);
    await second.close();
  });

  it('cuts a torn tail off at reopen and replays only whole records', async () => {
    const dir = freshDir();
    const repairs: string[] = [];
    const first = await PartitionedLog.open(1, options(dir));
    await Promise.all(Array.from({ length: 5 }, (_, i) => first.append('k', { i })));
    await first.close();
    const file = path.join(dir, segments(dir)[0]!);
    const whole = statSync(file).size;
    // A crash mid-write: a frame header promising more bytes than made it to disk.
    const torn = Buffer.alloc(30);
    torn.writeUInt32LE(500, 0);
    appendFileSync(file, torn);

    const second = await PartitionedLog.open(1, options(dir, { onRepair: (r) => repairs.push(`${r.droppedBytes}:${r.reason}`) }));
    assert.equal(repairs.length, 1);
    assert.match(repairs[0]!, /^30:a frame cut short/);
    assert.equal(statSync(file).size, whole, 'the torn bytes are gone from the file');
    assert.deepEqual(second.read(0, 0, 10).map((r) => r.value), [0, 1, 2, 3, 4].map((i) => ({ i })));
    // Writing continues after the whole records, and a third open reads them all.
    await second.append('k', { i: 5 });
    await second.close();
    const third = await PartitionedLog.open(1, options(dir));
    assert.equal(third.endOffset(0), 6);
    await third.close();
  });

  it('cuts off a last frame whose bytes do not match its checksum', async () => {
    const dir = freshDir();
    const first = await PartitionedLog.open(1, options(dir));
    await Promise.all([first.append('k', { i: 0 }), first.append('k', { i: 1 })]);
    await first.close();
    const file = path.join(dir, segments(dir)[0]!);
    const size = statSync(file).size;
    // Half of the last frame's payload never reached the disk: zeros instead.
    truncateSync(file, size - 6);
    appendFileSync(file, Buffer.alloc(6));
    const second = await PartitionedLog.open(1, options(dir));
    assert.deepEqual(second.read(0, 0, 10).map((r) => r.value), [{ i: 0 }]);
    await second.close();
  });

  it('deletes segments every group has committed past, and keeps the rest', async () => {
    const dir = freshDir();
    const log = await PartitionedLog.open(2, options(dir, { segmentBytes: 600 }));
    for (let i = 0; i < 40; i++) await log.append(`user-${i % 5}`, { event_id: `e${i}`, pad: 'x'.repeat(40) });
    const before = segments(dir);
    assert.ok(before.length >= 4, `${before.length} segments`);
    const { records, stop } = await consumeAll(log);
    await until(() => records.length === 40, 'the consumer');
    await stop();
    // The committed offsets are persisted a moment after the commits, then the segments go.
    await until(() => segments(dir).length === 1, 'segment deletion');
    assert.equal(segments(dir)[0], before[before.length - 1], 'the segment being written stays');
    await log.close();
    const reopened = await PartitionedLog.open(2, options(dir, { segmentBytes: 600 }));
    const again = await consumeAll(reopened);
    await reopened.append('user-0', { event_id: 'new' });
    await until(() => again.records.length === 1, 'the new record');
    await again.stop();
    assert.deepEqual(again.records.map((r) => r.value), [{ event_id: 'new' }], 'nothing committed is delivered again');
    await reopened.close();
  });

  it('keeps a segment while one group has not committed past it', async () => {
    const dir = freshDir();
    const log = await PartitionedLog.open(1, options(dir, { segmentBytes: 200 }));
    for (let i = 0; i < 10; i++) await log.append('k', { event_id: `e${i}`, pad: 'x'.repeat(40) });
    const all = segments(dir).length;
    log.commit('fast', 0, 10);
    log.commit('slow', 0, 0);
    await log.close();
    assert.equal(segments(dir).length, all);
    const reopened = await PartitionedLog.open(1, options(dir, { segmentBytes: 200 }));
    const { records, stop } = await consumeAll(reopened, 'slow');
    await until(() => records.length === 10, 'the slow group');
    await stop();
    await reopened.close();
  });

  it('refuses a folder of another layout or a damaged middle segment, with the reason', async () => {
    const foreign = freshDir();
    await (await PartitionedLog.open(1, options(foreign))).close();
    writeFileSync(path.join(foreign, 'log.json'), JSON.stringify({ format: 99, name: 'x', partitions: 1 }));
    await assert.rejects(PartitionedLog.open(1, options(foreign)), (err: unknown) => err instanceof LogFolderError && /format 99/.test(err.message));

    const noMeta = freshDir();
    await (await PartitionedLog.open(1, options(noMeta))).close();
    rmSync(path.join(noMeta, 'log.json'));
    await assert.rejects(PartitionedLog.open(1, options(noMeta)), /not an RTDS log folder of this version/);

    const damaged = freshDir();
    const log = await PartitionedLog.open(1, options(damaged, { segmentBytes: 100 }));
    for (let i = 0; i < 6; i++) await log.append('k', { event_id: `e${i}`, pad: 'x'.repeat(60) });
    await log.close();
    const [firstSegment] = segments(damaged);
    const file = path.join(damaged, firstSegment!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    writeFileSync(file, bytes);
    await assert.rejects(PartitionedLog.open(1, options(damaged, { segmentBytes: 100 })), (err: unknown) => err instanceof LogFolderError && err.message.includes(firstSegment!) && /checksum/.test(err.message));
  });

  it('starts a new log under a new name when the partition count changes with nothing undecided, and refuses otherwise', async () => {
    const dir = freshDir();
    let n = 0;
    const named = (extra: Partial<DurableLogOptions> = {}): DurableLogOptions => options(dir, { newName: () => `embedded@run-${n++}`, ...extra });
    const first = await PartitionedLog.open(2, named());
    await first.append('a', { i: 0 });
    await first.close();
    await assert.rejects(PartitionedLog.open(3, named()), /RTDS_PARTITIONS is 3/);
    const second = await PartitionedLog.open(2, named());
    assert.equal(second.name, 'embedded@run-0');
    second.commit('g', 0, second.endOffset(0));
    second.commit('g', 1, second.endOffset(1));
    await second.close();
    const third = await PartitionedLog.open(3, named());
    assert.equal(third.name, 'embedded@run-1');
    assert.equal([0, 1, 2].reduce((s, p) => s + third.endOffset(p), 0), 0);
    await third.close();
  });
});

