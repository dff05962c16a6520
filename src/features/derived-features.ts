// Derived features: expressions over earlier features and the event, validated by filtrex and compiled to JavaScript with its semantics.
import { compileExpression } from 'filtrex';
import type { RtdsEvent } from '../contracts/index.ts';
import { compileExpression as compileToJs, RUNTIME, UnsupportedExpression, type NameSource } from './expression.ts';
import { FeatureSpecError, isDerived, TEXT_FIELDS, type FeatureSpec } from './spec.ts';

const FUNCTIONS = { log1p: Math.log1p, exp: Math.exp, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, sign: Math.sign };
const RESERVED = new Set(['and', 'or', 'not', 'if', 'then', 'else', 'in', 'mod', 'true', 'false', 'abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'exists', 'empty', ...Object.keys(FUNCTIONS)]);
/** Event values an expression may read besides the features. */
const EXPRESSION_FIELDS = ['amount', 'event_time', 'hour_of_day', 'day_of_week', 'pi', 'partial_history', ...TEXT_FIELDS];
const DAY = 86_400_000;

type Evaluate = (data: Record<string, unknown>) => unknown;

/** An expression compiled, and the positions of the earlier features it reads. */
function compile(expression: string, path: string, known: ReadonlyMap<string, number>): { evaluate: Evaluate; reads: number[] } {
  // Identifiers outside quoted text must name an earlier feature or an event value.
  const bare = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '');
  const reads = new Set<number>();
  for (const id of bare.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    const index = known.get(id);
    if (index !== undefined) reads.add(index);
    else if (!RESERVED.has(id) && !EXPRESSION_FIELDS.includes(id)) {
      throw new FeatureSpecError(`${path}.expression`, `"${id}" is neither an earlier feature nor one of ${EXPRESSION_FIELDS.join(', ')}`);
    }
  }
  try {
    return { evaluate: compileExpression(expression, { extraFunctions: FUNCTIONS }), reads: [...reads] };
  } catch (err) {
    throw new FeatureSpecError(`${path}.expression`, (err as Error).message.split('\n').slice(0, 3).join(' '));
  }
}

/** How a set computes its features: `compiled` (generated JavaScript, the default) or `interpreted` (the reference the oracle tests compare it with). */
export type FeatureEngine = 'compiled' | 'interpreted';

type Derive = (event: RtdsEvent, v: Float64Array, partialHistory: boolean, carried: (number | undefined)[]) => void;

/** Event values an expression reads, as locals of the generated function: name → [local, initialiser, type]. */
const EVENT_LOCALS: Record<string, [string, string, 'n' | 's']> = {
  amount: ['e_amount', 'event.amount ?? 0', 'n'],
  event_time: ['e_event_time', 't', 'n'],
  hour_of_day: ['e_hour_of_day', `(((t % ${DAY}) + ${DAY}) % ${DAY}) / 3600000`, 'n'],
  // 1970-01-01 was a Thursday; 0 = Sunday.
  day_of_week: ['e_day_of_week', `(Math.floor(t / ${DAY}) + 4) % 7`, 'n'],
  partial_history: ['e_partial_history', 'partialHistory ? 1 : 0', 'n'],
  ...Object.fromEntries(TEXT_FIELDS.map((f) => [f, [`e_${f}`, `event.${f} ?? ""`, 's']])),
};

/**
 * One generated function for all the set's expressions, in declaration order, each name resolved
 * once as filtrex's data object would hold it at that point (see `DerivedFeatures.compute`).
 * Undefined when an expression is beyond the compiler: the set then evaluates them through filtrex.
 */
function generate(expressions: readonly { index: number; name: string; reads: number[]; expression: string }[], aggregates: readonly { index: number; name: string }[]): Derive | undefined {
  const aggregateAt = new Map(aggregates.map((a) => [a.name, a.index]));
  const used = new Set<string>();
  const carriedUsed = new Set<number>();
  const body: string[] = [];
  try {
    expressions.forEach((e, position) => {
      const resolve = (name: string): NameSource => {
        const aggregate = aggregateAt.get(name);
        if (aggregate !== undefined) return { from: 'vector', index: aggregate };
        const earlier = expressions.slice(0, position).findLast((x) => x.name === name);
        if (earlier !== undefined) return { from: 'vector', index: earlier.index };
        if (Object.hasOwn(EVENT_LOCALS, name)) {
          used.add(name);
          return { from: 'event', local: EVENT_LOCALS[name]![0], type: EVENT_LOCALS[name]![2] };
        }
        const later = expressions.slice(position).find((x) => x.name === name);
        if (later !== undefined) {
          carriedUsed.add(later.index);
          return { from: 'carried', index: later.index, before: name === 'pi' ? Math.PI : undefined };
        }
        return name === 'pi' ? { from: 'event', local: 'Math.PI', type: 'n' } : { from: 'none' };
      };
      const code = compileToJs(e.expression, resolve, `t${position}_`);
      for (let k = 0; k < code.temps; k++) body.push(`let t${position}_${k};`);
      const finish = code.type === 'b' ? 'r ? 1 : 0' : code.type === 'n' ? 'Number.isFinite(r) ? r : 0' : "typeof r === 'boolean' ? (r ? 1 : 0) : typeof r === 'number' && Number.isFinite(r) ? r : 0";
      const unknown = e.reads.length === 0 ? 'false' : `partialHistory && (${e.reads.map((i) => `Number.isNaN(v[${i}])`).join(' || ')})`;
      body.push(`if (${unknown}) v[${e.index}] = NaN;`, `else { let r; try { r = ${code.js}; } catch { r = 0; } v[${e.index}] = ${finish}; }`);
    });
  } catch (err) {
    if (err instanceof UnsupportedExpression) return undefined;
    throw err;
  }
  for (const index of carriedUsed) body.push(`carried[${index}] = v[${index}];`);
  const locals = [...used].map((name) => `const ${EVENT_LOCALS[name]![0]} = ${EVENT_LOCALS[name]![1]};`);
  const source = ['const t = event.event_time;', ...locals, ...body].join('\n');
  // Generated from validated specs only: names and values enter as JSON literals or vector positions.
  return new Function('$', `return function derive(event, v, partialHistory, carried) {\n${source}\n};`)(RUNTIME) as Derive;
}

/** The derived features of a set, evaluated in declaration order once its aggregates are in the vector. */
export class DerivedFeatures {
  private readonly expressions: { index: number; name: string; evaluate: Evaluate; reads: number[]; expression: string }[] = [];
  private readonly aggregates: { index: number; name: string }[] = [];
  /** One object, refilled per event: expressions read it, nothing keeps it. */
  private readonly data: Record<string, unknown> = { pi: Math.PI };

  /** The expressions as one generated function (the compiled engine), and what it carries across events. */
  private readonly generated: Derive | undefined;
  private readonly carried: (number | undefined)[] = [];

  constructor(specs: readonly FeatureSpec[], engine: FeatureEngine = 'compiled') {
    const known = new Map<string, number>();
    specs.forEach((spec, index) => {
      if (isDerived(spec)) this.expressions.push({ index, name: spec.name, expression: spec.expression, ...compile(spec.expression, `features[${index}]`, known) });
      else this.aggregates.push({ index, name: spec.name });
      known.set(spec.name, index);
    });
    this.generated = engine === 'compiled' ? generate(this.expressions, this.aggregates) : undefined;
  }

  /** Whether the expressions run as generated JavaScript rather than through filtrex. */
  get compiled(): boolean {
    return this.generated !== undefined;
  }

  /** Positions of the features the derived feature at `index` reads directly; undefined for an aggregate. */
  readsOf(index: number): readonly number[] | undefined {
    return this.expressions.find((e) => e.index === index)?.reads;
  }

  /**
   * Fill the derived features of `v`, whose aggregates are computed. `partialHistory`: some of them
   * are unknown (NaN); an expression reading an unknown feature is unknown too, never a guess.
   */
  compute(event: RtdsEvent, v: Float64Array, partialHistory: boolean): void {
    if (this.expressions.length === 0) return;
    if (this.generated !== undefined) return this.generated(event, v, partialHistory, this.carried);
    const t = event.event_time;
    const data = this.data;
    data.amount = event.amount ?? 0;
    data.event_time = t;
    data.hour_of_day = (((t % DAY) + DAY) % DAY) / 3_600_000;
    data.day_of_week = (Math.floor(t / DAY) + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    data.partial_history = partialHistory ? 1 : 0;
    for (const f of TEXT_FIELDS) data[f] = event[f] ?? '';
    // A name means an earlier feature, else an event value: derived features enter as they are computed.
    for (const a of this.aggregates) data[a.name] = v[a.index];
    for (const e of this.expressions) {
      if (partialHistory && readsUnknown(e.reads, v)) {
        v[e.index] = NaN;
        data[e.name] = NaN;
        continue;
      }
      // filtrex returns its errors (a type error, a missing value) instead of throwing them.
      const out = e.evaluate(data);
      const value = typeof out === 'boolean' ? Number(out) : typeof out === 'number' && Number.isFinite(out) ? out : 0;
      v[e.index] = value;
      data[e.name] = value;
    }
  }
}

function readsUnknown(reads: readonly number[], v: Float64Array): boolean {
  for (const i of reads) if (Number.isNaN(v[i]!)) return true;
  return false;
}
