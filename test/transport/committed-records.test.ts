// The read_committed filter of a fetch response: aborted transactions' records never appear, whatever their producer's other transactions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordsBatch } from '@platformatic/kafka';
import { committedBatches, committedRecords } from '../../src/transport/kafka/committed-records.ts';

const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;

/** A batch at `firstOffset` of `producerId`: data records with these values, or one commit/abort marker. */
function batch(firstOffset: number, producerId: number, content: string[] | 'commit' | 'abort', transactional = true): RecordsBatch {
  const marker = typeof content === 'string';
  const key = (value: string): Buffer => Buffer.from(`k-${value}`);
  const records = marker
    ? [{ length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: 0, key: Buffer.from([0, 0, 0, content === 'abort' ? 0 : 1]), value: Buffer.alloc(6), headers: [] }]
    : content.map((value, i) => ({ length: 0, attributes: 0, timestampDelta: BigInt(i), offsetDelta: i, key: key(value), value: Buffer.from(value), headers: [] }));
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: (transactional ? TRANSACTIONAL : 0) | (marker ? CONTROL : 0),
    lastOffsetDelta: records.length - 1,
    firstTimestamp: 1_000n,
    maxTimestamp: 1_000n,
    producerId: BigInt(producerId),
    producerEpoch: 0,
    firstSequence: 0,
    records,
  };
}

const values = (batches: RecordsBatch[], aborted: { producerId: number; firstOffset: number }[], from = 0): (string | undefined)[] =>
  committedRecords(
    batches,
    aborted.map((a) => ({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset) })),
    BigInt(from),
  ).map((r) => r.value);

describe('committed records of a read_committed fetch', () => {
  it('drops every aborted transaction of a producer that aborts twice around a commit', () => {
    // The client's own filter keeps one range per producer and lets b1 b2 through.
    const batches = [batch(0, 7, ['a1', 'a2']), batch(2, 7, 'commit'), batch(3, 7, ['b1', 'b2']), batch(5, 7, 'abort'), batch(6, 7, ['c1']), batch(7, 7, 'commit'), batch(8, 7, ['d1']), batch(9, 7, 'abort'), batch(10, 7, ['e1'])];
    assert.deepEqual(values(batches, [{ producerId: 7, firstOffset: 3 }, { producerId: 7, firstOffset: 8 }]), ['a1', 'a2', 'c1', 'e1']);
  });

  it("keeps another producer's records that interleave with an aborted transaction, and records outside transactions", () => {
    const batches = [batch(0, 1, ['x1']), batch(1, 2, ['y1']), batch(2, 3, ['plain'], false), batch(3, 1, ['x2']), batch(4, 2, 'commit'), batch(5, 1, 'abort')];
    assert.deepEqual(values(batches, [{ producerId: 1, firstOffset: 0 }]), ['y1', 'plain']);
  });

  it('drops an aborted transaction whose marker lies beyond the response (the next fetch lists it again)', () => {
    assert.deepEqual(values([batch(0, 4, ['ok']), batch(1, 4, 'commit'), batch(2, 4, ['gone1', 'gone2'])], [{ producerId: 4, firstOffset: 2 }]), ['ok']);
  });

  it('leaves out records before the fetch offset of a batch that straddles it, and hands offsets and timestamps', () => {
    const records = committedRecords([batch(10, 5, ['r10', 'r11', 'r12'], false)], [], 11n);
    assert.deepEqual(
      records.map((r) => [r.offset, r.value, r.key, r.timestamp]),
      [
        [11n, 'r11', 'k-r11', 1_001],
        [12n, 'r12', 'k-r12', 1_002],
      ],
    );
  });

  it('keeps the commit and abort markers among the batches, so a reader advances past them, and drops only aborted data', () => {
    const batches = [batch(0, 1, ['x1']), batch(1, 2, ['y1']), batch(2, 1, 'abort'), batch(3, 2, 'commit'), batch(4, 1, ['x2'])];
    const kept = committedBatches(batches, [{ producerId: 1n, firstOffset: 0n }]);
    assert.deepEqual(
      kept.map((b) => b.firstOffset),
      [1n, 2n, 3n, 4n],
    );
  });
});
