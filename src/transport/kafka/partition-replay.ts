// Reads one partition back from its start up to an offset, committed records only: how a stage restores its state from its input topic.
import { Admin, Connection, FetchIsolationLevels, fetchV17 } from '@platformatic/kafka';
import { committedRecords, type CommittedRecord } from './committed-records.ts';
import { RETRY } from './retry.ts';

/** The offset ListOffsets answers with the partition's earliest retained record. */
const EARLIEST = -2n;

export interface PartitionReplayOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  partition: number;
  /** One past the last offset to read (exclusive): the stage's committed offset of the partition. */
  end: bigint;
  /** Handed each fetch's committed records below `end`, in offset order; awaited before the next fetch. */
  onRecords: (records: CommittedRecord[]) => void | Promise<void>;
  /**
   * Longest the replay waits without progress: only while a transaction begun before `end` is
   * still open (the broker serves read_committed reads up to the first open transaction). A
   * transaction the group committed offsets past has ended, so a wait means another producer's
   * transaction, which the broker aborts after its timeout: give at least that.
   */
  stallTimeoutMs: number;
  /** Bytes per fetch at most (a first batch larger than this still comes whole). */
  maxBytes?: number;
}

export interface ReplaySummary {
  /** Where the replay began: the earliest offset the partition still retains. */
  from: bigint;
  /** Committed records handed to `onRecords`. */
  records: number;
}

export class PartitionReplayError extends Error {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: bigint,
    readonly end: bigint,
    reason: string,
    options?: { cause: unknown },
  ) {
    super(`replay of ${topic}[${partition}] stopped at offset ${offset} before ${end}: ${reason}`, options);
    this.name = 'PartitionReplayError';
  }
}

/** A fetch's wait for data when there is none yet: the pace of the loop while a transaction is open. */
const FETCH_WAIT_MS = 100;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Read the committed records of one partition from its earliest retained offset up to `end`,
 * isolation read_committed: records of aborted transactions never appear. Offsets are not
 * contiguous — commit and abort markers take offsets of their own, and aborted records are
 * skipped — so the replay follows the fetched batches' offsets (markers included) and ends once
 * they reach `end`, whatever the last record's offset. Raw fetches to the partition's leader:
 * no consumer group is joined, nothing is committed, no other member sees a rebalance.
 */
export async function replayPartition(options: PartitionReplayOptions): Promise<ReplaySummary> {
  const { topic, partition, end } = options;
  if (end <= 0n) return { from: 0n, records: 0 };
  const admin = new Admin({ clientId: options.clientId, bootstrapBrokers: options.brokers, ...RETRY });
  const connection = new Connection(options.clientId);
  let offset = 0n;
  try {
    const metadata = await admin.metadata({ topics: [topic] });
    const described = metadata.topics.get(topic);
    const leader = described?.partitions[partition];
    if (described === undefined || leader === undefined) throw new PartitionReplayError(topic, partition, offset, end, 'no such topic partition');
    const broker = metadata.brokers.get(leader.leader);
    if (broker === undefined) throw new PartitionReplayError(topic, partition, offset, end, `its leader ${leader.leader} is not among the brokers`);
    const listed = await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: EARLIEST }] }] });
    const from = listed[0]?.partitions.find((p) => p.partitionIndex === partition)?.offset ?? 0n;
    offset = from;
    let records = 0;
    let progressAt = Date.now();
    await connection.connect(broker.host, broker.port);
    while (offset < end) {
      const request = { partition, currentLeaderEpoch: leader.leaderEpoch, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES };
      // Session id 0, epoch -1: a full fetch outside any fetch session, so the broker keeps none for a one-off read.
      const response = await fetchV17.api.async(connection, FETCH_WAIT_MS, 1, options.maxBytes ?? DEFAULT_MAX_BYTES, FetchIsolationLevels.READ_COMMITTED, 0, -1, [{ topicId: described.id, partitions: [request] }], [], '');
      const fetched = response.responses[0]?.partitions[0];
      const batches = fetched?.records ?? [];
      const last = batches.at(-1);
      if (fetched === undefined || last === undefined) {
        if (fetched !== undefined && fetched.highWatermark <= offset) throw new PartitionReplayError(topic, partition, offset, end, `the log ends at ${fetched.highWatermark}`);
        if (Date.now() - progressAt > options.stallTimeoutMs) throw new PartitionReplayError(topic, partition, offset, end, `a transaction open at ${offset} did not end within ${options.stallTimeoutMs} ms`);
        continue;
      }
      const committed = committedRecords(batches, fetched.abortedTransactions, offset);
      const below = committed.length > 0 && committed.at(-1)!.offset >= end ? committed.filter((r) => r.offset < end) : committed;
      if (below.length > 0) {
        records += below.length;
        await options.onRecords(below);
      }
      offset = last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
      progressAt = Date.now();
    }
    return { from, records };
  } catch (err) {
    if (err instanceof PartitionReplayError) throw err;
    throw new PartitionReplayError(topic, partition, offset, end, (err as Error).message, { cause: err });
  } finally {
    await connection.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}
