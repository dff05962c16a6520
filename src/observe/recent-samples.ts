// The latest values of a measurement, kept in a fixed ring, and their quantiles: decision latency per tick, store write durations.

export class RecentSamples {
  private readonly values: Float64Array;
  private added = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  add(value: number): void {
    this.values[this.added++ % this.values.length] = value;
  }

  /** Values held: the latest `capacity` at most. */
  get size(): number {
    return Math.min(this.added, this.values.length);
  }

  /** The nearest-rank quantiles `qs` (0…1) of the values held, sorted once; 0 each when none is held. */
  quantiles(...qs: number[]): number[] {
    const n = this.size;
    const sorted = this.values.slice(0, n).sort();
    return qs.map((q) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]!));
  }

  clear(): void {
    this.added = 0;
  }
}
