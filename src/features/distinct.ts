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

/** 2^−rank for every rank a register can hold (0…25 with 2^8 registers): a lookup instead of a power per register. */
const INVERSE_POWERS = Float64Array.from({ length: 32 - P + 2 }, (_, rank) => 2 ** -rank);

function estimate(registers: Uint8Array): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < M; i++) {
    const rank = registers[i]!;
    sum += INVERSE_POWERS[rank]!;
    if (rank === 0) zeros++;
  }
  const raw = (ALPHA * M * M) / sum;
  // Small ranges: linear counting is the better estimate.
  return raw <= 2.5 * M && zeros > 0 ? M * Math.log(M / zeros) : raw;
}

/**
 * Reused by every union of exact values, so a count allocates nothing: a list while short (most
 * unions are), a set past that. The list is filled by position, never truncated (an array set to
 * length 0 gives up its room).
 */
const SHORT_UNION = 32;
const shortUnion = new Array<string>(SHORT_UNION);
const union = new Set<string>();
/** The list of a set of no values, shared: a set's first value gets it a list of its own. */
const NO_VALUES: string[] = [];

/**
 * A tile's distinct values: a single value as itself — most tiles of most entities hold one (a
 * user's device in an hour, a device's user), and a string costs no object of its own to reach
 * — and two or more as a set.
 */
export type TileValues = string | DistinctValues;

/** `held` with `value` added: the value itself when it is the first, a set from the second on. */
export function withValue(held: TileValues | undefined, value: string): TileValues {
  if (held === undefined) return value;
  if (typeof held === 'string') {
    if (held === value) return held;
    const set = new DistinctValues();
    set.add(held);
    set.add(value);
    return set;
  }
  held.add(value);
  return held;
}

/**
 * The union of one field's values over a window's tiles, kept by a window that holds many (a
 * device or an address shared by hundreds of users): a value joining a tile in the window updates
 * it, so a read at the same window counts nothing again instead of the union of every tile's
 * values (a value each, from memory). Exact while every tile in the window is, then a sketch: the
 * count `countOf` gives for the same tiles.
 */
export class DistinctUnion {
  private constructor(
    /** The values, while every tile is exact. */
    private readonly values: Set<string> | undefined,
    /** The merged registers, once a tile is a sketch. */
    private readonly registers: Uint8Array | undefined,
    public count: number,
  ) {}

  /** The union of `parts[0…count)`. */
  static of(parts: readonly TileValues[], count: number): DistinctUnion {
    if (allExact(parts, count)) {
      const values = new Set<string>();
      for (let i = 0; i < count; i++) {
        const part = parts[i]!;
        if (typeof part === 'string') values.add(part);
        else for (let j = 0; j < part.n; j++) values.add(part.exact![j]!);
      }
      return new DistinctUnion(values, undefined, values.size);
    }
    const registers = mergedRegisters(parts, count);
    return new DistinctUnion(undefined, registers, Math.round(estimate(registers)));
  }

  /**
   * `value` joined a tile in the window, which holds `tile` now. False when the union cannot follow:
   * an exact one whose tile has just become a sketch (its count is an estimate from now on).
   */
  add(value: string, tile: TileValues): boolean {
    if (this.values !== undefined) {
      if (typeof tile !== 'string' && tile.exact === undefined) return false;
      if (!this.values.has(value)) {
        this.values.add(value);
        this.count++;
      }
      return true;
    }
    addToSketch(this.registers!, value);
    this.count = Math.round(estimate(this.registers!));
    return true;
  }

  /** The count with `value` too (a too-late event's own, read as if it had joined). */
  countWith(value: string): number {
    if (this.values !== undefined) return this.values.has(value) ? this.count : this.count + 1;
    SCRATCH.set(this.registers!);
    addToSketch(SCRATCH, value);
    return Math.round(estimate(SCRATCH));
  }

  /** Bytes held, roughly: for the state's memory report. */
  get bytes(): number {
    return this.values !== undefined ? 64 + this.values.size * 24 : 64 + M;
  }
}

/** Whether every one of `parts[0…count)` holds its values exactly (none is a sketch): their union is then exact. */
function allExact(parts: readonly TileValues[], count: number): boolean {
  for (let i = 0; i < count; i++) {
    const part = parts[i]!;
    if (typeof part !== 'string' && part.exact === undefined) return false;
  }
  return true;
}

/** The registers of a sketch of `parts[0…count)` together (a new array). */
function mergedRegisters(parts: readonly TileValues[], count: number): Uint8Array {
  const all = new DistinctValues();
  const registers = all.toSketch();
  for (let i = 0; i < count; i++) all.merge(parts[i]!);
  return registers;
}

/** Registers to estimate a union with one more value in, without changing the union's. */
const SCRATCH = new Uint8Array(M);

/**
 * The distinct values of one tile, past the first: a short list (most entities have few), a sketch past the limit.
 * The list keeps spare room by doubling (from one value), so a tile adds values without a new
 * array each; a tile's set is cleared and reused when the tile leaves (see TiledWindows).
 */
export class DistinctValues {
  /** The values, in `exact[0…n)`; the rest is spare room. Undefined once a sketch. (Read by DistinctUnion.) */
  exact: string[] | undefined = NO_VALUES;
  n = 0;
  private sketch: Uint8Array | undefined;

  add(value: string): void {
    const exact = this.exact;
    if (exact === undefined) return addToSketch(this.sketch!, value);
    const n = this.n;
    for (let i = 0; i < n; i++) if (exact[i] === value) return;
    if (n === DISTINCT_EXACT_LIMIT) {
      this.toSketch();
      return addToSketch(this.sketch!, value);
    }
    if (n === exact.length) {
      const grown = new Array<string>(Math.max(1, 2 * n));
      for (let i = 0; i < n; i++) grown[i] = exact[i]!;
      this.exact = grown;
    }
    this.exact![n] = value;
    this.n = n + 1;
  }

  /** Back to no values, keeping the list's room (a sketch goes: most tiles never need one). */
  clear(): this {
    if (this.exact === undefined) this.exact = NO_VALUES;
    this.n = 0;
    this.sketch = undefined;
    return this;
  }

  merge(other: TileValues): void {
    if (typeof other === 'string') return this.add(other);
    if (other.exact !== undefined) {
      for (let i = 0; i < other.n; i++) this.add(other.exact[i]!);
      return;
    }
    const mine = this.sketch ?? this.toSketch();
    const theirs = other.sketch!;
    for (let i = 0; i < M; i++) if (theirs[i]! > mine[i]!) mine[i] = theirs[i]!;
  }

  /** Of `parts[0…count)`: exact while every tile involved stayed under the limit; an estimate otherwise. */
  static countOf(parts: readonly TileValues[], count = parts.length): number {
    if (count === 1) {
      const only = parts[0]!;
      if (typeof only === 'string') return 1;
      if (only.exact !== undefined) return only.n;
    }
    if (allExact(parts, count)) return DistinctValues.unionSize(parts, count);
    return Math.round(estimate(mergedRegisters(parts, count)));
  }

  /** From the exact list to a sketch of the same values. */
  toSketch(): Uint8Array {
    const sketch = new Uint8Array(M);
    for (let i = 0; i < this.n; i++) addToSketch(sketch, this.exact![i]!);
    this.exact = undefined;
    this.n = 0;
    this.sketch = sketch;
    return sketch;
  }

  private static unionSize(parts: readonly TileValues[], count: number): number {
    let size = 0;
    for (let i = 0; i < count; i++) {
      const part = parts[i]!;
      const single = typeof part === 'string';
      const n = single ? 1 : part.n;
      next: for (let j = 0; j < n; j++) {
        const value = single ? part : part.exact![j]!;
        for (let u = 0; u < size; u++) if (shortUnion[u] === value) continue next;
        if (size === SHORT_UNION) return DistinctValues.longUnionSize(parts, count, i, j);
        shortUnion[size++] = value;
      }
    }
    return size;
  }

  /** The union grew past the short list at value `j` of part `i`: go on with a set. */
  private static longUnionSize(parts: readonly TileValues[], count: number, i: number, j: number): number {
    union.clear();
    for (let u = 0; u < SHORT_UNION; u++) union.add(shortUnion[u]!);
    for (; i < count; i++, j = 0) {
      const part = parts[i]!;
      if (typeof part === 'string') {
        if (j === 0) union.add(part);
        continue;
      }
      for (; j < part.n; j++) union.add(part.exact![j]!);
    }
    return union.size;
  }

  /** Bytes held, roughly: for the state's memory report. */
  get bytes(): number {
    return this.exact !== undefined ? 48 + this.exact.length * 8 : 64 + M;
  }
}
