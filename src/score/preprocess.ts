// The model's input shaping: each feature's transform, then the standardisation fitted on training data.
import { FEATURES, type FeatureColumn, type Transform } from '../features/index.ts';

/** The JSON form saved in a model's metadata; a Standardiser is rebuilt from it exactly. */
export interface StandardiserJson {
  features: string[];
  transforms: Transform[];
  /** Mean of the transformed value, per feature. */
  mean: number[];
  /** Standard deviation of the transformed value, floored, per feature. */
  std: number[];
  /** Whether the feature only took the values 0 and 1 in training (an indicator). */
  binary: boolean[];
}

export class StandardiserFormatError extends Error {
  override readonly name = 'StandardiserFormatError';
}

export const DEFAULT_STD_FLOOR = 1e-6;

/**
 * `log1p` stays defined for the odd negative value (sign-symmetric); for x ≥ 0 it is exactly log1p.
 */
function transformValue(t: Transform, x: number): number {
  if (t === 'none') return x;
  return x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
}

export class Standardiser {
  readonly size: number;
  readonly features: readonly string[];
  readonly transforms: readonly Transform[];
  readonly mean: Float64Array;
  readonly std: Float64Array;
  readonly binary: readonly boolean[];
  /** `transforms[i] === 'log1p'`, as a typed array for the hot loop. */
  private readonly logged: Uint8Array;
  private readonly invStd: Float64Array;

  private constructor(json: StandardiserJson) {
    this.size = json.features.length;
    this.features = [...json.features];
    this.transforms = [...json.transforms];
    this.mean = Float64Array.from(json.mean);
    this.std = Float64Array.from(json.std);
    this.binary = [...json.binary];
    this.logged = Uint8Array.from(json.transforms, (t) => (t === 'log1p' ? 1 : 0));
    this.invStd = this.std.map((s) => 1 / s);
  }

  /** Fit on raw vectors: transform each feature, then take its mean and (population) std. */
  static fit(rows: readonly Float64Array[], features: readonly FeatureColumn[] = FEATURES, stdFloor = DEFAULT_STD_FLOOR): Standardiser {
    const d = features.length;
    if (rows.length === 0) throw new RangeError('cannot fit a standardiser on zero rows');
    const transforms = features.map((f) => f.transform);
    const sum = new Float64Array(d);
    const sumSq = new Float64Array(d);
    const count = new Float64Array(d);
    const binary = new Array<boolean>(d).fill(true);
    // Shift by a first finite value so the variance does not lose precision to a large mean.
    const shift = new Float64Array(d).fill(NaN);
    for (const row of rows) {
      if (row.length !== d) throw new RangeError(`a training vector has ${row.length} values; the feature set has ${d}`);
      for (let j = 0; j < d; j++) {
        const raw = row[j]!;
        if (raw !== 0 && raw !== 1 && !Number.isNaN(raw)) binary[j] = false; // NaN: unknown, not a value
        const t = transformValue(transforms[j]!, raw);
        if (!Number.isFinite(t)) continue; // apply() maps such values to the mean; they carry no spread
        if (Number.isNaN(shift[j]!)) shift[j] = t;
        const v = t - shift[j]!;
        sum[j]! += v;
        sumSq[j]! += v * v;
        count[j]!++;
      }
    }
    const mean: number[] = [];
    const std: number[] = [];
    for (let j = 0; j < d; j++) {
      const n = count[j]!;
      const m = n > 0 ? sum[j]! / n : 0;
      const variance = n > 0 ? Math.max(sumSq[j]! / n - m * m, 0) : 0;
      mean.push(n > 0 ? m + shift[j]! : 0);
      std.push(Math.max(Math.sqrt(variance), stdFloor));
    }
    return new Standardiser({ features: features.map((f) => f.name), transforms, mean, std, binary });
  }

  static fromJSON(json: unknown): Standardiser {
    if (typeof json !== 'object' || json === null) throw new StandardiserFormatError('standardiser must be an object');
    const o = json as Record<string, unknown>;
    const features = o.features;
    if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
      throw new StandardiserFormatError('standardiser.features must be an array of names');
    }
    const d = features.length;
    const numbers = (key: string, positive: boolean): number[] => {
      const v = o[key];
      if (!Array.isArray(v) || v.length !== d || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
        throw new StandardiserFormatError(`standardiser.${key} must be ${d} finite${positive ? ' positive' : ''} numbers`);
      }
      return v as number[];
    };
    const transforms = o.transforms;
    if (!Array.isArray(transforms) || transforms.length !== d || !transforms.every((t) => t === 'none' || t === 'log1p')) {
      throw new StandardiserFormatError(`standardiser.transforms must be ${d} of 'none' | 'log1p'`);
    }
    const binary = o.binary === undefined ? new Array<boolean>(d).fill(false) : o.binary;
    if (!Array.isArray(binary) || binary.length !== d || !binary.every((b) => typeof b === 'boolean')) {
      throw new StandardiserFormatError(`standardiser.binary must be ${d} booleans`);
    }
    return new Standardiser({
      features: features as string[],
      transforms: transforms as Transform[],
      mean: numbers('mean', false),
      std: numbers('std', true),
      binary: binary as boolean[],
    });
  }

  toJSON(): StandardiserJson {
    return {
      features: [...this.features],
      transforms: [...this.transforms],
      mean: Array.from(this.mean),
      std: Array.from(this.std),
      binary: [...this.binary],
    };
  }

  /**
   * Write the model input for one raw vector into `out[offset … offset + size)`. A non-finite
   * value becomes 0, the training mean, so one bad feature cannot turn a score into NaN.
   */
  apply(raw: ArrayLike<number>, out: Float32Array, offset = 0): void {
    const d = this.size;
    const mean = this.mean;
    const invStd = this.invStd;
    const logged = this.logged;
    for (let j = 0; j < d; j++) {
      let x = raw[j]!;
      if (logged[j] === 1) x = x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
      const z = (x - mean[j]!) * invStd[j]!;
      out[offset + j] = z - z === 0 ? z : 0; // z − z is NaN for ±Infinity and NaN
    }
  }

  /** Standardise `rows` into one row-major matrix (`out` is allocated when not given). */
  applyAll(rows: readonly ArrayLike<number>[], out: Float32Array = new Float32Array(rows.length * this.size)): Float32Array {
    for (let i = 0; i < rows.length; i++) this.apply(rows[i]!, out, i * this.size);
    return out;
  }
}
