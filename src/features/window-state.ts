// One entity's events in one kind of window, kept as mergeable tallies: tiles for tumbling and hopping windows, runs for sessions.
import { DistinctValues } from './distinct.ts';
import type { WindowSpec } from './spec.ts';

/** What an event brings to a tally. */
export interface Contribution {
  time: number;
  /** Arrival order within the partition: breaks ties in event time. */
  seq: number;
  /** The aggregated field's value, when the group aggregates a numeric field and the event has it. */
  value: number | undefined;
  /** The field's text, when the group counts distinct values and the event has it. */
  distinct: string | undefined;
}

/** Running aggregates of some events; two tallies merge into the tally of both. */
export class Tally {
  count = 0;
  /** Events with a value, their sum, mean and sum of squared deviations (Welford / Chan). */
  n = 0;
  sum = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  /** The latest event (by time, then arrival), and the latest one with a value. */
  latestTime = -Infinity;
  latestSeq = -1;
  valueTime = -Infinity;
  valueSeq = -1;
  lastValue = 0;
  distinct: DistinctValues | undefined;

  add(c: Contribution): void {
    this.count++;
    if (c.time > this.latestTime || (c.time === this.latestTime && c.seq > this.latestSeq)) {
      this.latestTime = c.time;
      this.latestSeq = c.seq;
    }
    if (c.value !== undefined) {
      const v = c.value;
      this.n++;
      this.sum += v;
      const delta = v - this.mean;
      this.mean += delta / this.n;
      this.m2 += delta * (v - this.mean);
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      if (c.time > this.valueTime || (c.time === this.valueTime && c.seq > this.valueSeq)) {
        this.valueTime = c.time;
        this.valueSeq = c.seq;
        this.lastValue = v;
      }
    }
    if (c.distinct !== undefined) (this.distinct ??= new DistinctValues()).add(c.distinct);
  }

  merge(o: Tally): void {
    this.count += o.count;
    if (o.latestTime > this.latestTime || (o.latestTime === this.latestTime && o.latestSeq > this.latestSeq)) {
      this.latestTime = o.latestTime;
      this.latestSeq = o.latestSeq;
    }
    if (o.n > 0) {
      const n = this.n + o.n;
      const delta = o.mean - this.mean;
      this.m2 += o.m2 + (delta * delta * this.n * o.n) / n;
      this.mean += (delta * o.n) / n;
      this.n = n;
      this.sum += o.sum;
      if (o.min < this.min) this.min = o.min;
      if (o.max > this.max) this.max = o.max;
      if (o.valueTime > this.valueTime || (o.valueTime === this.valueTime && o.valueSeq > this.valueSeq)) {
        this.valueTime = o.valueTime;
        this.valueSeq = o.valueSeq;
        this.lastValue = o.lastValue;
      }
    }
    if (o.distinct !== undefined) (this.distinct ??= new DistinctValues()).merge(o.distinct);
  }

  /** Bytes held, roughly: for the state's memory report. */
  get bytes(): number {
    return 120 + (this.distinct?.bytes ?? 0);
  }
}

/** An entity's state for one window kind: add events, read the window at a time, forget the past. */
export interface WindowState {
  add(c: Contribution): void;
  /**
   * Tallies of the window the event at `t` falls in (that event included only if added), leaving
   * out what no event at or after `earliest` could see: whether or not it is evicted yet, it is
   * not read, so values never depend on when eviction ran.
   */
  window(t: number, earliest: number): Tally[];
  /** Forget what no event at or after `earliest` (event time) can fall in. True when empty. */
  evict(earliest: number): boolean;
  readonly bytes: number;
}

/** Tumbling and hopping windows: one tally per hop-long tile, the window the last size/hop tiles. */
export class TiledWindow implements WindowState {
  private readonly tiles: number[] = [];
  private readonly tallies: Tally[] = [];

  constructor(
    private readonly hop: number,
    private readonly hops: number,
  ) {}

  add(c: Contribution): void {
    const k = Math.floor(c.time / this.hop);
    let i = this.tiles.length;
    while (i > 0 && this.tiles[i - 1]! > k) i--;
    if (i > 0 && this.tiles[i - 1] === k) {
      this.tallies[i - 1]!.add(c);
      return;
    }
    const tally = new Tally();
    tally.add(c);
    this.tiles.splice(i, 0, k);
    this.tallies.splice(i, 0, tally);
  }

  window(t: number, earliest: number): Tally[] {
    const last = Math.floor(t / this.hop);
    const first = Math.max(last, Math.floor(earliest / this.hop)) - this.hops + 1;
    const out: Tally[] = [];
    for (let i = this.tiles.length - 1; i >= 0; i--) {
      const k = this.tiles[i]!;
      if (k < first) break;
      if (k <= last) out.push(this.tallies[i]!);
    }
    return out;
  }

  evict(earliest: number): boolean {
    const first = Math.floor(earliest / this.hop) - this.hops + 1;
    let drop = 0;
    while (drop < this.tiles.length && this.tiles[drop]! < first) drop++;
    if (drop > 0) {
      this.tiles.splice(0, drop);
      this.tallies.splice(0, drop);
    }
    return this.tiles.length === 0;
  }

  get bytes(): number {
    let b = 64 + this.tiles.length * 16;
    for (const t of this.tallies) b += t.bytes;
    return b;
  }
}

/** Session windows: runs of events less than `gap` apart, merged when an event bridges two. */
export class SessionWindow implements WindowState {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly tallies: Tally[] = [];

  constructor(private readonly gap: number) {}

  /** Indexes [from, to) of the runs an event at `t` joins: start − gap < t < end + gap. */
  private touching(t: number): [number, number] {
    let from = this.starts.length;
    while (from > 0 && this.ends[from - 1]! + this.gap > t) from--;
    let to = from;
    while (to < this.starts.length && this.starts[to]! - this.gap < t) to++;
    return [from, to];
  }

  add(c: Contribution): void {
    const [from, to] = this.touching(c.time);
    const tally = new Tally();
    let start = c.time;
    let end = c.time;
    for (let i = from; i < to; i++) {
      tally.merge(this.tallies[i]!);
      start = Math.min(start, this.starts[i]!);
      end = Math.max(end, this.ends[i]!);
    }
    tally.add(c);
    this.starts.splice(from, to - from, start);
    this.ends.splice(from, to - from, end);
    this.tallies.splice(from, to - from, tally);
  }

  window(t: number, earliest: number): Tally[] {
    const [from, to] = this.touching(t);
    const out: Tally[] = [];
    for (let i = from; i < to; i++) if (this.ends[i]! + this.gap > earliest) out.push(this.tallies[i]!);
    return out;
  }

  evict(earliest: number): boolean {
    let drop = 0;
    while (drop < this.starts.length && this.ends[drop]! + this.gap <= earliest) drop++;
    if (drop > 0) {
      this.starts.splice(0, drop);
      this.ends.splice(0, drop);
      this.tallies.splice(0, drop);
    }
    return this.starts.length === 0;
  }

  get bytes(): number {
    let b = 64 + this.starts.length * 24;
    for (const t of this.tallies) b += t.bytes;
    return b;
  }
}

export function newWindowState(w: WindowSpec): WindowState {
  switch (w.kind) {
    case 'tumbling':
      return new TiledWindow(w.size, 1);
    case 'hopping':
      return new TiledWindow(w.hop, w.size / w.hop);
    case 'session':
      return new SessionWindow(w.gap);
  }
}

/** How far behind the earliest admissible event time a window can still reach: its state's horizon. */
export function horizonOf(w: WindowSpec): number {
  return w.kind === 'session' ? w.gap : w.size;
}
