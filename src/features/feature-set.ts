// A feature set compiled from specs: the one function that turns an event and keyed state into a feature vector.
import { createHash } from 'node:crypto';
import { compileExpression } from 'filtrex';
import type { RtdsEvent } from '../contracts/index.ts';
import { isDerived, FeatureSpecError, TEXT_FIELDS, type AggregateFeatureSpec, type Aggregation, type FeatureSpec, type Transform, type WindowSpec } from './spec.ts';
import { DistinctValues } from './distinct.ts';
import { horizonOf, newWindowState, Tally, type WindowState } from './window-state.ts';

/** Entities whose windows are checked for expiry per event: expired state goes in a steady trickle. */
const SWEEP_PER_EVENT = 4;
const KEY_SEPARATOR = '\u001f';

/** Features of one (entity, filter, window, field): they share one state per entity. */
interface Group {
  entity: readonly (keyof RtdsEvent)[];
  filter: readonly { field: keyof RtdsEvent; values: ReadonlySet<string> }[];
  window: WindowSpec;
  /** Numeric field aggregated, or text field counted distinct. */
  field: string | undefined;
  numeric: boolean;
  /** Read before the event joins its window (last, time_since_last: "the previous one"), and after. */
  before: { index: number; kind: Aggregation; fallback: number }[];
  after: { index: number; kind: Aggregation; fallback: number }[];
}

interface Derived {
  index: number;
  evaluate: (data: Record<string, unknown>) => unknown;
}

interface EntityState {
  window: WindowState;
}

/** One partition's keyed feature state. */
export class FeatureState {
  /** Arrival counter: orders events with equal event time. */
  seq = 0;
  readonly entities: Map<string, EntityState>[];
  private readonly cursors: (IterableIterator<[string, EntityState]> | undefined)[];

  constructor(groups: number) {
    this.entities = Array.from({ length: groups }, () => new Map());
    this.cursors = new Array(groups).fill(undefined);
  }

  /** Check a few entities of each group for expiry, round-robin: state of idle entities goes away. */
  sweep(earliest: number): void {
    for (let g = 0; g < this.entities.length; g++) {
      const map = this.entities[g]!;
      for (let n = 0; n < SWEEP_PER_EVENT && map.size > 0; n++) {
        let next = this.cursors[g]?.next();
        if (next === undefined || next.done === true) {
          this.cursors[g] = map.entries();
          next = this.cursors[g]!.next();
          if (next.done === true) break;
        }
        const [key, entity] = next.value;
        if (entity.window.evict(earliest)) map.delete(key);
      }
    }
  }

  /** Entities held (over all groups) and their approximate bytes: the state's memory report. */
  size(): { entities: number; bytes: number } {
    let entities = 0;
    let bytes = 0;
    for (const map of this.entities) {
      entities += map.size;
      for (const [key, e] of map) bytes += 80 + key.length * 2 + e.window.bytes;
    }
    return { entities, bytes };
  }
}

/** A feature as a model input: its name, how the model sees it, what it means. */
export interface FeatureColumn {
  name: string;
  transform: Transform;
  doc: string;
}

/** How an event meets the state: its arrival, and whether it is later than the allowed lateness. */
export interface EventTiming {
  /** Later than the watermark minus the allowed lateness: decided, but it joins no window. */
  tooLate: boolean;
  /** The earliest event time still admitted (watermark − allowed lateness): state before it can go. */
  earliest: number;
}

const FUNCTIONS = { log1p: Math.log1p, exp: Math.exp, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, sign: Math.sign };
const RESERVED = new Set(['and', 'or', 'not', 'if', 'then', 'else', 'in', 'mod', 'true', 'false', 'abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'exists', 'empty', ...Object.keys(FUNCTIONS)]);
/** Event values an expression may read besides the features. */
const EXPRESSION_FIELDS = ['amount', 'event_time', 'hour_of_day', 'day_of_week', 'pi', ...TEXT_FIELDS];

function compileDerived(spec: { name: string; expression: string }, path: string, known: ReadonlySet<string>): Derived['evaluate'] {
  // Identifiers outside quoted text must name an earlier feature or an event value.
  const bare = spec.expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '');
  for (const id of bare.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    if (!RESERVED.has(id) && !known.has(id) && !EXPRESSION_FIELDS.includes(id)) {
      throw new FeatureSpecError(`${path}.expression`, `"${id}" is neither an earlier feature nor one of ${EXPRESSION_FIELDS.join(', ')}`);
    }
  }
  try {
    return compileExpression(spec.expression, { extraFunctions: FUNCTIONS });
  } catch (err) {
    throw new FeatureSpecError(`${path}.expression`, (err as Error).message.split('\n').slice(0, 3).join(' '));
  }
}

const DAY = 86_400_000;

/**
 * Compiled feature specs. `compute` is the only path from events to feature values: the
 * processor calls it online, and training replays history through the same processor step.
 */
export class FeatureSet {
  readonly names: readonly string[];
  readonly columns: readonly FeatureColumn[];
  /** Changes whenever a spec changes: models record it and refuse vectors of another set. */
  readonly version: string;
  /** The longest a window reaches back: state older than this behind the earliest admitted time is gone. */
  readonly horizonMs: number;
  private readonly groups: Group[] = [];
  private readonly derived: Derived[] = [];
  private readonly aggregateIndexes: number[] = [];

  constructor(readonly specs: readonly FeatureSpec[]) {
    this.names = specs.map((s) => s.name);
    this.columns = specs.map((s) => ({ name: s.name, transform: s.transform ?? 'none', doc: s.doc ?? '' }));
    this.version = `features-${createHash('sha256').update(JSON.stringify(specs)).digest('hex').slice(0, 12)}`;
    const byKey = new Map<string, Group>();
    const byBase = new Map<string, Group>();
    const known = new Set<string>();
    specs.forEach((spec, index) => {
      const path = `features[${index}]`;
      if (isDerived(spec)) this.derived.push({ index, evaluate: compileDerived(spec, path, known) });
      else {
        this.attach(byKey, byBase, spec, index);
        this.aggregateIndexes.push(index);
      }
      known.add(spec.name);
    });
    this.horizonMs = Math.max(0, ...this.groups.map((g) => horizonOf(g.window)));
  }

  /** Position of a feature in the vector. */
  indexOf(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`unknown feature "${name}"`);
    return i;
  }

  /** Features over the same entity, filter, window and field share a group; counts and times need no field and join any. */
  private attach(byKey: Map<string, Group>, byBase: Map<string, Group>, spec: AggregateFeatureSpec, index: number): void {
    const filter = Object.entries(spec.filter ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const base = JSON.stringify([spec.entity, filter, spec.window]);
    const key = `${base}|${spec.field ?? ''}`;
    let group = spec.field === undefined ? byBase.get(base) : byKey.get(key);
    if (group === undefined) {
      group = {
        entity: spec.entity as (keyof RtdsEvent)[],
        filter: filter.map(([field, values]) => ({ field: field as keyof RtdsEvent, values: new Set(values) })),
        window: spec.window,
        field: spec.field,
        numeric: spec.field !== undefined && spec.aggregate !== 'distinct',
        before: [],
        after: [],
      };
      byKey.set(key, group);
      if (!byBase.has(base)) byBase.set(base, group);
      this.groups.push(group);
    }
    const output = { index, kind: spec.aggregate, fallback: spec.default };
    if (spec.aggregate === 'last' || spec.aggregate === 'time_since_last') group.before.push(output);
    else group.after.push(output);
  }

  newState(): FeatureState {
    return new FeatureState(this.groups.length);
  }

  /** The event's features from `state`, which it then joins (unless too late). */
  compute(state: FeatureState, event: RtdsEvent, timing: EventTiming): Float64Array {
    const v = new Float64Array(this.names.length);
    const t = event.event_time;
    const seq = state.seq++;
    for (let g = 0; g < this.groups.length; g++) {
      const group = this.groups[g]!;
      const key = entityKey(event, group.entity);
      if (key === undefined) {
        for (const o of group.before) v[o.index] = o.fallback;
        for (const o of group.after) v[o.index] = o.fallback;
        continue;
      }
      const map = state.entities[g]!;
      let entity = map.get(key);
      if (group.before.length > 0) read(group.before, entity?.window.window(t, timing.earliest) ?? [], t, v);
      if (!timing.tooLate && passes(event, group)) {
        if (entity === undefined) {
          entity = { window: newWindowState(group.window) };
          map.set(key, entity);
        }
        const raw = group.field === undefined ? undefined : event[group.field as keyof RtdsEvent];
        entity.window.add({
          time: t,
          seq,
          value: group.numeric && typeof raw === 'number' ? raw : undefined,
          distinct: !group.numeric && raw !== undefined ? String(raw) : undefined,
        });
        entity.window.evict(timing.earliest);
      }
      if (group.after.length > 0) read(group.after, entity?.window.window(t, timing.earliest) ?? [], t, v);
    }
    if (this.derived.length > 0) this.derive(event, v);
    state.sweep(timing.earliest);
    return v;
  }

  private derive(event: RtdsEvent, v: Float64Array): void {
    const t = event.event_time;
    const data: Record<string, unknown> = {
      amount: event.amount ?? 0,
      event_time: t,
      hour_of_day: ((((t % DAY) + DAY) % DAY) / 3_600_000),
      day_of_week: (Math.floor(t / DAY) + 4) % 7, // 1970-01-01 was a Thursday; 0 = Sunday
      pi: Math.PI,
    };
    for (const f of TEXT_FIELDS) data[f] = event[f] ?? '';
    // A name means an earlier feature, else an event value: derived features enter as they are computed.
    for (const i of this.aggregateIndexes) data[this.names[i]!] = v[i];
    for (const d of this.derived) {
      let out: unknown;
      try {
        out = d.evaluate(data);
      } catch {
        out = undefined; // e.g. arithmetic on a missing text field: no value, like a division by zero
      }
      const value = typeof out === 'boolean' ? Number(out) : typeof out === 'number' && Number.isFinite(out) ? out : 0;
      v[d.index] = value;
      data[this.names[d.index]!] = value;
    }
  }
}

function entityKey(event: RtdsEvent, fields: readonly (keyof RtdsEvent)[]): string | undefined {
  if (fields.length === 1) {
    const value = event[fields[0]!];
    return value === undefined ? undefined : String(value);
  }
  let key = '';
  for (let i = 0; i < fields.length; i++) {
    const value = event[fields[i]!];
    if (value === undefined) return undefined;
    key += i === 0 ? String(value) : KEY_SEPARATOR + String(value);
  }
  return key;
}

function passes(event: RtdsEvent, group: Group): boolean {
  for (const f of group.filter) {
    const value = event[f.field];
    if (value === undefined || !f.values.has(String(value))) return false;
  }
  return true;
}

function read(outputs: Group['after'], parts: Tally[], t: number, v: Float64Array): void {
  let merged: Tally | undefined;
  for (const o of outputs) {
    let value: number | undefined;
    if (o.kind === 'distinct') {
      const sets = parts.flatMap((p) => (p.distinct === undefined ? [] : [p.distinct]));
      value = sets.length === 0 ? 0 : DistinctValues.countOf(sets);
    } else {
      if (merged === undefined) {
        if (parts.length === 1) merged = parts[0]!;
        else {
          merged = new Tally();
          for (const p of parts) merged.merge(p);
        }
      }
      value = readTally(o.kind, merged, t);
    }
    v[o.index] = value ?? o.fallback;
  }
}

function readTally(kind: Exclude<Aggregation, 'distinct'>, a: Tally, t: number): number | undefined {
  switch (kind) {
    case 'count':
      return a.count;
    case 'sum':
      return a.sum;
    case 'mean':
      return a.n === 0 ? undefined : a.mean;
    case 'min':
      return a.n === 0 ? undefined : a.min;
    case 'max':
      return a.n === 0 ? undefined : a.max;
    case 'std':
      return a.n === 0 ? undefined : Math.sqrt(Math.max(0, a.m2 / a.n));
    case 'last':
      return a.n === 0 ? undefined : a.lastValue;
    case 'time_since_last':
      // Seconds; an earlier-processed event that happened after this one is "no time ago".
      return a.count === 0 ? undefined : Math.max(0, t - a.latestTime) / 1000;
  }
}
