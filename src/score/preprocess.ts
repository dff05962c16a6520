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
  /**
   * Smallest and largest transformed value in training, per feature: a value beyond them is read
   * as the nearest one. Absent in models trained before ranges were kept (read unbounded).
   */
  min?: number[];
  max?: number[];
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
  /** The training range of each transformed value (±Infinity: unknown). */
  readonly min: Float64Array;
  readonly max: Float64Array;
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
    this.min = json.min === undefined ? new Float64Array(this.size).fill(-Infinity) : Float64Array.from(json.min);
    this.max = json.max === undefined ? new Float64Array(this.size).fill(Infinity) : Float64Array.from(json.max);
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
    const min = new Array<number>(d).fill(Infinity);
    const max = new Array<number>(d).fill(-Infinity);
    // Shift by a first finite value so the variance does not lose precision to a large mean.
    const shift = new Float64Array(d).fill(NaN);
    for (const row of rows) {
      if (row.length !== d) throw new RangeError(`a training vector has ${row.length} values; the feature set has ${d}`);
      for (let j = 0; j < d; j++) {
        const raw = row[j]!;
        if (raw !== 0 && raw !== 1 && !Number.isNaN(raw)) binary[j] = false; // NaN: unknown, not a value
        const t = transformValue(transforms[j]!, raw);
        if (!Number.isFinite(t)) continue; // apply() maps such values to the mean; they carry no spread
        if (t < min[j]!) min[j] = t;
        if (t > max[j]!) max[j] = t;
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
      // A feature never finite in training has only its mean.
      if (n === 0) min[j] = max[j] = mean[j]!;
    }
    return new Standardiser({ features: features.map((f) => f.name), transforms, mean, std, binary, min, max });
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
    const range = o.min === undefined && o.max === undefined ? {} : { min: numbers('min', false), max: numbers('max', false) };
    if (range.min !== undefined && range.min.some((lo, j) => lo > range.max[j]!)) throw new StandardiserFormatError('standardiser.min must not exceed standardiser.max');
    return new Standardiser({
      features: features as string[],
      transforms: transforms as Transform[],
      mean: numbers('mean', false),
      std: numbers('std', true),
      binary: binary as boolean[],
      ...range,
    });
  }

  toJSON(): StandardiserJson {
    return {
      features: [...this.features],
      transforms: [...this.transforms],
      mean: Array.from(this.mean),
      std: Array.from(this.std),
      binary: [...this.binary],
      ...(this.min.every((lo) => lo === -Infinity) && this.max.every((hi) => hi === Infinity) ? {} : { min: Array.from(this.min), max: Array.from(this.max) }),
    };
  }

  /**
   * Write the model input for one raw vector into `out[offset … offset + size)`. A non-finite
   * value becomes 0, the training mean, so one bad feature cannot turn a score into NaN. A value
   * beyond the training range is read as its nearest edge: the network never extrapolates. (A
   * feature that barely varied in training — the hour of day in a history of one hour — would
   * otherwise reach it hundreds of standard deviations out, and swamp every other input.)
   */
  apply(raw: ArrayLike<number>, out: Float32Array, offset = 0): void {
    const d = this.size;
    const mean = this.mean;
    const invStd = this.invStd;
    const logged = this.logged;
    const min = this.min;
    const max = this.max;
    for (let j = 0; j < d; j++) {
      let x = raw[j]!;
      if (logged[j] === 1) x = x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
      if (x - x !== 0) {
        out[offset + j] = 0; // x − x is NaN for ±Infinity and NaN
        continue;
      }
      out[offset + j] = (Math.min(Math.max(x, min[j]!), max[j]!) - mean[j]!) * invStd[j]!;
    }
  }

  /** Standardise `rows` into one row-major matrix (`out` is allocated when not given). */
  applyAll(rows: readonly ArrayLike<number>[], out: Float32Array = new Float32Array(rows.length * this.size)): Float32Array {
    for (let i = 0; i < rows.length; i++) this.apply(rows[i]!, out, i * this.size);
    return out;
  }
}
