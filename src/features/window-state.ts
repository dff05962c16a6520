// An entity's events in one window kind, kept as compact mergeable tallies: hop-long tiles, or session runs.
import { DistinctUnion, DistinctValues, withValue, type TileValues } from './distinct.ts';
import type { Aggregation, WindowSpec } from './spec.ts';

/** Whether (time, seq) comes after the (time, seq) pair stored at `d[at]`, `d[at + 1]`: event time first, then arrival. */
function later(time: number, seq: number, d: ArrayLike<number>, at: number): boolean {
  return time > d[at]! || (time === d[at] && seq > d[at + 1]!);
}

/** Copy the `width` numbers at `s[from]` (a time, a seq, then any value) over `d[at]` when they are later. */
function takeIfLater(d: number[] | Float64Array, at: number, s: ArrayLike<number>, from: number, width: number): void {
  if (!later(s[from]!, s[from + 1]!, d, at)) return;
  for (let k = 0; k < width; k++) d[at + k] = s[from + k]!;
}

/**
 * Which running aggregates a tally keeps, as offsets into its slot of numbers (-1: not kept).
 * Derived from the aggregations of the features sharing the state, so a count-only window keeps
 * one number per tile and a tile of a 30-day window costs a few dozen bytes.
 */
export class TallyLayout {
  /** Numbers per tally, after the slot's header (a tile's index, or a run's start and end). */
  readonly size: number;
  readonly count = 0;
  readonly latest: number;
  readonly n: number;
  readonly sum: number;
  readonly moments: number;
  readonly min: number;
  readonly max: number;
  readonly last: number;
  /** Events of the tally labelled fraud (labels arrive later and are added to the tile of their event). */
  readonly fraud: number;
  /**
   * Fields whose distinct values each slot keeps beside its numbers (0: none). A window counts the
   * distinct values of several fields in one block (a user's devices and countries over the same
   * day): an event reaches one block instead of one per field.
   */
  readonly distinct: number;
  /** A tally of no events. */
  readonly empty: readonly number[];
  private readonly emptyArray: Float64Array;

  constructor(aggregations: ReadonlySet<Aggregation>, numeric: boolean, distinctFields = 0) {
    let size = 1;
    const take = (wanted: boolean, width: number): number => {
      if (!wanted) return -1;
      size += width;
      return size - width;
    };
    const has = (a: Aggregation): boolean => aggregations.has(a);
    this.latest = take(has('time_since_last'), 2);
    this.n = take(numeric, 1);
    this.sum = take(has('sum'), 1);
    this.moments = take(has('mean') || has('std'), 2);
    this.min = take(has('min'), 1);
    this.max = take(has('max'), 1);
    this.last = take(has('last'), 3);
    this.fraud = take(has('fraud_count') || has('fraud_rate'), 1);
    this.distinct = distinctFields;
    this.size = size;
    const empty = new Array<number>(size).fill(0);
    if (this.latest >= 0) [empty[this.latest], empty[this.latest + 1]] = [-Infinity, -1];
    if (this.min >= 0) empty[this.min] = Infinity;
    if (this.max >= 0) empty[this.max] = -Infinity;
    if (this.last >= 0) [empty[this.last], empty[this.last + 1]] = [-Infinity, -1];
    this.empty = empty;
    this.emptyArray = Float64Array.from(empty);
  }

  /** Make the tally at the start of `d` a tally of no events. */
  clear(d: Float64Array): void {
    d.set(this.emptyArray);
  }

  /** Add one event to the tally at `d[o…]`. */
  add(d: number[] | Float64Array, o: number, time: number, seq: number, value: number | undefined): void {
    d[o]!++;
    if (this.latest >= 0 && later(time, seq, d, o + this.latest)) {
      d[o + this.latest] = time;
      d[o + this.latest + 1] = seq;
    }
    if (value === undefined || this.n < 0) return;
    const n = ++d[o + this.n]!;
    if (this.sum >= 0) d[o + this.sum]! += value;
    if (this.moments >= 0) {
      // Welford's update of the mean and the sum of squared deviations.
      const m = o + this.moments;
      const delta = value - d[m]!;
      d[m]! += delta / n;
      d[m + 1]! += delta * (value - d[m]!);
    }
    if (this.min >= 0 && value < d[o + this.min]!) d[o + this.min] = value;
    if (this.max >= 0 && value > d[o + this.max]!) d[o + this.max] = value;
    if (this.last >= 0 && later(time, seq, d, o + this.last)) {
      d[o + this.last] = time;
      d[o + this.last + 1] = seq;
      d[o + this.last + 2] = value;
    }
  }

  /** Merge the tally at `s[so…]` into the one at `d[o…]`. */
  merge(d: number[] | Float64Array, o: number, s: readonly number[] | Float64Array, so: number): void {
    d[o]! += s[so]!;
    if (this.fraud >= 0) d[o + this.fraud]! += s[so + this.fraud]!;
    if (this.latest >= 0) takeIfLater(d, o + this.latest, s, so + this.latest, 2);
    if (this.n < 0) return;
    const nb = s[so + this.n]!;
    if (nb === 0) return;
    const na = d[o + this.n]!;
    const n = na + nb;
    d[o + this.n] = n;
    if (this.sum >= 0) d[o + this.sum]! += s[so + this.sum]!;
    if (this.moments >= 0) {
      // Chan et al.: combine two (n, mean, M2) summaries exactly.
      const m = o + this.moments;
      const sm = so + this.moments;
      const delta = s[sm]! - d[m]!;
      d[m + 1]! += s[sm + 1]! + (delta * delta * na * nb) / n;
      d[m]! += (delta * nb) / n;
    }
    if (this.min >= 0 && s[so + this.min]! < d[o + this.min]!) d[o + this.min] = s[so + this.min]!;
    if (this.max >= 0 && s[so + this.max]! > d[o + this.max]!) d[o + this.max] = s[so + this.max]!;
    if (this.last >= 0) takeIfLater(d, o + this.last, s, so + this.last, 3);
  }

  /** An aggregation of the tally at `d[o…]`, read at event time `t`; undefined when there is nothing to aggregate. */
  read(kind: Exclude<Aggregation, 'distinct'>, d: Float64Array, o: number, t: number): number | undefined {
    const n = this.n < 0 ? 0 : d[o + this.n]!;
    switch (kind) {
      case 'count':
        return d[o]!;
      case 'sum':
        return d[o + this.sum]!;
      case 'mean':
        return n === 0 ? undefined : d[o + this.moments]!;
      case 'std':
        return n === 0 ? undefined : Math.sqrt(Math.max(0, d[o + this.moments + 1]! / n));
      case 'min':
        return n === 0 ? undefined : d[o + this.min]!;
      case 'max':
        return n === 0 ? undefined : d[o + this.max]!;
      case 'last':
        return n === 0 ? undefined : d[o + this.last + 2]!;
      case 'time_since_last':
        // Seconds; an earlier-processed event that happened after this one is "no time ago".
        return d[o]! === 0 ? undefined : Math.max(0, t - d[o + this.latest]!) / 1000;
      case 'fraud_count':
        return d[o + this.fraud]!;
      case 'fraud_rate':
        // At most 1: an event too late to join its window still carries its label.
        return d[o]! === 0 ? undefined : Math.min(1, d[o + this.fraud]! / d[o]!);
    }
  }
}

/**
 * One entity's state for one window: slots of numbers (a header, then a tally) in time order, in
 * one flat array (a tiled window's with a count in front and room behind), and, when distinct
 * values are counted, one set per slot in a second array.
 */
export type Slots = number[];
/**
 * The distinct values of each slot (none yet: undefined). A tiled window's entries past its tiles
 * are spares: a left tile's set, or none.
 */
export type SlotSets = (TileValues | undefined)[] | undefined;

/**
 * What a window read gathers: the merged tally, and per distinct field the sets of the slots read.
 * Reused across reads; the sets are counted rather than truncated (an array set to length 0 gives
 * up its room, and the next read would allocate it again).
 */
export class WindowRead {
  readonly tally: Float64Array;
  private readonly sets: TileValues[][];
  private readonly setCounts: number[];
  /** Per field, the union the window keeps, when the read took it instead of sets (see DistinctUnion). */
  private readonly unions: (DistinctUnion | undefined)[];
  /** Per field, a too-late event's own value added to a union read. */
  private readonly own: (string | undefined)[];
  /** Per field, the count of the sets gathered once computed (−1: not yet): the window and the feature both ask. */
  private readonly counted: number[];

  constructor(private readonly layout: TallyLayout) {
    this.tally = new Float64Array(layout.size);
    this.sets = Array.from({ length: layout.distinct }, () => []);
    this.setCounts = new Array<number>(layout.distinct).fill(0);
    this.unions = new Array<DistinctUnion | undefined>(layout.distinct).fill(undefined);
    this.own = new Array<string | undefined>(layout.distinct).fill(undefined);
    this.counted = new Array<number>(layout.distinct).fill(-1);
  }

  /** Back to a read of nothing. */
  reset(): void {
    this.layout.clear(this.tally);
    this.resetSets();
  }

  /** Back to no distinct sets gathered (the tally as it is). */
  resetSets(): void {
    for (let f = 0; f < this.setCounts.length; f++) {
      this.setCounts[f] = 0;
      this.unions[f] = undefined;
      this.own[f] = undefined;
      this.counted[f] = -1;
    }
  }

  /** Gather a slot's distinct values of field `f` (none: undefined); after `useUnion`, a too-late event's own value. */
  addSet(f: number, set: TileValues | undefined): void {
    if (set === undefined) return;
    if (this.unions[f] !== undefined) this.own[f] = set as string;
    else {
      this.sets[f]![this.setCounts[f]!++] = set;
      this.counted[f] = -1;
    }
  }

  /** Read field `f`'s values as `union` (the window's, for these very tiles) rather than the sets gathered. */
  useUnion(f: number, union: DistinctUnion): void {
    this.unions[f] = union;
  }

  /** The union of field `f`'s sets gathered, to be kept by the window. */
  unionOf(f: number): DistinctUnion {
    return DistinctUnion.of(this.sets[f]!, this.setCounts[f]!);
  }

  /** Distinct values of field `f` in the sets gathered (0 with none). */
  distinctCount(f: number): number {
    const union = this.unions[f];
    if (union !== undefined) return this.own[f] === undefined ? union.count : union.countWith(this.own[f]);
    if (this.counted[f]! < 0) {
      const count = this.setCounts[f]!;
      this.counted[f] = count === 0 ? 0 : DistinctValues.countOf(this.sets[f]!, count);
    }
    return this.counted[f]!;
  }
}

/**
 * Where an entity keeps its windows, by group position: slot arrays and, for distinct counts,
 * set arrays (a slot's sets, one per distinct field, together: slot i of a window counting d
 * fields has field f's at i × d + f). No kind pushes onto them: an array that grew by push keeps V8's spare capacity
 * (half as much again, plus 16), and across a million entities spare capacity is most of the
 * memory. Session windows replace their array; tiled windows double theirs when full.
 */
export interface WindowHolder {
  windows: (Slots | undefined)[];
  sets: SlotSets[] | undefined;
  /** The unions of the windows that hold many distinct values (see KeptUnions), by group position; created with the first. */
  unions: (KeptUnions | undefined)[] | undefined;
}

/**
 * A running window's unions of its distinct fields, for the window that ends at tile `last` (a read
 * of another window — the next tile, a late event's — gathers the sets again): kept per field
 * once a read counts at least MANY_VALUES, updated as values join the window's tiles.
 */
export interface KeptUnions {
  last: number;
  byField: (DistinctUnion | undefined)[];
}

/** Distinct values in a window from which it keeps their union: below, gathering the tiles' few values costs less than a union to keep. */
const MANY_VALUES = 32;

/** The holder's distinct sets, created with its first distinct count: most entities never need them. */
function setsOf(h: WindowHolder): SlotSets[] {
  return (h.sets ??= new Array<SlotSets>(h.windows.length).fill(undefined));
}

/** `a` with `count` items at `start` replaced by `insert`, in a new array of exactly the needed length. */
function spliced<T>(a: T[], start: number, count: number, insert: readonly T[]): T[] {
  if (start === a.length) return a.concat(insert);
  return a.slice(0, start).concat(insert, a.slice(start + count));
}

/** The behaviour of one window kind over an entity's slots: add an event, read the window at a time, forget the past. */
export interface WindowKind {
  readonly layout: TallyLayout;
  /**
   * How far behind an entity's latest event in it the window is still read: its length, plus
   * the hop of the tile that event filled (a session run ends at its latest event).
   */
  readonly reachMs: number;
  /**
   * Add an event to the window (`sub`: the sub-entity's key in a keyed window, 0 otherwise); the
   * position of the slot it joined, for `addDistinct`.
   */
  add(h: WindowHolder, at: number, time: number, seq: number, value: number | undefined, sub: number): number;
  /** Add the event's value of distinct field `f` to slot `slot` (as `add` returned it, before any other change). */
  addDistinct(h: WindowHolder, at: number, slot: number, f: number, value: string): void;
  /**
   * Merge into `into` the window the event at `t` falls in (that event included only if added),
   * leaving out what no event at or after `earliest` could see: whether or not it is evicted
   * yet, it is not read, so values never depend on when eviction ran.
   */
  read(h: WindowHolder, at: number, t: number, earliest: number, into: WindowRead, sub: number): void;
  /** Forget what no event at or after `earliest` can fall in (a session window left empty is removed; a tiled one keeps its room). */
  evict(h: WindowHolder, at: number, earliest: number): void;
  /** Forget the whole window: its entity's latest event no longer reaches it. */
  drop(h: WindowHolder, at: number): void;
  /** Give back the window's spare room: the expiry sweep found its entity idle. */
  compact(h: WindowHolder, at: number): void;
  /** Whether the window an event at `t` falls in is whole once what `earliest` allows is forgotten. */
  whole(t: number, earliest: number): boolean;
  /** Whether an event's window holds the event itself (not with a label delay, which ends it before). */
  readonly holdsOwn: boolean;
}

/** Remove the window at `at`, its sets and unions. */
function remove(h: WindowHolder, at: number): void {
  h.windows[at] = undefined;
  if (h.sets !== undefined) h.sets[at] = undefined;
  if (h.unions !== undefined) h.unions[at] = undefined;
}

/** Drop the first `drop` slots of the window at `at` (all of them: remove it); `fields`: its distinct fields. */
function dropFront(h: WindowHolder, at: number, drop: number, stride: number, fields: number): void {
  const s = h.windows[at]!;
  if (drop * stride >= s.length) remove(h, at);
  else {
    h.windows[at] = s.slice(drop * stride);
    if (h.sets?.[at] !== undefined) h.sets[at] = h.sets[at].slice(drop * fields);
  }
}

/** A distinct value added to `sets[i]`. */
function addValue(sets: (TileValues | undefined)[], i: number, value: string): void {
  sets[i] = withValue(sets[i], value);
}

/**
 * Blocks of dropped windows a tiled window kind keeps for its new windows: at most this many, of
 * at most this much room (in tiles). Most windows the sweep drops are a sparse entity's short ones
 * (one or two tiles), which its next event makes again: a spare block saves that allocation,
 * and the spares of a set's window kinds together hold a few megabytes at most.
 */
const SPARE_BLOCKS = 1024;
const SPARE_ROOM = 4;

/**
 * Makers of blocks, by length: each a function returning an array literal of unboxed doubles, so
 * that every block of a length comes from one allocation site. Unboxed doubles (V8's
 * PACKED_DOUBLE_ELEMENTS) whatever the values: a count-only block would otherwise start as small
 * integers and change kind at its first sum or sub-key, and code seeing blocks of several kinds
 * deoptimises, again and again. One site: V8 follows what becomes of the objects a site allocates,
 * and once nearly all of them outlive the young generation (a window's block lives as long as its
 * entity) it allocates the site's next ones in the old generation directly, so the young
 * generation's collections stop copying the growing state (twice each) and scanning it. `slice`
 * and `concat` have no such site.
 */
const blockMakers: (() => number[])[] = [];

/** The first `length` numbers of `source` (zeros past its end), in a new block of unboxed doubles (see blockMakers). */
function newBlock(source: readonly number[], length: number): number[] {
  // Generated from a length only: the literal holds a placeholder double, repeated.
  const make = (blockMakers[length] ??= new Function(`return [${new Array<string>(length).fill('0.5').join(',')}];`) as () => number[]);
  const block = make();
  const copied = Math.min(length, source.length);
  for (let i = 0; i < copied; i++) block[i] = source[i]!;
  for (let i = copied; i < length; i++) block[i] = 0;
  return block;
}

/** A distinct sets array of `room` spares (none yet), of the one elements kind every such array has. */
function noSets(room: number): SlotSets {
  return new Array<TileValues | undefined>(room);
}

/**
 * Tumbling and hopping windows: one tally per hop-long tile; slot = [tile index, …tally]. With a
 * label delay the window read is the `hops` whole tiles that end at or before t − delay, and a
 * fraud label adds to the tile of the event it judges.
 *
 * A keyed window holds the tiles of many sub-entities of its entity (a user's countries or
 * devices), slot = [tile index, sub-key, …tally], ordered by tile then sub-key: a sub-entity
 * costs a few numbers per tile instead of an entity of its own.
 *
 * A window's tiles live in one block of numbers that keeps spare room: [tiles held, …slots], the
 * slots in time order and then room for more. A new tile takes the room (shifting later tiles when
 * it comes between them) and leaving tiles shift the rest to the front, so an event allocates
 * nothing; a full block is replaced by one of twice the room (so a window of n tiles was copied
 * about log₂ n times in its life, and holds at most twice the numbers it needs). A window
 * whose tiles all left keeps its block for its entity's next event. The expiry sweep, when it
 * finds the entity idle, gives back the room beyond its tiles (`compact`), or drops the window,
 * whose block, if small, becomes a spare for a new window of the kind. Distinct values are a second
 * array, parallel to the slots: a tile's one value as itself, more as a set, which is cleared and
 * reused as tiles leave and come.
 *
 * A running window (the compiled engine's) also keeps, before its slots, the window's merged
 * tally as of its latest read: [tiles held, anchor, …tally, …slots], where the anchor is the last
 * tile that read held. An event joining a tile the tally covers, or a label on one, updates it
 * too, so a read at the same anchor is a copy (O(1)) instead of a merge of up to `hops` tiles; a
 * read past it re-merges the tiles once (the tiles leaving are dropped exactly, so sums do not
 * drift over time); a read before it (a late event) merges the tiles as the interpreter does.
 */
export class TiledWindows implements WindowKind {
  private readonly stride: number;
  /** Numbers before the tally: the tile index, and the sub-key when keyed. */
  private readonly header: number;
  /** Numbers before the first slot: the count of tiles held, then the running tally's anchor and tally, if any. */
  private readonly head: number;
  private readonly running: boolean;
  /**
   * Copied into a new block: no tiles (a running tally anchored nowhere, NaN, until its first
   * read), room for two — a window's second tile is common (two events a hop apart) and a block
   * grown from one to two tiles would be the only copy most short windows ever make.
   */
  private readonly fresh: readonly number[];
  private readonly emptySlot: readonly number[];
  /** Dropped windows' blocks and sets, for new windows (see SPARE_BLOCKS). */
  private readonly spareBlocks: Slots[] = [];
  private readonly spareSets: SlotSets[] = [];
  readonly reachMs: number;
  /** Tiles between the one holding t − delay and the window's last: 0, or 1 with a label delay. */
  private readonly skip: number;
  readonly holdsOwn: boolean;

  constructor(
    readonly layout: TallyLayout,
    private readonly hop: number,
    private readonly hops: number,
    private readonly delay: number | undefined = undefined,
    private readonly keyed = false,
    running = false,
  ) {
    if (running && keyed) throw new Error('a running window keeps one tally: not keyed');
    this.running = running;
    this.header = keyed ? 2 : 1;
    this.head = running ? 2 + layout.size : 1;
    this.stride = this.header + layout.size;
    this.emptySlot = [...(keyed ? [0, 0] : [0]), ...layout.empty];
    const fresh = [0, ...(running ? [NaN, ...layout.empty] : []), ...this.emptySlot, ...this.emptySlot];
    this.fresh = newBlock(fresh, fresh.length);
    this.skip = delay === undefined ? 0 : 1;
    this.holdsOwn = delay === undefined;
    this.reachMs = hop * (hops + 1) + (delay ?? 0);
  }

  /** Position of the slot of tile `k` and sub-key `sub` in `s`, or −1 − where it would go. */
  private find(s: readonly number[], k: number, sub: number): number {
    const stride = this.stride;
    const head = this.head;
    let i = s[0]!;
    while (i > 0) {
      const o = head + (i - 1) * stride;
      const tile = s[o]!;
      if (tile < k || (tile === k && (!this.keyed || s[o + 1]! <= sub))) break;
      i--;
    }
    if (i > 0 && s[head + (i - 1) * stride] === k && (!this.keyed || s[head + (i - 1) * stride + 1] === sub)) return i - 1;
    return -1 - i;
  }

  /** Whether the running tally (anchored at `s[1]`) covers tile `k`. */
  private covers(s: readonly number[], k: number): boolean {
    return this.running && k <= s[1]! && k > s[1]! - this.hops;
  }

  /** The last tile the window read at `t` holds. */
  private lastTile(t: number): number {
    return Math.floor((t - (this.delay ?? 0)) / this.hop) - this.skip;
  }

  add(h: WindowHolder, at: number, time: number, seq: number, value: number | undefined, sub: number): number {
    const k = Math.floor(time / this.hop);
    const s = h.windows[at] ?? this.open(h, at);
    let i = this.find(s, k, sub);
    let d = s;
    if (i < 0) {
      i = -1 - i;
      d = this.insert(h, at, s, i, k, sub);
    }
    this.layout.add(d, this.head + i * this.stride + this.header, time, seq, value);
    if (this.covers(d, k)) this.layout.add(d, 2, time, seq, value);
    return i;
  }

  addDistinct(h: WindowHolder, at: number, slot: number, f: number, value: string): void {
    const sets = h.sets![at]!;
    const i = slot * this.layout.distinct + f;
    addValue(sets, i, value);
    const kept = h.unions?.[at];
    const union = kept?.byField[f];
    if (union === undefined) return;
    // Its tile is in the window the union is of: the value joins the union (or the union goes, if it cannot follow).
    const k = h.windows[at]![this.head + slot * this.stride]!;
    if (k <= kept!.last && k > kept!.last - this.hops && !union.add(value, sets[i]!)) kept!.byField[f] = undefined;
  }

  /** A new window at `at`: a spare block if one is kept, emptied, else a new block. */
  private open(h: WindowHolder, at: number): Slots {
    const s = this.spareBlocks.pop();
    if (s === undefined) {
      const fresh = newBlock(this.fresh, this.fresh.length);
      h.windows[at] = fresh;
      if (this.layout.distinct > 0) setsOf(h)[at] = noSets(2 * this.layout.distinct);
      return fresh;
    }
    s[0] = 0;
    if (this.running) {
      s[1] = NaN;
      const empty = this.layout.empty;
      for (let k = 0; k < empty.length; k++) s[2 + k] = empty[k]!;
    }
    h.windows[at] = s;
    // Its sets are all spares now: each is cleared as a tile takes it.
    const sets = this.spareSets.pop();
    if (this.layout.distinct > 0) setsOf(h)[at] = sets;
    return s;
  }

  drop(h: WindowHolder, at: number): void {
    const s = h.windows[at];
    if (s === undefined) return;
    if (this.spareBlocks.length < SPARE_BLOCKS && s.length <= this.head + SPARE_ROOM * this.stride) {
      this.spareBlocks.push(s);
      this.spareSets.push(h.sets?.[at]);
    }
    remove(h, at);
  }

  /** Down to room for the tiles held (for two when fewer: a block that small is the common case, and kept as such). */
  compact(h: WindowHolder, at: number): void {
    const s = h.windows[at];
    if (s === undefined) return;
    const room = Math.max(2, s[0]!);
    if (s.length <= this.head + room * this.stride) return;
    h.windows[at] = newBlock(s, this.head + room * this.stride);
    if (h.sets?.[at] !== undefined) h.sets[at] = h.sets[at].slice(0, room * this.layout.distinct);
  }

  /** Make slot `i` of the window at `at` an empty tile `k` (sub-key `sub`), the slots from `i` on moving up one; the block, grown if it was full. */
  private insert(h: WindowHolder, at: number, s: Slots, i: number, k: number, sub: number): Slots {
    const stride = this.stride;
    const head = this.head;
    const n = s[0]!;
    const room = (s.length - head) / stride;
    if (n === room) {
      s = newBlock(s, s.length + room * stride);
      h.windows[at] = s;
      if (this.layout.distinct > 0) {
        // Grown from noSets' allocation site rather than by concat, for the reason of blockMakers.
        const sets = h.sets![at]!;
        const grown = noSets(sets.length + room * this.layout.distinct)!;
        for (let j = 0; j < sets.length; j++) grown[j] = sets[j];
        h.sets![at] = grown;
      }
    }
    const o = head + i * stride;
    for (let j = head + n * stride - 1; j >= o; j--) s[j + stride] = s[j]!;
    const empty = this.emptySlot;
    for (let j = 0; j < stride; j++) s[o + j] = empty[j]!;
    s[o] = k;
    if (this.keyed) s[o + 1] = sub;
    s[0] = n + 1;
    const fields = this.layout.distinct;
    if (fields > 0) {
      // The sets past the last tile are spares (a left tile's, or none yet): they become slot i's.
      const sets = h.sets![at]!;
      for (let f = 0; f < fields; f++) {
        const spare = sets[n * fields + f];
        for (let j = n * fields + f; j > i * fields + f; j -= fields) sets[j] = sets[j - fields]!;
        sets[i * fields + f] = spare instanceof DistinctValues ? spare.clear() : undefined;
      }
    }
    return s;
  }

  /**
   * Count (`delta` 1) or uncount (−1) a fraud label of the event at `time`, in that event's tile.
   * False when the tile is gone (beyond reach) or never held an event.
   */
  label(h: WindowHolder, at: number, time: number, delta: number, sub: number): boolean {
    const s = h.windows[at];
    if (s === undefined) return false;
    const k = Math.floor(time / this.hop);
    const i = this.find(s, k, sub);
    if (i < 0) return false;
    s[this.head + i * this.stride + this.header + this.layout.fraud]! += delta;
    if (this.covers(s, k)) s[2 + this.layout.fraud]! += delta;
    return true;
  }

  read(h: WindowHolder, at: number, t: number, earliest: number, into: WindowRead, sub: number): void {
    const s = h.windows[at];
    if (s === undefined) return into.reset();
    const last = this.lastTile(t);
    const first = Math.max(last, this.lastTile(earliest)) - this.hops + 1;
    if (this.running && first === last - this.hops + 1 && !(last < s[1]!)) {
      // At or past the anchor: (re-anchor and) copy the running tally.
      if (last !== s[1]) {
        s[1] = last;
        const tally = this.layout.empty;
        for (let k = 0; k < tally.length; k++) s[2 + k] = tally[k]!;
        this.mergeTiles(s, first, last, sub, s, 2, undefined, undefined);
      }
      // The copy is the whole tally: nothing to reset first. Distinct sets are gathered from the tiles.
      const tally = into.tally;
      for (let k = 0; k < tally.length; k++) tally[k] = s[2 + k]!;
      if (this.layout.distinct > 0) this.readDistinct(h, at, s, first, last, into);
      return;
    }
    into.reset();
    this.mergeTiles(s, first, last, sub, into.tally, 0, h.sets?.[at], into);
  }

  /**
   * A running window's distinct counts for the tiles `first`…`last`: from the unions it keeps for
   * that window, else from the tiles' sets — keeping the union of a field with many values.
   */
  private readDistinct(h: WindowHolder, at: number, s: readonly number[], first: number, last: number, into: WindowRead): void {
    const fields = this.layout.distinct;
    let kept = h.unions?.[at];
    if (kept !== undefined && kept.last !== last) kept = undefined;
    into.resetSets();
    let gather = kept === undefined;
    for (let f = 0; f < fields && !gather; f++) gather = kept!.byField[f] === undefined;
    if (gather) this.gatherSets(s, first, last, h.sets?.[at], into);
    for (let f = 0; f < fields; f++) {
      let union = kept?.byField[f];
      if (union === undefined && into.distinctCount(f) >= MANY_VALUES) {
        kept ??= keepUnions(h, at, last, fields);
        union = kept.byField[f] = into.unionOf(f);
      }
      if (union !== undefined) into.useUnion(f, union);
    }
    if (kept === undefined && h.unions?.[at] !== undefined) h.unions[at] = undefined;
  }

  /** Gather the distinct sets of the tiles `first`…`last` (a running window's: not keyed). */
  private gatherSets(s: readonly number[], first: number, last: number, sets: SlotSets, into: WindowRead): void {
    if (sets === undefined) return;
    const fields = this.layout.distinct;
    for (let i = s[0]! - 1; i >= 0; i--) {
      const k = s[this.head + i * this.stride]!;
      if (k < first) break;
      if (k > last) continue;
      for (let f = 0; f < fields; f++) into.addSet(f, sets[i * fields + f]);
    }
  }

  /** Merge the tiles `first`…`last` (of sub-entity `sub`) into the tally at `d[o…]`, newest first, and gather their distinct sets. */
  private mergeTiles(s: readonly number[], first: number, last: number, sub: number, d: number[] | Float64Array, o: number, sets: SlotSets, into: WindowRead | undefined): void {
    const stride = this.stride;
    const head = this.head;
    for (let i = s[0]! - 1; i >= 0; i--) {
      const at = head + i * stride;
      const k = s[at]!;
      if (k < first) break;
      if (k > last || (this.keyed && s[at + 1] !== sub)) continue;
      this.layout.merge(d, o, s, at + this.header);
      if (sets !== undefined) for (let f = 0; f < this.layout.distinct; f++) into!.addSet(f, sets[i * this.layout.distinct + f]);
    }
  }

  whole(t: number, earliest: number): boolean {
    return this.lastTile(t) >= this.lastTile(earliest);
  }

  evict(h: WindowHolder, at: number, earliest: number): void {
    const s = h.windows[at];
    if (s === undefined) return;
    const first = this.lastTile(earliest) - this.hops + 1;
    const stride = this.stride;
    const head = this.head;
    const n = s[0]!;
    let drop = 0;
    while (drop < n && s[head + drop * stride]! < first) drop++;
    if (drop === 0) return;
    // A tile the running tally holds is leaving: the next read merges afresh.
    if (this.running && s[head]! <= s[1]! && s[head + (drop - 1) * stride]! > s[1]! - this.hops) s[1] = NaN;
    // So is a tile of the window the unions are of (a horizon moved back and forth): they go.
    const kept = h.unions?.[at];
    if (kept !== undefined && s[head + (drop - 1) * stride]! > kept.last - this.hops) h.unions![at] = undefined;
    const gap = drop * stride;
    for (let j = head + gap; j < head + n * stride; j++) s[j - gap] = s[j]!;
    s[0] = n - drop;
    const sets = h.sets?.[at];
    // The left tiles' sets move behind the others (a rotation by three reversals), as spares for the tiles to come.
    if (sets !== undefined && drop < n) {
      const fields = this.layout.distinct;
      reverse(sets, 0, drop * fields);
      reverse(sets, drop * fields, n * fields);
      reverse(sets, 0, n * fields);
    }
  }
}

/** New unions (none yet) of the window at `at` ending at tile `last`. */
function keepUnions(h: WindowHolder, at: number, last: number, fields: number): KeptUnions {
  const kept = { last, byField: new Array<DistinctUnion | undefined>(fields).fill(undefined) };
  (h.unions ??= new Array<KeptUnions | undefined>(h.windows.length).fill(undefined))[at] = kept;
  return kept;
}

/** Reverse `a[from…to)` in place. */
function reverse<T>(a: T[], from: number, to: number): void {
  for (let i = from, j = to - 1; i < j; i++, j--) {
    const x = a[i]!;
    a[i] = a[j]!;
    a[j] = x;
  }
}

/** A session window of no runs yet, and its sets: read, never written (a first run replaces them). */
const NO_RUNS: Slots = [];
const NO_SETS: (TileValues | undefined)[] = [];

/** Session windows: runs of events less than `gap` apart, merged when an event bridges two; slot = [start, end, …tally]. */
export class SessionWindows implements WindowKind {
  private readonly stride: number;
  private readonly emptyRun: readonly number[];
  readonly reachMs: number;
  readonly holdsOwn = true;
  /** The runs [from, to) the latest `touching` found: fields rather than a pair, which would be an array per add and read. */
  private from = 0;
  private to = 0;

  constructor(
    readonly layout: TallyLayout,
    private readonly gap: number,
  ) {
    this.stride = 2 + layout.size;
    this.reachMs = gap;
    this.emptyRun = [0, 0, ...layout.empty];
  }

  /** Find the runs [from, to) an event at `t` joins: start − gap < t < end + gap. Runs are a gap or more apart. */
  private touching(s: readonly number[], t: number): void {
    const stride = this.stride;
    let from = s.length / stride;
    while (from > 0 && s[(from - 1) * stride + 1]! + this.gap > t) from--;
    let to = from;
    while (to * stride < s.length && s[to * stride]! - this.gap < t) to++;
    this.from = from;
    this.to = to;
  }

  add(h: WindowHolder, at: number, time: number, seq: number, value: number | undefined): number {
    const stride = this.stride;
    const s = h.windows[at] ?? NO_RUNS;
    this.touching(s, time);
    const { from, to } = this;
    if (to - from === 1) {
      // The common case: the event joins one run, which grows in place.
      const o = from * stride;
      if (time < s[o]!) s[o] = time;
      if (time > s[o + 1]!) s[o + 1] = time;
      this.layout.add(s, o + 2, time, seq, value);
      return from;
    }
    const run = newBlock(this.emptyRun, this.emptyRun.length);
    run[0] = time;
    run[1] = time;
    for (let i = from; i < to; i++) {
      run[0] = Math.min(run[0]!, s[i * stride]!);
      run[1] = Math.max(run[1]!, s[i * stride + 1]!);
      this.layout.merge(run, 2, s, i * stride + 2);
    }
    this.layout.add(run, 2, time, seq, value);
    // A first run is the window itself (most sessions of a sparse entity are its only run).
    h.windows[at] = s.length === 0 ? run : spliced(s, from * stride, (to - from) * stride, run);
    const fields = this.layout.distinct;
    if (fields > 0) {
      // The new run's sets: those of the runs it joins, merged field by field.
      const sets = setsOf(h)[at] ?? NO_SETS;
      const merged: TileValues[] = [];
      for (let f = 0; f < fields; f++) {
        const set = new DistinctValues();
        for (let i = from; i < to; i++) {
          const values = sets[i * fields + f];
          if (values !== undefined) set.merge(values);
        }
        merged.push(set);
      }
      setsOf(h)[at] = spliced(sets, from * fields, (to - from) * fields, merged);
    }
    return from;
  }

  addDistinct(h: WindowHolder, at: number, slot: number, f: number, value: string): void {
    addValue(h.sets![at]!, slot * this.layout.distinct + f, value);
  }

  read(h: WindowHolder, at: number, t: number, earliest: number, into: WindowRead): void {
    into.reset();
    const s = h.windows[at];
    if (s === undefined) return;
    const sets = h.sets?.[at];
    const stride = this.stride;
    this.touching(s, t);
    const { from, to } = this;
    for (let i = from; i < to; i++) {
      if (s[i * stride + 1]! + this.gap <= earliest) continue;
      this.layout.merge(into.tally, 0, s, i * stride + 2);
      if (sets !== undefined) for (let f = 0; f < this.layout.distinct; f++) into.addSet(f, sets[i * this.layout.distinct + f]);
    }
  }

  drop(h: WindowHolder, at: number): void {
    remove(h, at);
  }

  /** A session window's array has no spare room. */
  compact(): void {}

  /** A run that could touch `t` is forgotten only once its end is a gap or more before `earliest`, which only a `t` before `earliest` can touch. */
  whole(t: number, earliest: number): boolean {
    return t >= earliest;
  }

  evict(h: WindowHolder, at: number, earliest: number): void {
    const s = h.windows[at];
    if (s === undefined) return;
    const stride = this.stride;
    let drop = 0;
    while (drop * stride < s.length && s[drop * stride + 1]! + this.gap <= earliest) drop++;
    if (drop > 0) dropFront(h, at, drop, stride, this.layout.distinct);
  }
}

/**
 * The window kind of a spec's window; `labelDelay` ends it that long before the event, `keyed`
 * holds sub-entities, and `running` keeps the window's tally as it goes (all for tiled windows only).
 */
export function windowKind(w: WindowSpec, layout: TallyLayout, labelDelay?: number, keyed = false, running = false): WindowKind {
  switch (w.kind) {
    case 'tumbling':
      return new TiledWindows(layout, w.size, 1, labelDelay, keyed);
    case 'hopping':
      // A running tally pays where a read would merge several tiles: not keyed (distinct sets are gathered from the tiles).
      return new TiledWindows(layout, w.hop, w.size / w.hop, labelDelay, keyed, running && !keyed && w.size > w.hop);
    case 'session':
      return new SessionWindows(layout, w.gap);
  }
}

/** Bytes a window's data holds, roughly: for the state's memory report. */
export function windowBytes(s: Slots, sets: SlotSets, unions: KeptUnions | undefined): number {
  let bytes = 32 + 16 + s.length * 8;
  // A tile's single value costs nothing beyond its text, which (as a set's values) is not counted.
  for (const set of sets ?? []) if (typeof set === 'object') bytes += set.bytes;
  for (const union of unions?.byField ?? []) bytes += union?.bytes ?? 0;
  return bytes;
}
