// Which records of a read_committed fetch were committed: the consumer's half of Kafka's isolation, done as the Java client does it.
import type { RecordsBatch } from '@platformatic/kafka';

/** Record batch attributes (Kafka's RecordBatch): the batch belongs to a transaction; it holds a commit/abort marker. */
const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;
/** A control record's key: int16 version, then int16 type; type 0 is an abort marker. */
const ABORT_MARKER = 0;

/** A transaction the broker reports aborted, from `firstOffset` up to its abort marker. */
export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** A record that reached the log in no transaction or in a committed one. */
export interface CommittedRecord {
  offset: bigint;
  /** When the producer (or the log) stamped it, epoch ms. */
  timestamp: number;
  key: string | undefined;
  value: string | undefined;
}

/**
 * The batches of one partition's read_committed fetch response that are not aborted, in offset
 * order, commit and abort markers kept (a reader advances its offset past them). The broker bounds
 * a read_committed fetch by the last stable offset but leaves aborted records in place, listing
 * the aborted transactions the response overlaps: a batch is aborted while its producer has an
 * aborted transaction that began at or before the batch and whose abort marker has not yet come.
 * The client's own filter keeps one range per producer, so a producer with two aborted
 * transactions in one response leaks the first; and it lets a transaction through whose abort
 * marker lies beyond the response. A stage's transactional producer aborts at every rebalance,
 * so neither is a corner case here.
 */
export function committedBatches(batches: readonly RecordsBatch[], aborted: readonly AbortedTransaction[]): RecordsBatch[] {
  if (aborted.length === 0) return [...batches];
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  let next = 0;
  const abortedProducers = new Set<bigint>();
  const out: RecordsBatch[] = [];
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    for (; next < pending.length && pending[next]!.firstOffset <= lastOffset; next++) abortedProducers.add(pending[next]!.producerId);
    if ((batch.attributes & CONTROL) !== 0) {
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
    } else if ((batch.attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) continue;
    out.push(batch);
  }
  return out;
}

/** The committed records of one partition's fetch response, from `from` on, in offset order (see `committedBatches`). */
export function committedRecords(batches: readonly RecordsBatch[], aborted: readonly AbortedTransaction[], from: bigint): CommittedRecord[] {
  const out: CommittedRecord[] = [];
  for (const batch of committedBatches(batches, aborted)) {
    if ((batch.attributes & CONTROL) !== 0 || batch.firstOffset + BigInt(batch.lastOffsetDelta) < from) continue;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < from) continue;
      out.push({
        offset,
        timestamp: Number(batch.firstTimestamp + record.timestampDelta),
        key: record.key?.toString('utf8'),
        value: record.value?.toString('utf8'),
      });
    }
  }
  return out;
}

function isAbortMarker(batch: RecordsBatch): boolean {
  const key = batch.records[0]?.key;
  return key != null && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER;
}
