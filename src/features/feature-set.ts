// A feature set compiled from specs: the one function that turns an event and keyed state into a feature vector.
import { createHash } from 'node:crypto';
import type { LabelledEvent, RtdsEvent } from '../contracts/index.ts';
import { compileStep, type CompiledStep, type StepRuntime } from './compiled-step.ts';
import { DerivedFeatures, type FeatureEngine } from './derived-features.ts';
import { isDerived, type AggregateFeatureSpec, type Aggregation, type FeatureSpec, type Transform } from './spec.ts';
import { PendingLabels } from './pending-labels.ts';
import { windowBytes, windowKind, TallyLayout, TiledWindows, WindowRead, type Slots, type WindowHolder, type WindowKind } from './window-state.ts';

/** Narrowest expiry bucket (event time): an entity is checked at most this long after it is due. */
const MIN_BUCKET_MS = 1000;
const KEY_SEPARATOR = '\u001f';
/** How long (event time) an entity has had no event when the expiry sweep compacts its windows. */
const COMPACT_IDLE_MS = 3_600_000;
/**
 * How much later than its next window's expiry the sweep may check an entity, to drop every window
 * expiring meanwhile in the same visit. A check reads an idle entity's state afresh from memory,
 * which costs more than what it drops: with the slack, a user of the default set is visited three
 * times as its windows run out (after the hour's, the day's and the month's), not five (the
 * minute's and the session's too). A window goes at most this much later than its expiry's bucket
 * — a short window's block, while its entity holds longer windows anyway.
 */
const CHECK_SLACK_MS = 2 * 3_600_000;

interface Output {
  index: number;
  kind: Aggregation;
  fallback: number;
  /** A distinct count's field, by position in its group's `distinct` (0 for other aggregations). */
  field: number;
}

/** Features of one (entity, filter, window, numeric field), with the distinct counts over the same window: they share one window per entity. */
interface Group {
  /** Position of its window among those of its entity kind. */
  slot: number;
  filter: readonly { field: keyof RtdsEvent; values: ReadonlySet<string> }[];
  window: WindowKind;
  /** Numeric field aggregated, if any. */
  field: keyof RtdsEvent | undefined;
  /** Fields whose distinct values are counted. */
  distinct: readonly (keyof RtdsEvent)[];
  /** Read before the event joins its window (last, time_since_last: "the previous one"), and after. */
  before: Output[];
  after: Output[];
  read: WindowRead;
  /** The window, when it counts fraud labels (a label delay and a fraud aggregation). */
  labels: TiledWindows | undefined;
  /**
   * For a combination such as [user_id, device_id] over a tiled window: the fields after the first,
   * whose values key a sub-entity inside the first field's entity (its window is keyed).
   */
  sub: readonly (keyof RtdsEvent)[] | undefined;
}

/** Groups keyed by the same entity fields: an entity of the kind holds one window per group. */
interface EntityKind {
  fields: readonly (keyof RtdsEvent)[];
  groups: Group[];
  /**
   * After its latest event an entity's windows all become unreachable within `reach`; it is first
   * checked `firstCheck` after it, when its first window becomes unreachable (with those following within CHECK_SLACK_MS).
   */
  reach: number;
  firstCheck: number;
  /** Width of its expiry buckets: entities are checked in batches of this much event time. */
  bucketMs: number;
  /** Its groups that count fraud labels. */
  labelled: Group[];
  /** The stage whose state holds it: the one keyed by its fields. */
  stage: number;
}

/**
 * A stage of the set: the entity fields its state is keyed by (and partitioned by, so that each
 * entity's state is whole in one partition), and the features it computes. Stage 0 is keyed by
 * `user_id`, the events log's key, whether or not any feature is; each other entity kind is a
 * stage of its own (see docs/features.md, "Entities other than the user").
 */
export interface FeatureStage {
  key: readonly (keyof RtdsEvent)[];
  /** `merchant_id`, or `user_id+device_id` for a combination. */
  name: string;
  /** Names of the aggregate features it computes. */
  features: readonly string[];
  /** Whether any of them counts fraud labels: verdicts are then routed to it. */
  usesLabels: boolean;
  /** How far behind its latest event an event still changes one of its values (window and partly filled tile). */
  reachMs: number;
}

/**
 * An entity's windows, one per group of its kind (undefined until an event joins it), the
 * distinct sets of those that count distinct values, and its latest event time.
 */
interface EntityWindows extends WindowHolder {
  latest: number;
  /** The expiry bucket it is due in; entries of it in other buckets are stale. */
  due: number;
}

/** One partition's keyed feature state. */
export class FeatureState {
  /** Arrival counter: orders events with equal event time. */
  seq = 0;
  /** Per entity kind: the entities. */
  readonly entities: Map<string, EntityWindows>[];
  /**
   * Per entity kind: each entity's key once, in the bucket of event time when it is next due for
   * expiry (its shortest-lived window becomes unreachable), and the next bucket to check.
   */
  readonly due: Map<number, string[]>[];
  readonly dueCursor: number[];
  /** Labels received and not yet known at the latest event time. */
  readonly pending = new PendingLabels();
  /** Events counted as fraud, with their event time: a later verdict of "not fraud" uncounts them. */
  readonly fraud = new Map<string, number>();
  /** Size of `fraud` at which events beyond reach are forgotten. */
  fraudPurgeAt = 1024;

  constructor(kinds: number) {
    this.entities = Array.from({ length: kinds }, () => new Map());
    this.due = Array.from({ length: kinds }, () => new Map());
    this.dueCursor = new Array<number>(kinds).fill(NaN);
  }

  /**
   * Entities held (over all kinds) and their approximate bytes: the state's memory report. With
   * `sample`, bytes are extrapolated from at most that many entities of each kind.
   */
  size(sample = Infinity): { entities: number; bytes: number } {
    let entities = 0;
    let bytes = 0;
    for (const map of this.entities) {
      entities += map.size;
      let seen = 0;
      let sampled = 0;
      for (const [key, entity] of map) {
        if (seen === sample) break;
        seen++;
        sampled += 64 + key.length * 2 + 40 + entity.windows.length * 8;
        entity.windows.forEach((w, i) => {
          if (w !== undefined) sampled += windowBytes(w, entity.sets?.[i], entity.unions?.[i]);
        });
      }
      bytes += seen === 0 ? 0 : (sampled / seen) * map.size;
    }
    // A pending label holds its event (≈ 400 bytes); a counted one an id and a time.
    bytes += this.pending.size * 400 + this.fraud.size * 80;
    return { entities, bytes: Math.round(bytes) };
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
  /**
   * Later than the watermark minus the allowed lateness: decided with the windows it would have
   * had at its own time, but it joins none.
   */
  tooLate: boolean;
  /**
   * The state's horizon: what no event at or after it can read may go. Up to it every window is
   * whole; a too-late event before it has windows reaching into history no longer held, whose
   * features are unknown (NaN).
   */
  earliest: number;
}

/**
 * Compiled feature specs. `compute` is the only path from events to feature values: the
 * processor calls it online, and training replays history through the same processor step.
 * The `compiled` engine (the default) runs each stage as generated JavaScript with running
 * window tallies; the `interpreted` one walks the plan per event, and is the reference the
 * oracle tests hold the compiled one to (docs/features.md, "How a set is compiled").
 */
export class FeatureSet {
  /** Names of every feature set built in this process, by version: how stored vectors are read back by name. */
  private static readonly known = new Map<string, readonly string[]>();

  static namesOf(version: string): readonly string[] | undefined {
    return FeatureSet.known.get(version);
  }

  readonly names: readonly string[];
  readonly columns: readonly FeatureColumn[];
  /** Changes whenever a spec changes: models record it and refuse vectors of another set. */
  readonly version: string;
  /**
   * How far behind the earliest admitted time an event can still matter (a window and its
   * partly filled tile): events older than that no longer change any value.
   */
  readonly reachMs: number;
  /** Whether any feature counts fraud labels: only then are labels routed to the state. */
  readonly usesLabels: boolean;
  /** The state's stages: the user's first, then one per other entity kind, in the order specs name them. */
  readonly stages: readonly FeatureStage[];
  private readonly kinds: EntityKind[] = [];
  /** Per feature, the stage that completes it (see stageOf). */
  private readonly completedIn: readonly number[];
  /** Per stage, the indices of its entity kinds. */
  private readonly stageKinds: number[][] = [];
  private readonly allKinds: number[];
  private readonly derived: DerivedFeatures;
  readonly engine: FeatureEngine;
  /** The compiled engine's steps: one per stage, and one of every kind (`compute`). */
  private readonly steps: CompiledStep<FeatureState>[] = [];
  private readonly allStep: CompiledStep<FeatureState> | undefined;

  constructor(
    readonly specs: readonly FeatureSpec[],
    options: { engine?: FeatureEngine } = {},
  ) {
    this.engine = options.engine ?? 'compiled';
    this.names = specs.map((s) => s.name);
    this.columns = specs.map((s) => ({ name: s.name, transform: s.transform ?? 'none', doc: s.doc ?? '' }));
    this.version = `features-${createHash('sha256').update(JSON.stringify(specs)).digest('hex').slice(0, 12)}`;
    FeatureSet.known.set(this.version, this.names);
    const aggregates: [AggregateFeatureSpec, number][] = [];
    specs.forEach((spec, index) => {
      if (!isDerived(spec)) aggregates.push([spec, index]);
    });
    this.derived = new DerivedFeatures(specs, this.engine);
    this.plan(aggregates);
    this.reachMs = Math.max(0, ...this.kinds.map((k) => k.reach));
    this.usesLabels = this.kinds.some((k) => k.labelled.length > 0);
    this.allKinds = this.kinds.map((_, k) => k);
    this.stages = this.planStages();
    this.completedIn = this.planCompletion();
    if (this.engine === 'compiled') {
      const runtime: StepRuntime = {
        applyLabels: (state, t, earliest, kinds) => this.applyLabels(state as FeatureState, t, earliest, kinds),
        sweep: (state, earliest, kinds) => this.sweep(state as FeatureState, earliest, kinds),
        schedule: (state, k, key, entity, at) => this.schedule(state as FeatureState, k, key, entity as EntityWindows, at),
        subKey,
      };
      this.steps = this.stageKinds.map((ks) => compileStep<FeatureState>(this.kinds, ks, runtime));
      this.allStep = compileStep<FeatureState>(this.kinds, this.allKinds, runtime);
    }
  }

  /**
   * The stage that completes each feature: an aggregate's own, an expression's the latest of those
   * it reads (0 when it reads only the event; the last when it reads `partial_history`). Stage 0's
   * features are the user stage's alone.
   */
  stageOf(name: string): number {
    return this.completedIn[this.indexOf(name)]!;
  }

  private planCompletion(): number[] {
    const stages = new Array<number>(this.names.length).fill(0);
    this.kinds.forEach((kind) => {
      for (const g of kind.groups) for (const o of [...g.before, ...g.after]) stages[o.index] = kind.stage;
    });
    // Expressions read earlier features only: one pass in order settles them. One reading
    // `partial_history` hears from every stage (any may have read history it no longer holds).
    const last = this.stages.length - 1;
    this.specs.forEach((spec, i) => {
      if (!isDerived(spec)) return;
      stages[i] = /\bpartial_history\b/.test(spec.expression) ? last : Math.max(0, ...(this.derived.readsOf(i) ?? []).map((r) => stages[r]!));
    });
    return stages;
  }

  /** Kinds keyed by `user_id` are stage 0; every other kind gets a stage of its own. */
  private planStages(): FeatureStage[] {
    const keys: (readonly (keyof RtdsEvent)[])[] = [['user_id']];
    // Stages in the order the specs first name their entities.
    const first = (kind: EntityKind): number => Math.min(...kind.groups.flatMap((g) => [...g.before, ...g.after].map((o) => o.index)));
    const order = this.kinds.map((_, k) => k).sort((a, b) => first(this.kinds[a]!) - first(this.kinds[b]!));
    for (const k of order) {
      const kind = this.kinds[k]!;
      const name = kind.fields.join('+');
      let stage = keys.findIndex((key) => key.join('+') === name);
      if (stage < 0) stage = keys.push(kind.fields) - 1;
      kind.stage = stage;
      (this.stageKinds[stage] ??= []).push(k);
    }
    return keys.map((key, stage) => {
      const kinds = (this.stageKinds[stage] ??= []).map((k) => this.kinds[k]!);
      const groups = kinds.flatMap((kind) => kind.groups);
      return {
        key,
        name: key.join('+'),
        features: groups.flatMap((g) => [...g.before, ...g.after]).sort((a, b) => a.index - b.index).map((o) => this.names[o.index]!),
        usesLabels: kinds.some((kind) => kind.labelled.length > 0),
        reachMs: Math.max(0, ...kinds.map((kind) => kind.reach)),
      };
    });
  }

  /**
   * Features over the same entity, filter, window and numeric field share a group; counts, times
   * and distinct counts need no numeric field and join any group over the same entity, filter and
   * window, whose slots then keep each distinct field's values beside the numbers. Each group's
   * tallies keep just what its features read.
   */
  private plan(aggregates: readonly [AggregateFeatureSpec, number][]): void {
    const members = new Map<string, { spec: AggregateFeatureSpec; filter: [string, string[]][]; field: string | undefined; distinct: string[]; outputs: Output[]; aggregations: Set<Aggregation> }>();
    const byBase = new Map<string, string>();
    // Numeric aggregates first, so that the rest join their group whatever the order of the specs.
    const numeric = (spec: AggregateFeatureSpec): boolean => spec.field !== undefined && spec.aggregate !== 'distinct';
    const numericFirst = [...aggregates].sort(([a], [b]) => Number(numeric(b)) - Number(numeric(a)));
    for (const [spec, index] of numericFirst) {
      const filter = Object.entries(spec.filter ?? {}).sort(([a], [b]) => a.localeCompare(b));
      const base = JSON.stringify([spec.entity, filter, spec.window, spec.label_delay]);
      const key = numeric(spec) ? `${base}|${spec.field}` : (byBase.get(base) ?? `${base}|`);
      let group = members.get(key);
      if (group === undefined) {
        group = { spec, filter, field: numeric(spec) ? spec.field : undefined, distinct: [], outputs: [], aggregations: new Set() };
        members.set(key, group);
        if (!byBase.has(base)) byBase.set(base, key);
      }
      let field = 0;
      if (spec.aggregate === 'distinct') {
        field = group.distinct.indexOf(spec.field!);
        if (field < 0) field = group.distinct.push(spec.field!) - 1;
      }
      group.outputs.push({ index, kind: spec.aggregate, fallback: spec.default, field });
      group.aggregations.add(spec.aggregate);
    }
    const kinds = new Map<string, EntityKind>();
    for (const { spec, filter, field, distinct, outputs, aggregations } of members.values()) {
      // A combination over a tiled window lives inside its first field's entity: a user's countries
      // cost a few numbers per tile in the user's state rather than an entity each.
      const nested = spec.entity.length > 1 && spec.window.kind !== 'session';
      const fields = (nested ? spec.entity.slice(0, 1) : spec.entity) as (keyof RtdsEvent)[];
      const entityKey = JSON.stringify(fields);
      let kind = kinds.get(entityKey);
      if (kind === undefined) {
        kind = { fields, groups: [], reach: 0, firstCheck: Infinity, bucketMs: 0, labelled: [], stage: 0 };
        kinds.set(entityKey, kind);
        this.kinds.push(kind);
      }
      const layout = new TallyLayout(aggregations, field !== undefined, distinct.length);
      const previousOnly = (o: Output): boolean => o.kind === 'last' || o.kind === 'time_since_last';
      const window = windowKind(spec.window, layout, spec.label_delay, nested, this.engine === 'compiled');
      const group: Group = {
        slot: kind.groups.length,
        filter: filter.map(([f, values]) => ({ field: f as keyof RtdsEvent, values: new Set(values) })),
        window,
        field: field as keyof RtdsEvent | undefined,
        distinct: distinct as (keyof RtdsEvent)[],
        before: outputs.filter(previousOnly),
        after: outputs.filter((o) => !previousOnly(o)),
        read: new WindowRead(layout),
        labels: layout.fraud >= 0 && window instanceof TiledWindows ? window : undefined,
        sub: nested ? (spec.entity.slice(1) as (keyof RtdsEvent)[]) : undefined,
      };
      kind.groups.push(group);
      if (group.labels !== undefined) kind.labelled.push(group);
    }
    for (const kind of this.kinds) {
      const reaches = kind.groups.map((g) => g.window.reachMs);
      kind.reach = Math.max(...reaches);
      const first = Math.min(...reaches);
      kind.firstCheck = reaches.reduce((check, reach) => gathered(check, reach, first), first);
      // As wide as the shortest window's reach: a check comes at most that much after it is due.
      kind.bucketMs = Math.max(MIN_BUCKET_MS, first);
    }
  }

  /** Whether the derived expressions run as generated JavaScript (the compiled engine, unless an expression is beyond its compiler). */
  get expressionsCompiled(): boolean {
    return this.derived.compiled;
  }

  /** Groups of features that share one window per entity (same entity, filter, window and field). */
  get groupCount(): number {
    return this.kinds.reduce((n, k) => n + k.groups.length, 0);
  }

  /** Position of a feature in the vector. */
  indexOf(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`unknown feature "${name}"`);
    return i;
  }

  newState(): FeatureState {
    return new FeatureState(this.kinds.length);
  }

  /**
   * Hand `state` a label of an event it has processed. It counts for the events at or after its
   * `labeled_at` (in event time): online a label is applied when it is both received and known,
   * in training when it is known, so both see it from the same event on when labels are received
   * by the time they are known.
   */
  label(state: FeatureState, label: LabelledEvent): void {
    if (this.usesLabels) state.pending.push(label);
  }

  /**
   * The event's features from `state`, which it then joins (unless too late). A too-late event
   * reads each window as if it had joined it at its own time, leaving the state as it was; a
   * window reaching before the horizon (`timing.earliest`) is not whole, and its features are
   * unknown: NaN, as are the derived features that read them (see docs/features.md).
   */
  compute(state: FeatureState, event: RtdsEvent, timing: EventTiming): Float64Array {
    const v = new Float64Array(this.names.length);
    this.derive(event, v, this.allStep === undefined ? this.advance(state, event, timing, this.allKinds, v) : this.allStep(state, event, timing, v));
    return v;
  }

  /**
   * Stage `stage`'s part of `compute`: its aggregates of the event into `v`, from and into
   * `state` (the stage's partition). True when one of them is unknown. The vector is complete
   * once every stage has run and `derive` filled the expressions.
   */
  computeStage(stage: number, state: FeatureState, event: RtdsEvent, timing: EventTiming, v: Float64Array): boolean {
    const step = this.steps[stage];
    return step === undefined ? this.advance(state, event, timing, this.stageKinds[stage]!, v) : step(state, event, timing, v);
  }

  /** Stage `stage`'s aggregates for an event without its key (say, no merchant): their defaults. */
  stageDefaults(stage: number, v: Float64Array): void {
    for (const k of this.stageKinds[stage]!) for (const g of this.kinds[k]!.groups) fallBack(g, v);
  }

  /** The value of stage `stage`'s key in the event (what partitions its state); undefined when a field is missing. */
  stageKey(stage: number, event: RtdsEvent): string | undefined {
    return entityKey(event, this.stages[stage]!.key);
  }

  /** The derived features, once every aggregate is in `v`; `unknown`: some aggregate is (partial history). */
  derive(event: RtdsEvent, v: Float64Array, unknown: boolean): void {
    this.derived.compute(event, v, unknown);
  }

  private advance(state: FeatureState, event: RtdsEvent, timing: EventTiming, kinds: readonly number[], v: Float64Array): boolean {
    const t = event.event_time;
    const seq = state.seq++;
    const { earliest, tooLate } = timing;
    let unknown = false;
    if (state.pending.dueBy(t)) this.applyLabels(state, t, earliest, kinds);
    for (const k of kinds) {
      const kind = this.kinds[k]!;
      const key = entityKey(event, kind.fields);
      if (key === undefined) {
        for (const g of kind.groups) fallBack(g, v);
        continue;
      }
      const map = state.entities[k]!;
      let entity = map.get(key);
      if (entity !== undefined) evictWindows(kind, entity, earliest);
      let joined = false;
      for (const g of kind.groups) {
        const sub = g.sub === undefined ? 0 : subKey(event, g.sub);
        if (sub === undefined) {
          fallBack(g, v);
          continue;
        }
        if (tooLate && !g.window.whole(t, earliest)) {
          unknownHistory(g, v);
          unknown = true;
          continue;
        }
        if (g.before.length > 0) this.read(g, entity, t, earliest, g.before, v, sub);
        const counts = passes(event, g);
        const raw = g.field === undefined ? undefined : event[g.field];
        const value = typeof raw === 'number' ? raw : undefined;
        if (!tooLate && counts) {
          if (entity === undefined) {
            entity = { latest: t, due: Infinity, windows: new Array<Slots | undefined>(kind.groups.length).fill(undefined), sets: undefined, unions: undefined };
            map.set(key, entity);
          }
          const slot = g.window.add(entity, g.slot, t, seq, value, sub);
          for (let f = 0; f < g.distinct.length; f++) {
            const text = distinctValue(event, g.distinct[f]!);
            if (text !== undefined) g.window.addDistinct(entity, g.slot, slot, f, text);
          }
          joined = true;
        }
        if (g.after.length > 0) this.read(g, entity, t, earliest, g.after, v, sub, tooLate && counts && g.window.holdsOwn ? { seq, value, event } : undefined);
      }
      if (joined && entity !== undefined) {
        if (t > entity.latest) entity.latest = t;
        // Active again: due at its first check after this event (its shortest window unreachable), if that is sooner.
        if (entity.due > Math.ceil((t + kind.firstCheck) / kind.bucketMs)) this.schedule(state, k, key, entity, t + kind.firstCheck);
      }
    }
    this.sweep(state, earliest, kinds);
    return unknown;
  }

  /**
   * The event's features with none of its history known: every window unknown, as for an event
   * older than all the state holds. Training adds such rows so that a model has learnt to score
   * them (docs/models.md); the state is not read.
   */
  withoutHistory(event: RtdsEvent): Float64Array {
    const v = new Float64Array(this.names.length);
    for (const kind of this.kinds) for (const g of kind.groups) unknownHistory(g, v);
    this.derive(event, v, true);
    return v;
  }

  /** Count (or, on a later "not fraud", uncount) the labels known at `t` in the tiles of their events. */
  private applyLabels(state: FeatureState, t: number, earliest: number, kinds: readonly number[]): void {
    while (state.pending.dueBy(t)) {
      const { event, is_fraud } = state.pending.pop()!;
      if (state.fraud.has(event.event_id) === is_fraud) continue;
      const delta = is_fraud ? 1 : -1;
      for (const k of kinds) {
        const kind = this.kinds[k]!;
        if (kind.labelled.length === 0) continue;
        const key = entityKey(event, kind.fields);
        const entity = key === undefined ? undefined : state.entities[k]!.get(key);
        if (entity === undefined) continue;
        for (const g of kind.labelled) {
          const sub = g.sub === undefined ? 0 : subKey(event, g.sub);
          if (sub !== undefined && passes(event, g)) g.labels!.label(entity, g.slot, event.event_time, delta, sub);
        }
      }
      if (is_fraud) state.fraud.set(event.event_id, event.event_time);
      else state.fraud.delete(event.event_id);
    }
    if (state.fraud.size >= state.fraudPurgeAt) {
      for (const [id, time] of state.fraud) if (time + this.reachMs <= earliest) state.fraud.delete(id);
      state.fraudPurgeAt = Math.max(1024, 2 * state.fraud.size);
    }
  }

  /** Read `outputs` of the window at `t` into `v`; `self`: a too-late event counted in the read, as if it had joined. */
  private read(g: Group, entity: EntityWindows | undefined, t: number, earliest: number, outputs: readonly Output[], v: Float64Array, sub: number, self?: { seq: number; value: number | undefined; event: RtdsEvent }): void {
    const r = g.read;
    if (entity === undefined) r.reset();
    else g.window.read(entity, g.slot, t, earliest, r, sub);
    if (self !== undefined) {
      g.window.layout.add(r.tally, 0, t, self.seq, self.value);
      g.distinct.forEach((field, f) => r.addSet(f, distinctValue(self.event, field)));
    }
    for (const o of outputs) {
      const value = o.kind === 'distinct' ? r.distinctCount(o.field) : g.window.layout.read(o.kind, r.tally, 0, t);
      v[o.index] = value ?? o.fallback;
    }
  }

  /** Put an entity's key in the bucket of event time `at` (or the next one checked, if that is past). */
  private schedule(state: FeatureState, k: number, key: string, entity: EntityWindows, at: number): void {
    const cursor = state.dueCursor[k]!;
    const bucket = Math.max(Math.ceil(at / this.kinds[k]!.bucketMs), Number.isNaN(cursor) ? -Infinity : cursor);
    entity.due = bucket;
    const due = state.due[k]!;
    const keys = due.get(bucket);
    if (keys === undefined) due.set(bucket, [key]);
    else keys.push(key);
  }

  /**
   * Check the entities whose buckets `earliest` has passed. One idle past all its windows goes;
   * one idle past some of them has those emptied and is due again when the next goes (with those
   * going within CHECK_SLACK_MS after it); one active since is due again after its new latest
   * event. Each entity is checked a few times
   * over its life, when something of it can go — so idle state leaves on time however many
   * entities there are.
   */
  private sweep(state: FeatureState, earliest: number, kinds: readonly number[]): void {
    for (const k of kinds) {
      const kind = this.kinds[k]!;
      const until = Math.floor(earliest / kind.bucketMs);
      let cursor = state.dueCursor[k]!;
      if (Number.isNaN(cursor)) cursor = until;
      if (cursor > until) continue;
      const due = state.due[k]!;
      const map = state.entities[k]!;
      // After a jump in event time, walk the buckets held rather than every bucket index in between
      // (and past 2^53, where cursor++ stands still, always: the edge refuses such times, history may not).
      const buckets = until - cursor > due.size || !Number.isSafeInteger(until) ? [...due.keys()].filter((b) => b <= until).sort((a, b) => a - b) : undefined;
      state.dueCursor[k] = until + 1;
      for (let i = 0; buckets === undefined ? cursor <= until : i < buckets.length; i++, cursor++) {
        const bucket = buckets === undefined ? cursor : buckets[i]!;
        const keys = due.get(bucket);
        if (keys === undefined) continue;
        due.delete(bucket);
        for (const key of keys) {
          const entity = map.get(key);
          if (entity === undefined || entity.due !== bucket) continue;
          const next = nextExpiry(kind, entity, earliest);
          if (next === undefined) map.delete(key);
          else this.schedule(state, k, key, entity, next);
        }
      }
    }
  }
}

/** An event's value of a field counted distinct, as text (undefined: none). */
function distinctValue(event: RtdsEvent, field: keyof RtdsEvent): string | undefined {
  const value = event[field];
  return value === undefined ? undefined : String(value);
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

/** A group's features when its window reaches into history the state no longer holds: unknown. */
function unknownHistory(g: Group, v: Float64Array): void {
  for (const o of g.before) v[o.index] = NaN;
  for (const o of g.after) v[o.index] = NaN;
}

/** A group's features when the event has no value for one of its entity fields. */
function fallBack(g: Group, v: Float64Array): void {
  for (const o of g.before) v[o.index] = o.fallback;
  for (const o of g.after) v[o.index] = o.fallback;
}

/**
 * A sub-entity's key within its entity: a 53-bit hash of its field values (two 32-bit FNV-style
 * hashes), exact as a double. Among the few sub-entities of one entity a collision is
 * vanishingly unlikely (≈ n² / 2⁵⁴ for n of them).
 */
function subKey(event: RtdsEvent, fields: readonly (keyof RtdsEvent)[]): number | undefined {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (const f of fields) {
    const value = event[f];
    if (value === undefined) return undefined;
    const text = String(value);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    // A separator, so ("ab", "c") and ("a", "bc") differ.
    a = Math.imul(a ^ 0x1f, 0x01000193);
    b = Math.imul(b ^ 0x1f, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/**
 * Remove the windows that the entity's latest event no longer reaches, and return when to check it
 * next: when the next of those left becomes unreachable, or the last of them to within
 * CHECK_SLACK_MS after it — undefined when none is left, and the entity can go.
 */
function nextExpiry(kind: EntityKind, entity: EntityWindows, earliest: number): number | undefined {
  let next = Infinity;
  // An entity idle this long gives back its windows' spare room (see TiledWindows): a few checks
  // over its life (after its hour's and its day's windows, say). Sooner it may well be active
  // again, and its next tile would copy the block back; the check would touch every block.
  const idle = earliest - entity.latest >= COMPACT_IDLE_MS;
  for (const g of kind.groups) {
    if (entity.windows[g.slot] === undefined) continue;
    const gone = entity.latest + g.window.reachMs;
    if (gone <= earliest) g.window.drop(entity, g.slot);
    else {
      if (idle) g.window.compact(entity, g.slot);
      if (gone < next) next = gone;
    }
  }
  // The distinct sets' and unions' arrays go with the last of them: most entities are idle most of the time.
  if (entity.sets?.every((set) => set === undefined) === true) entity.sets = undefined;
  if (entity.unions?.every((kept) => kept === undefined) === true) entity.unions = undefined;
  if (next === Infinity) return undefined;
  // The windows going within the slack after the next go in the same visit.
  let check = next;
  for (const g of kind.groups) if (entity.windows[g.slot] !== undefined) check = gathered(check, entity.latest + g.window.reachMs, next);
  return check;
}

/** A check at `check` moved to `gone` when that window goes later but within CHECK_SLACK_MS after the next (`next`): one visit for both. */
function gathered(check: number, gone: number, next: number): number {
  return gone > check && gone <= next + CHECK_SLACK_MS ? gone : check;
}

/**
 * Touched by an event: its entity's windows forget what no admitted event can reach any more. Before
 * the event joins them (reads never see what `earliest` rules out, so the order changes no value):
 * the tiles leaving make room for the event's, where after it a full block would grow first.
 */
function evictWindows(kind: EntityKind, entity: EntityWindows, earliest: number): void {
  for (const g of kind.groups) g.window.evict(entity, g.slot, earliest);
}

function passes(event: RtdsEvent, group: Group): boolean {
  for (const f of group.filter) {
    const value = event[f.field];
    if (value === undefined || !f.values.has(String(value))) return false;
  }
  return true;
}
