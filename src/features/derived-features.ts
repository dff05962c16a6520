// Derived features: expressions over earlier features and the event, compiled once by filtrex.
import { compileExpression } from 'filtrex';
import type { RtdsEvent } from '../contracts/index.ts';
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

/** The derived features of a set, evaluated in declaration order once its aggregates are in the vector. */
export class DerivedFeatures {
  private readonly expressions: { index: number; name: string; evaluate: Evaluate; reads: number[] }[] = [];
  private readonly aggregates: { index: number; name: string }[] = [];
  /** One object, refilled per event: expressions read it, nothing keeps it. */
  private readonly data: Record<string, unknown> = { pi: Math.PI };

  constructor(specs: readonly FeatureSpec[]) {
    const known = new Map<string, number>();
    specs.forEach((spec, index) => {
      if (isDerived(spec)) this.expressions.push({ index, name: spec.name, ...compile(spec.expression, `features[${index}]`, known) });
      else this.aggregates.push({ index, name: spec.name });
      known.set(spec.name, index);
    });
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
