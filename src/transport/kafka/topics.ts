// The Kafka topics RTDS uses — the contract's and the processor's repartition topics — created at start when missing.
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';

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

/** One entity field of a stage's key: an identifier, as feature specs name fields. */
const ENTITY_FIELD = /^[A-Za-z0-9_]+$/;

/** Kafka refuses longer topic names. */
const MAX_TOPIC_NAME = 249;

export class TopicNameError extends Error {
  constructor(
    readonly stage: string,
    reason: string,
  ) {
    super(`no repartition topic for stage '${stage}': ${reason}`);
    this.name = 'TopicNameError';
  }
}

/**
 * The topic carrying events into `stage`, keyed by the stage's entity key: `<prefix>repartition.<stage>`.
 * A stage is an entity field (`merchant_id`) or several joined by `+` (`user_id+device_id`). Kafka
 * allows only [a-zA-Z0-9._-] in a topic name, so `+` becomes `-`: fields never contain `-`, so two
 * stages never share a topic (`user_id+device_id` → `repartition.user_id-device_id`).
 */
export function repartitionTopic(prefix: string, stage: string): string {
  const fields = stage.split('+');
  const bad = fields.find((f) => !ENTITY_FIELD.test(f));
  if (bad !== undefined) throw new TopicNameError(stage, `'${bad}' is not an entity field name ([A-Za-z0-9_]+, joined by '+')`);
  const name = `${prefix}repartition.${fields.join('-')}`;
  if (name.length > MAX_TOPIC_NAME) throw new TopicNameError(stage, `'${name}' is longer than Kafka's ${MAX_TOPIC_NAME} characters`);
  return name;
}

/** A topic to have: its name, partition count and the topic configs it must carry. */
export interface TopicSpec {
  name: string;
  partitions: number;
  /** Topic configs (`retention.ms`, `cleanup.policy`…); `retention.ms` is a floor, see `ensureTopicSpecs`. */
  configs?: Readonly<Record<string, string>>;
}

/**
 * A repartition topic: deleted by age, never compacted — the stage restores its state by reading
 * the topic back (the source topic as changelog), so every record within the stage's state reach
 * must still be there: `retentionMs` must cover that reach.
 */
export function repartitionTopicSpec(prefix: string, stage: string, partitions: number, retentionMs: number): TopicSpec {
  if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) throw new RangeError(`retention of repartition topic for '${stage}' must be a positive whole number of ms, got ${retentionMs}`);
  return { name: repartitionTopic(prefix, stage), partitions, configs: { 'retention.ms': String(retentionMs), 'cleanup.policy': 'delete' } };
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

/** Create the contract's topics that do not exist yet (`partitions` each, but one for the control topic). */
export async function ensureTopics(brokers: string[], names: Partial<TopicNames>, partitions: number, replicas = 1): Promise<string[]> {
  const specs = (Object.entries(names) as [keyof TopicNames, string][]).map(([role, name]) => ({ name, partitions: SINGLE_PARTITION.has(role) ? 1 : partitions }));
  return (await ensureTopicSpecs(brokers, specs, replicas)).created;
}

export interface EnsuredTopics {
  /** Topics that did not exist. */
  created: string[];
  /** Existing topics whose configs were changed to the spec's (a retention raised, a cleanup policy set). */
  altered: string[];
}

/**
 * Create the topics that do not exist yet, with their configs. An existing topic keeps its
 * partitions but gets the configs it lacks: a `retention.ms` shorter than asked is raised (never
 * lowered: someone may keep records longer on purpose; -1, unlimited, is never shorter), any
 * other config that differs is set. Alterations are incremental (IncrementalAlterConfigs), so
 * configs the spec does not name stay as they are.
 */
export async function ensureTopicSpecs(brokers: string[], specs: readonly TopicSpec[], replicas = 1): Promise<EnsuredTopics> {
  const admin = new Admin({ clientId: 'rtds-admin', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    // One CreateTopics request per partition count and config set: the client applies those to every topic of a request.
    const requests = new Map<string, TopicSpec[]>();
    for (const spec of missing) {
      const shape = JSON.stringify([spec.partitions, Object.entries(spec.configs ?? {}).sort()]);
      requests.set(shape, [...(requests.get(shape) ?? []), spec]);
    }
    for (const group of requests.values()) {
      const { partitions, configs = {} } = group[0]!;
      try {
        await admin.createTopics({ topics: group.map((s) => s.name), partitions, replicas, configs: Object.entries(configs).map(([name, value]) => ({ name, value })) });
      } catch (err) {
        // The others in the request were created; an error for each existing one is no failure.
        if (!onlyAlreadyExists(err)) throw err;
      }
    }
    const altered = await alterShortfalls(
      admin,
      specs.filter((s) => existing.has(s.name) && Object.keys(s.configs ?? {}).length > 0),
    );
    return { created: missing.map((s) => s.name), altered };
  } finally {
    await admin.close();
  }
}

/** The configs of `current` that fall short of `asked` (see `ensureTopicSpecs`). */
function shortfalls(asked: Readonly<Record<string, string>>, current: ReadonlyMap<string, string | null>): [string, string][] {
  return Object.entries(asked).filter(([name, value]) => {
    const now = current.get(name) ?? null;
    if (name !== 'retention.ms') return now !== value;
    return now !== null && now !== '-1' && BigInt(now) < BigInt(value);
  });
}

async function alterShortfalls(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  if (specs.length === 0) return [];
  const described = await admin.describeConfigs({
    resources: specs.map((s) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: s.name, configurationKeys: Object.keys(s.configs ?? {}) })),
  });
  const current = new Map(described.map((d) => [d.resourceName, new Map(d.configs.map((c) => [c.name, c.value]))]));
  const resources = specs.flatMap((s) => {
    const changes = shortfalls(s.configs ?? {}, current.get(s.name) ?? new Map());
    if (changes.length === 0) return [];
    const configs = changes.map(([name, value]) => ({ name, value, configOperation: IncrementalAlterConfigOperationTypes.SET }));
    return [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: s.name, configs }];
  });
  if (resources.length > 0) await admin.incrementalAlterConfigs({ resources });
  return resources.map((r) => r.resourceName);
}
