// The contract's Kafka topics, created at start when missing.
import { Admin } from '@platformatic/kafka';

export interface TopicNames {
  events: string;
  decisions: string;
  labels: string;
  deadLetters: string;
  late: string;
  /** Announcements every process reads (model activations): one partition keeps them in order. */
  control: string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    events: `${prefix}events`,
    decisions: `${prefix}decisions`,
    labels: `${prefix}labels`,
    deadLetters: `${prefix}events.dlq`,
    late: `${prefix}events.late`,
    control: `${prefix}control`,
  };
}

/** Topics whose records are few and read whole by everyone: partitions would only break their order. */
const SINGLE_PARTITION: ReadonlySet<keyof TopicNames> = new Set(['control']);

/**
 * Create the topics that do not exist yet (`partitions` each, but one for the control topic). Two
 * instances starting together may both try: a topic that appeared meanwhile is not an error.
 */
export async function ensureTopics(brokers: string[], names: Partial<TopicNames>, partitions: number, replicas = 1): Promise<string[]> {
  const admin = new Admin({ clientId: 'rtds-admin', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = (Object.entries(names) as [keyof TopicNames, string][]).filter(([, t]) => !existing.has(t));
    if (missing.length === 0) return [];
    const single = missing.filter(([role]) => SINGLE_PARTITION.has(role)).map(([, t]) => t);
    const partitioned = missing.filter(([role]) => !SINGLE_PARTITION.has(role)).map(([, t]) => t);
    try {
      if (partitioned.length > 0) await admin.createTopics({ topics: partitioned, partitions, replicas });
      if (single.length > 0) await admin.createTopics({ topics: single, partitions: 1, replicas });
    } catch (err) {
      const now = new Set(await admin.listTopics());
      if (missing.some(([, t]) => !now.has(t))) throw err;
    }
    return missing.map(([, t]) => t);
  } finally {
    await admin.close();
  }
}
