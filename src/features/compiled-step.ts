// A feature set's step compiled: straight-line JavaScript per stage, generated once from the set's plan of entity kinds and groups.
import type { RtdsEvent } from '../contracts/index.ts';
import type { Aggregation } from './spec.ts';
import type { TallyLayout, WindowRead, WindowHolder } from './window-state.ts';

/** A feature read from a group's window: its position in the vector, its aggregation, its default, its distinct field's position. */
interface PlannedOutput {
  index: number;
  kind: Aggregation;
  fallback: number;
  field: number;
}

/** What the generator reads of a planned group (see FeatureSet's plan). */
export interface PlannedGroup {
  slot: number;
  filter: readonly { field: keyof RtdsEvent; values: ReadonlySet<string> }[];
  window: { readonly layout: TallyLayout; readonly holdsOwn: boolean };
  field: keyof RtdsEvent | undefined;
  distinct: readonly (keyof RtdsEvent)[];
  before: readonly PlannedOutput[];
  after: readonly PlannedOutput[];
  read: WindowRead;
  sub: readonly (keyof RtdsEvent)[] | undefined;
}

/** What the generator reads of a planned entity kind. */
export interface PlannedKind {
  fields: readonly (keyof RtdsEvent)[];
  groups: readonly PlannedGroup[];
  firstCheck: number;
  bucketMs: number;
}

/** The set's own steps the generated code calls: labels due, the expiry sweep and schedule (shared with the interpreter). */
export interface StepRuntime {
  applyLabels(state: unknown, t: number, earliest: number, kinds: readonly number[]): void;
  sweep(state: unknown, earliest: number, kinds: readonly number[]): void;
  schedule(state: unknown, k: number, key: string, entity: unknown, at: number): void;
  subKey(event: RtdsEvent, fields: readonly (keyof RtdsEvent)[]): number | undefined;
}

export type CompiledStep<State> = (state: State, event: RtdsEvent, timing: { tooLate: boolean; earliest: number }, v: Float64Array) => boolean;

const KEY_SEPARATOR = '\u001f';

/** A number as a JavaScript literal (JSON has no −0, infinities or NaN). */
function literal(x: number): string {
  if (Object.is(x, -0)) return '-0';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return `(${JSON.stringify(x)})`;
}

const field = (f: string): string => `event[${JSON.stringify(f)}]`;

/** One output read from the group's tally `T` (its layout's offsets as constants), as TallyLayout.read and `?? fallback`. */
function output(o: PlannedOutput, layout: TallyLayout, g: string): string {
  const fb = literal(o.fallback);
  const T = `${g}T`;
  const n = layout.n < 0 ? '0' : `${T}[${layout.n}]`;
  const value = ((): string => {
    switch (o.kind) {
      case 'count':
        return `${T}[0]`;
      case 'sum':
        return `${T}[${layout.sum}]`;
      case 'mean':
        return `(${n} === 0 ? ${fb} : ${T}[${layout.moments}])`;
      case 'std':
        return `(${n} === 0 ? ${fb} : Math.sqrt(Math.max(0, ${T}[${layout.moments + 1}] / ${n})))`;
      case 'min':
        return `(${n} === 0 ? ${fb} : ${T}[${layout.min}])`;
      case 'max':
        return `(${n} === 0 ? ${fb} : ${T}[${layout.max}])`;
      case 'last':
        return `(${n} === 0 ? ${fb} : ${T}[${layout.last + 2}])`;
      case 'time_since_last':
        return `(${T}[0] === 0 ? ${fb} : Math.max(0, t - ${T}[${layout.latest}]) / 1000)`;
      case 'fraud_count':
        return `${T}[${layout.fraud}]`;
      case 'fraud_rate':
        return `(${T}[0] === 0 ? ${fb} : Math.min(1, ${T}[${layout.fraud}] / ${T}[0]))`;
      case 'distinct':
        return `${g}R.distinctCount(${o.field})`;
    }
  })();
  return `v[${o.index}] = ${value};`;
}

function groupCode(kind: PlannedKind, k: number, g: PlannedGroup, gi: number): string[] {
  const name = `k${k}g${gi}`;
  const outputs = [...g.before, ...g.after];
  const fallback = outputs.map((o) => `v[${o.index}] = ${literal(o.fallback)};`).join(' ');
  const unknownHistory = outputs.map((o) => `v[${o.index}] = NaN;`).join(' ');
  const read = `if (entity === undefined) ${name}R.reset(); else ${name}W.read(entity, ${g.slot}, t, earliest, ${name}R, sub);`;
  const filter = g.filter.map((f) => `((fx = ${field(f.field)}) !== undefined && (fy = String(fx), ${[...f.values].map((x) => `fy === ${JSON.stringify(x)}`).join(' || ')}))`);
  const lines: string[] = [];
  lines.push('{');
  lines.push(g.sub === undefined ? 'const sub = 0;' : `const sub = subKey(event, ${name}Sub);`);
  lines.push(`if (${g.sub === undefined ? '' : 'sub === undefined) { ' + fallback + ' } else if ('}tooLate && !${name}W.whole(t, earliest)) { ${unknownHistory} unknown = true; } else {`);
  if (g.before.length > 0) lines.push(read, ...g.before.map((o) => output(o, g.window.layout, name)));
  lines.push(`const counts = ${filter.length === 0 ? 'true' : filter.join(' && ')};`);
  if (g.field === undefined) lines.push('const value = undefined;');
  else lines.push(`const raw = ${field(g.field)};`, "const value = typeof raw === 'number' ? raw : undefined;");
  // Each distinct field's value as text (undefined: none), d0, d1, …
  g.distinct.forEach((f, i) => lines.push(`const r${i} = ${field(f)};`, `const d${i} = r${i} !== undefined ? String(r${i}) : undefined;`));
  lines.push(
    'if (!tooLate && counts) {',
    `if (entity === undefined) { entity = newEntity(t, ${kind.groups.length}); map.set(key, entity); }`,
    `${g.distinct.length === 0 ? '' : 'const slot = '}${name}W.add(entity, ${g.slot}, t, seq, value, sub);`,
    ...g.distinct.map((_, i) => `if (d${i} !== undefined) ${name}W.addDistinct(entity, ${g.slot}, slot, ${i}, d${i});`),
    'joined = true;',
    '}',
  );
  if (g.after.length > 0) {
    lines.push(read);
    // A too-late event reads its window as if it had joined it.
    if (g.window.holdsOwn) {
      lines.push(`if (tooLate && counts) {`, `${name}W.layout.add(${name}R.tally, 0, t, seq, value);`, ...g.distinct.map((_, i) => `${name}R.addSet(${i}, d${i});`), '}');
    }
    lines.push(...g.after.map((o) => output(o, g.window.layout, name)));
  }
  lines.push('}', '}');
  return lines;
}

function kindCode(kind: PlannedKind, k: number): string[] {
  const lines: string[] = ['{'];
  kind.fields.forEach((f, i) => lines.push(`const x${i} = ${field(f)};`));
  const missing = kind.fields.map((_, i) => `x${i} === undefined`).join(' || ');
  const fallbacks = kind.groups.flatMap((g) => [...g.before, ...g.after].map((o) => `v[${o.index}] = ${literal(o.fallback)};`));
  lines.push(`if (${missing}) { ${fallbacks.join(' ')} } else {`);
  lines.push(`const key = ${kind.fields.map((_, i) => `String(x${i})`).join(` + ${JSON.stringify(KEY_SEPARATOR)} + `)};`);
  lines.push(`const map = state.entities[${k}];`, 'let entity = map.get(key);', 'let joined = false;');
  // Touched: its windows first forget what no admitted event can reach any more (see evictWindows).
  lines.push('if (entity !== undefined) {', ...kind.groups.map((g, gi) => `k${k}g${gi}W.evict(entity, ${g.slot}, earliest);`), '}');
  kind.groups.forEach((g, gi) => lines.push(...groupCode(kind, k, g, gi)));
  lines.push(
    'if (joined) {',
    'if (t > entity.latest) entity.latest = t;',
    // Active again: due at its first check after this event (its shortest window unreachable), if that is sooner.
    `if (entity.due > Math.ceil((t + ${literal(kind.firstCheck)}) / ${literal(kind.bucketMs)})) rt.schedule(state, ${k}, key, entity, t + ${literal(kind.firstCheck)});`,
    '}',
    '}',
    '}',
  );
  return lines;
}

/** A new entity of a kind with `groups` windows, as the interpreter makes it. */
function newEntity(t: number, groups: number): WindowHolder & { latest: number; due: number } {
  return { latest: t, due: Infinity, windows: new Array<number[] | undefined>(groups).fill(undefined), sets: undefined, unions: undefined };
}

/**
 * The step of the entity kinds `ks` (a stage's, or all of them) as one generated function: the
 * same work as FeatureSet's interpreted `advance`, with the loops over kinds, groups, fields,
 * filter values and outputs unrolled and the tallies' offsets as constants. Generated from the
 * validated plan only: field names and filter values enter as JSON literals.
 */
export function compileStep<State>(kinds: readonly PlannedKind[], ks: readonly number[], rt: StepRuntime): CompiledStep<State> {
  const setup: string[] = [];
  const body: string[] = [];
  for (const k of ks) {
    kinds[k]!.groups.forEach((g, gi) => {
      const name = `k${k}g${gi}`;
      setup.push(`const ${name}W = kinds[${k}].groups[${gi}].window;`, `const ${name}R = kinds[${k}].groups[${gi}].read;`, `const ${name}T = ${name}R.tally;`);
      if (g.sub !== undefined) setup.push(`const ${name}Sub = kinds[${k}].groups[${gi}].sub;`);
    });
    body.push(...kindCode(kinds[k]!, k));
  }
  const source = [
    ...setup,
    `const ks = ${JSON.stringify(ks)};`,
    'return function step(state, event, timing, v) {',
    'const t = event.event_time;',
    'const seq = state.seq++;',
    'const earliest = timing.earliest;',
    'const tooLate = timing.tooLate;',
    'let unknown = false;',
    'let fx, fy;',
    'if (state.pending.dueBy(t)) rt.applyLabels(state, t, earliest, ks);',
    ...body,
    'rt.sweep(state, earliest, ks);',
    'return unknown;',
    '};',
  ].join('\n');
  const make = new Function('kinds', 'rt', 'subKey', 'newEntity', source) as (...args: unknown[]) => CompiledStep<State>;
  return make(kinds, rt, rt.subKey, newEntity);
}
