// Distinct values of a window: exact while few, a HyperLogLog sketch once many.

/** Values kept exactly per tile before the tile switches to a sketch. */
export const DISTINCT_EXACT_LIMIT = 64;
/** 2^8 registers: ≈ 6.5 % standard error, 256 bytes per sketch. */
const P = 8;
const M = 1 << P;
const ALPHA = 0.7213 / (1 + 1.079 / M);

/** 32-bit hash of a value's text: FNV-1a, then murmur3's finaliser so every bit mixes. */
function hash(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function addToSketch(registers: Uint8Array, value: string): void {
  const h = hash(value);
  const index = h >>> (32 - P);
  const rest = (h << P) >>> 0;
  const rank = rest === 0 ? 32 - P + 1 : Math.clz32(rest) + 1;
  if (rank > registers[index]!) registers[index] = rank;
}

function estimate(registers: Uint8Array): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < M; i++) {
    sum += 2 ** -registers[i]!;
    if (registers[i] === 0) zeros++;
  }
  const raw = (ALPHA * M * M) / sum;
  // Small ranges: linear counting is the better estimate.
  return raw <= 2.5 * M && zeros > 0 ? M * Math.log(M / zeros) : raw;
}

/** Reused by every union of exact values, so a count allocates nothing: a list while short (most unions are), a set past that. */
const SHORT_UNION = 32;
const shortUnion: string[] = [];
const union = new Set<string>();

/** The distinct values of one tile: a short list (most entities have few), a sketch past the limit. */
export class DistinctValues {
  private exact: string[] | undefined = [];
  private sketch: Uint8Array | undefined;

  add(value: string): void {
    if (this.exact === undefined) return addToSketch(this.sketch!, value);
    if (this.exact.includes(value)) return;
    // A new array of exactly the needed length: a pushed one keeps spare room, multiplied by every tile.
    this.exact = [...this.exact, value];
    if (this.exact.length > DISTINCT_EXACT_LIMIT) this.toSketch();
  }

  merge(other: DistinctValues): void {
    if (other.exact !== undefined) {
      for (const v of other.exact) this.add(v);
      return;
    }
    const mine = this.sketch ?? this.toSketch();
    const theirs = other.sketch!;
    for (let i = 0; i < M; i++) if (theirs[i]! > mine[i]!) mine[i] = theirs[i]!;
  }

  /** Exact while every tile involved stayed under the limit; an estimate otherwise. */
  static countOf(parts: readonly DistinctValues[]): number {
    if (parts.length === 1 && parts[0]!.exact !== undefined) return parts[0]!.exact.length;
    if (parts.every((p) => p.exact !== undefined)) return DistinctValues.unionSize(parts);
    const all = new DistinctValues();
    const registers = all.toSketch();
    for (const p of parts) all.merge(p);
    return Math.round(estimate(registers));
  }

  /** From the exact list to a sketch of the same values. */
  private toSketch(): Uint8Array {
    const sketch = new Uint8Array(M);
    for (const v of this.exact!) addToSketch(sketch, v);
    this.exact = undefined;
    this.sketch = sketch;
    return sketch;
  }

  private static unionSize(parts: readonly DistinctValues[]): number {
    shortUnion.length = 0;
    let i = 0;
    let j = 0;
    for (; i < parts.length; i++) {
      const values = parts[i]!.exact!;
      for (j = 0; j < values.length; j++) {
        if (shortUnion.includes(values[j]!)) continue;
        if (shortUnion.length === SHORT_UNION) return DistinctValues.longUnionSize(parts, i, j);
        shortUnion.push(values[j]!);
      }
    }
    return shortUnion.length;
  }

  /** The union grew past the short list at value `j` of part `i`: go on with a set. */
  private static longUnionSize(parts: readonly DistinctValues[], i: number, j: number): number {
    union.clear();
    for (const v of shortUnion) union.add(v);
    for (; i < parts.length; i++, j = 0) {
      const values = parts[i]!.exact!;
      for (; j < values.length; j++) union.add(values[j]!);
    }
    return union.size;
  }

  /** Bytes held, roughly: for the state's memory report. */
  get bytes(): number {
    return this.exact !== undefined ? 48 + this.exact.length * 8 : 64 + M;
  }
}
