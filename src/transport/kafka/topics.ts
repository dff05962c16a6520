// The contract's Kafka topics, created at start when missing.
import { Admin } from '@platformatic/kafka';

export interface TopicNames {
  events: string;
  decisions: string;
  labels: string;
  deadLetters: string;
  late: string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    events: `${prefix}events`,
    decisions: `${prefix}decisions`,
    labels: `${prefix}labels`,
    deadLetters: `${prefix}events.dlq`,
    late: `${prefix}events.late`,
  };
}

/**
 * Create the topics that do not exist yet. Two instances starting together may both try: a
 * topic that appeared meanwhile is not an error.
 */
export async function ensureTopics(brokers: string[], names: TopicNames, partitions: number, replicas = 1): Promise<string[]> {
  const admin = new Admin({ clientId: 'rtds-admin', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Object.values(names).filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    try {
      await admin.createTopics({ topics: missing, partitions, replicas });
    } catch (err) {
      const now = new Set(await admin.listTopics());
      if (missing.some((t) => !now.has(t))) throw err;
    }
    return missing;
  } finally {
    await admin.close();
  }
}
