// Features declared as data: what a feature aggregates, over which entity, window and filter.
import { parse as parseYaml } from 'yaml';

/** Aggregations a windowed feature can take over the events of its window. */
export const AGGREGATIONS = ['count', 'sum', 'mean', 'min', 'max', 'std', 'distinct', 'last', 'time_since_last', 'fraud_count', 'fraud_rate'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/**
 * Windows in event time (`size`, `hop`, `gap` in milliseconds once parsed). For an event at time t:
 * - tumbling: the window [⌊t/size⌋·size, +size) that holds t;
 * - hopping (Flink's "sliding"): of the windows [k·hop, k·hop + size) holding t, the one starting
 *   earliest — it covers between size − hop and size of the past; state is size/hop tiles;
 * - session: the user's (entity's) run of events whose consecutive times are less than `gap` apart.
 * A window holds the events processed so far (this one included, unless late) that fall in it.
 */
export type WindowSpec = { kind: 'tumbling'; size: number } | { kind: 'hopping'; size: number; hop: number } | { kind: 'session'; gap: number };

/**
 * How a model sees a feature's value before its standardisation: counts and amounts are heavy
 * tailed, so `log1p`. Raw values are what decisions and the API show.
 */
export type Transform = 'none' | 'log1p';

/** What every feature declares besides how it is computed. */
interface FeatureBase {
  name: string;
  doc?: string;
  /** Default `none`. */
  transform?: Transform;
}

/** An aggregate of one entity's events over a window. */
export interface AggregateFeatureSpec extends FeatureBase {
  /** Event fields whose values together identify the entity (e.g. ["user_id"], ["merchant_id"], ["user_id", "device_id"]). */
  entity: string[];
  /** Only events whose field has one of the listed values count (e.g. { event_type: ["transaction"] }). */
  filter?: Record<string, string[]>;
  window: WindowSpec;
  aggregate: Aggregation;
  /** The field aggregated: numeric for sum, mean, min, max, std, last; any for distinct. */
  field?: string;
  /** Value when there is nothing to aggregate (an empty window, a missing entity field). Default 0. */
  default: number;
  /**
   * The window ends this long before the event (ms): it is made of the whole tiles that end at
   * or before t − label_delay. Required by `fraud_count` and `fraud_rate`, whose labels arrive
   * days after the events they judge; allowed with tumbling and hopping windows.
   */
  label_delay?: number;
}

/** A value computed from other features and the event's numeric fields, e.g. `amount / max(mean_amount_30d, 1)`. */
export interface DerivedFeatureSpec extends FeatureBase {
  expression: string;
}

export type FeatureSpec = AggregateFeatureSpec | DerivedFeatureSpec;

export const isDerived = (spec: FeatureSpec): spec is DerivedFeatureSpec => 'expression' in spec;

/** Numeric event fields a feature may aggregate or an expression may read. */
export const NUMERIC_FIELDS = ['amount', 'event_time'] as const;
/** Text event fields a feature may key, filter or count distinct values on. */
export const TEXT_FIELDS = ['event_type', 'user_id', 'session_id', 'ip_address', 'country', 'channel', 'currency', 'merchant_id', 'device_id'] as const;

export class FeatureSpecError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FeatureSpecError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d", "1h", "90s", "250ms" or a number of milliseconds. */
export function parseDuration(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  const m = typeof value === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(value.trim()) : null;
  if (m === null || Number(m[1]) <= 0) throw new FeatureSpecError(path, `expected a positive duration such as "30d", "1h", "90s" or a number of milliseconds, got ${JSON.stringify(value)}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

const NAME = /^[a-z][a-z0-9_]*$/;
const NEEDS_FIELD: ReadonlySet<Aggregation> = new Set(['sum', 'mean', 'min', 'max', 'std', 'distinct', 'last']);
/** Aggregations of fraud labels: they read a window that ends a label delay before the event. */
export const LABEL_AGGREGATIONS: ReadonlySet<Aggregation> = new Set(['fraud_count', 'fraud_rate']);

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FeatureSpecError(path, 'expected an object');
  return value as Record<string, unknown>;
}

function only(o: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new FeatureSpecError(`${path}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`);
}

function textField(value: unknown, path: string): string {
  if (typeof value !== 'string' || !(TEXT_FIELDS as readonly string[]).includes(value)) throw new FeatureSpecError(path, `expected an event field of ${TEXT_FIELDS.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

function parseWindow(value: unknown, path: string): WindowSpec {
  const w = object(value, path);
  switch (w.kind) {
    case 'tumbling':
      only(w, ['kind', 'size'], path);
      return { kind: 'tumbling', size: parseDuration(w.size, `${path}.size`) };
    case 'hopping':
    case 'sliding': {
      only(w, ['kind', 'size', 'hop'], path);
      const size = parseDuration(w.size, `${path}.size`);
      const hop = parseDuration(w.hop, `${path}.hop`);
      if (size % hop !== 0) throw new FeatureSpecError(`${path}.hop`, `the size (${size} ms) must be a whole number of hops (${hop} ms)`);
      if (size / hop > 1000) throw new FeatureSpecError(`${path}.hop`, `at most 1,000 hops per window (got ${size / hop}); choose a longer hop`);
      return { kind: 'hopping', size, hop };
    }
    case 'session':
      only(w, ['kind', 'gap'], path);
      return { kind: 'session', gap: parseDuration(w.gap, `${path}.gap`) };
    default:
      throw new FeatureSpecError(`${path}.kind`, `expected tumbling, hopping (or sliding) or session, got ${JSON.stringify(w.kind)}`);
  }
}

function parseOne(value: unknown, path: string): FeatureSpec {
  const o = object(value, path);
  if (typeof o.name !== 'string' || !NAME.test(o.name)) throw new FeatureSpecError(`${path}.name`, 'expected a name of lower-case letters, digits and _ starting with a letter');
  if (o.doc !== undefined && typeof o.doc !== 'string') throw new FeatureSpecError(`${path}.doc`, 'expected text');
  if (o.transform !== undefined && o.transform !== 'none' && o.transform !== 'log1p') throw new FeatureSpecError(`${path}.transform`, `expected none or log1p, got ${JSON.stringify(o.transform)}`);
  const doc = { ...(o.doc === undefined ? {} : { doc: o.doc }), ...(o.transform === undefined ? {} : { transform: o.transform as Transform }) };
  if ('expression' in o) {
    only(o, ['name', 'doc', 'transform', 'expression'], path);
    if (typeof o.expression !== 'string' || o.expression.trim() === '') throw new FeatureSpecError(`${path}.expression`, 'expected an expression');
    return { name: o.name, ...doc, expression: o.expression };
  }
  only(o, ['name', 'doc', 'transform', 'entity', 'filter', 'window', 'aggregate', 'field', 'default', 'label_delay'], path);
  const entityList = typeof o.entity === 'string' ? [o.entity] : o.entity;
  if (!Array.isArray(entityList) || entityList.length === 0) throw new FeatureSpecError(`${path}.entity`, 'expected an event field or a list of them');
  const entity = entityList.map((f, i) => textField(f, `${path}.entity[${i}]`));
  let filter: Record<string, string[]> | undefined;
  if (o.filter !== undefined) {
    filter = {};
    for (const [field, values] of Object.entries(object(o.filter, `${path}.filter`))) {
      textField(field, `${path}.filter.${field}`);
      const list = typeof values === 'string' ? [values] : values;
      if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) throw new FeatureSpecError(`${path}.filter.${field}`, 'expected a value or a list of values');
      filter[field] = list as string[];
    }
  }
  if (!(AGGREGATIONS as readonly string[]).includes(o.aggregate as string)) throw new FeatureSpecError(`${path}.aggregate`, `expected one of ${AGGREGATIONS.join(', ')}, got ${JSON.stringify(o.aggregate)}`);
  const aggregate = o.aggregate as Aggregation;
  let field: string | undefined;
  if (NEEDS_FIELD.has(aggregate)) {
    if (o.field === undefined) throw new FeatureSpecError(`${path}.field`, `${aggregate} needs the field it aggregates`);
    if (aggregate === 'distinct') field = typeof o.field === 'string' && (NUMERIC_FIELDS as readonly string[]).includes(o.field) ? o.field : textField(o.field, `${path}.field`);
    else if (typeof o.field !== 'string' || !(NUMERIC_FIELDS as readonly string[]).includes(o.field)) throw new FeatureSpecError(`${path}.field`, `${aggregate} needs a numeric field (${NUMERIC_FIELDS.join(', ')}), got ${JSON.stringify(o.field)}`);
    else field = o.field;
  } else if (o.field !== undefined) {
    throw new FeatureSpecError(`${path}.field`, `${aggregate} takes no field`);
  }
  if (o.default !== undefined && (typeof o.default !== 'number' || !Number.isFinite(o.default))) throw new FeatureSpecError(`${path}.default`, 'expected a finite number');
  const window = parseWindow(o.window, `${path}.window`);
  const spec: AggregateFeatureSpec = { name: o.name, ...doc, entity, window, aggregate, default: (o.default as number | undefined) ?? 0 };
  if (filter !== undefined) spec.filter = filter;
  if (field !== undefined) spec.field = field;
  if (o.label_delay === undefined) {
    if (LABEL_AGGREGATIONS.has(aggregate)) throw new FeatureSpecError(`${path}.label_delay`, `${aggregate} needs a label_delay: how long before the event its window ends (e.g. "7d"), since labels arrive after the events they judge`);
  } else {
    if (window.kind === 'session') throw new FeatureSpecError(`${path}.label_delay`, 'a label delay needs a tumbling or hopping window');
    spec.label_delay = o.label_delay === 0 || o.label_delay === '0' ? 0 : parseDuration(o.label_delay, `${path}.label_delay`);
  }
  return spec;
}

/**
 * Validate feature specs given as data (parsed JSON or YAML, or written in code): a list, or an
 * object with a `features` list. Errors name the offending path, e.g. `features[3].window.hop`.
 */
export function parseFeatureSpecs(value: unknown): FeatureSpec[] {
  const list = Array.isArray(value) ? value : object(value, '(root)').features;
  if (!Array.isArray(list) || list.length === 0) throw new FeatureSpecError('features', 'expected a non-empty list of features');
  const specs = list.map((v, i) => parseOne(v, `features[${i}]`));
  const seen = new Set<string>();
  specs.forEach((s, i) => {
    if (seen.has(s.name)) throw new FeatureSpecError(`features[${i}].name`, `"${s.name}" is declared twice`);
    seen.add(s.name);
  });
  return specs;
}

/** Feature specs from the text of a JSON or YAML file. */
export function parseFeatureSpecText(text: string): FeatureSpec[] {
  let value: unknown;
  try {
    value = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new FeatureSpecError('(file)', `not valid YAML or JSON: ${(err as Error).message}`);
  }
  return parseFeatureSpecs(value);
}
