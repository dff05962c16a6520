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

/**
 * The topic carrying events to the stage keyed by `stage` (`merchant_id`, `user_id+device_id`):
 * Kafka allows letters, digits, '.', '_' and '-' in topic names, so '+' becomes '-'.
 */
export function repartitionTopic(prefix: string, stage: string): string {
  return `${prefix}repartition.${stage.replaceAll('+', '-')}`;
}

/** Topics whose records are few and read whole by everyone: partitions would only break their order. */
const SINGLE_PARTITION: ReadonlySet<keyof TopicNames> = new Set(['control']);

/**
 * A CreateTopics refusal only because the topics exist. Two instances starting together may both
 * create them; and right after a broker starts, its topic listing lags creations by a moment, so
 * a topic just created may look missing (then "already exists" is the truth).
 */
function onlyAlreadyExists(err: unknown): boolean {
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => (e as { apiId?: unknown }).apiId === 'TOPIC_ALREADY_EXISTS');
}

/** Create the topics that do not exist yet (`partitions` each, but one for the control topic). */
export async function ensureTopics(brokers: string[], names: Partial<TopicNames>, partitions: number, replicas = 1): Promise<string[]> {
  const admin = new Admin({ clientId: 'rtds-admin', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = (Object.entries(names) as [keyof TopicNames, string][]).filter(([, t]) => !existing.has(t));
    if (missing.length === 0) return [];
    const single = missing.filter(([role]) => SINGLE_PARTITION.has(role)).map(([, t]) => t);
    const partitioned = missing.filter(([role]) => !SINGLE_PARTITION.has(role)).map(([, t]) => t);
    const create = async (topics: string[], count: number): Promise<void> => {
      if (topics.length === 0) return;
      try {
        await admin.createTopics({ topics, partitions: count, replicas });
      } catch (err) {
        // The others in the request were created; an error for each existing one is no failure.
        if (!onlyAlreadyExists(err)) throw err;
      }
    };
    await create(partitioned, partitions);
    await create(single, 1);
    return missing.map(([, t]) => t);
  } finally {
    await admin.close();
  }
}
