// A consumer group's committed offsets as KIP-447 means them: never while a transaction that commits them is still open.
import { Admin, Connection, FindCoordinatorKeyTypes, offsetFetchV9, type Broker, type Consumer } from '@platformatic/kafka';
import { RETRY } from './retry.ts';

/** How often an offset still held by an open transaction is asked for again. */
const UNSTABLE_RETRY_MS = 50;

/** Per partition the committed offset (the next record to read), or undefined where the group has committed none. */
export type CommittedOffsets = Map<number, bigint | undefined>;

export class UnstableOffsetsError extends Error {
  constructor(
    readonly topic: string,
    readonly waitedMs: number,
  ) {
    super(`committed offsets of ${topic} still held by an open transaction after ${waitedMs} ms`);
    this.name = 'UnstableOffsetsError';
  }
}

/**
 * The committed offsets of `partitions`, asked with `require_stable`: while another member's
 * transaction that commits offsets of them is open, the broker answers UNSTABLE_OFFSET_COMMIT and
 * the question is asked again, until `waitMs`. The client's own `listCommittedOffsets` asks
 * without it, so a partition that moved while its previous owner was committing would be read
 * from before that commit and its batch decided twice.
 */
export async function stableCommittedOffsets(
  consumer: Consumer<string, string, string, string>,
  clientId: string,
  topic: string,
  partitions: readonly number[],
  waitMs: number,
): Promise<CommittedOffsets> {
  if (partitions.length === 0) return new Map();
  const coordinator = await consumer.findGroupCoordinator();
  const metadata = await consumer.metadata({ topics: [topic] });
  const broker = metadata.brokers.get(coordinator);
  if (broker === undefined) throw new Error(`group coordinator ${coordinator} is not among the brokers of the metadata`);
  return askStable(broker, clientId, consumer.groupId, topic, partitions, waitMs);
}

/**
 * The same, for a group this process is no member of (or not yet): a stage's restore end for a
 * partition, read through a short-lived admin client.
 */
export async function groupCommittedOffsets(brokers: string[], clientId: string, groupId: string, topic: string, partitions: readonly number[], waitMs: number): Promise<CommittedOffsets> {
  if (partitions.length === 0) return new Map();
  const admin = new Admin({ clientId, bootstrapBrokers: brokers, ...RETRY });
  try {
    const [found] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] });
    const metadata = await admin.metadata({ topics: [topic] });
    const broker = found === undefined ? undefined : metadata.brokers.get(found.nodeId);
    if (broker === undefined) throw new Error(`no coordinator among the brokers for group ${groupId}`);
    return await askStable(broker, clientId, groupId, topic, partitions, waitMs);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function askStable(broker: Broker, clientId: string, groupId: string, topic: string, partitions: readonly number[], waitMs: number): Promise<CommittedOffsets> {
  const offsets: CommittedOffsets = new Map(partitions.map((p) => [p, undefined]));
  const connection = new Connection(clientId);
  const started = Date.now();
  try {
    await connection.connect(broker.host, broker.port);
    for (;;) {
      try {
        const response = await offsetFetchV9.api.async(connection, [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: [...partitions] }] }], true);
        for (const group of response.groups)
          for (const t of group.topics) for (const p of t.partitions) offsets.set(p.partitionIndex, p.committedOffset >= 0n ? p.committedOffset : undefined);
        return offsets;
      } catch (err) {
        if ((err as { findBy?: (k: string, v: unknown) => unknown }).findBy?.('apiId', 'UNSTABLE_OFFSET_COMMIT') == null) throw err;
        if (Date.now() - started > waitMs) throw new UnstableOffsetsError(topic, Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, UNSTABLE_RETRY_MS));
      }
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}
