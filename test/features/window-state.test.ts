import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TallyLayout, TiledWindows, WindowRead, type WindowHolder, type WindowKind } from '../../src/features/window-state.ts';
import { DistinctValues } from '../../src/features/distinct.ts';

// A tiled window's tiles live in one block with spare room: these pin that an event allocates
// nothing while the block has room, that a full block doubles, and that tiles leaving free room
// (and distinct sets) for the tiles to come. The values themselves are held to brute-force
// oracles in feature-set.test.ts and compiled-engine.test.ts.

const MINUTE = 60_000;
const holder = (): WindowHolder => ({ windows: [undefined], sets: undefined, unions: undefined });

/** An event joins window 0 of `h`, with its value of the window's first distinct field, if any. */
function join(w: WindowKind, h: WindowHolder, time: number, seq: number, value: number | undefined, distinct: string | undefined, sub: number): void {
  const slot = w.add(h, 0, time, seq, value, sub);
  if (distinct !== undefined) w.addDistinct(h, 0, slot, 0, distinct);
}

/** A window counting distinct values over `hops` one-minute tiles, holding `events` ([time, value]; undefined: an event without the field). */
function distinctWindow(hops: number, events: readonly (readonly [number, string | undefined])[]): { layout: TallyLayout; w: TiledWindows; h: WindowHolder } {
  const layout = new TallyLayout(new Set(['distinct']), false, 1);
  const w = new TiledWindows(layout, MINUTE, hops);
  const h = holder();
  events.forEach(([time, value], seq) => join(w, h, time, seq, undefined, value, 0));
  return { layout, w, h };
}

describe('tiled window blocks', () => {
  it('add tiles into the block\'s room without a new array, and double the room when it is full', () => {
    const layout = new TallyLayout(new Set(['count', 'sum']), true);
    const w = new TiledWindows(layout, MINUTE, 10);
    const h = holder();
    const blocks: number[][] = [];
    for (let i = 0; i < 9; i++) {
      join(w, h, i * MINUTE, i, 10, undefined, 0);
      // A second event in the same tile never needs room.
      join(w, h, i * MINUTE + 1, i, 10, undefined, 0);
      blocks.push(h.windows[0]!);
    }
    const rooms = blocks.map((b) => (b.length - 1) / (1 + layout.size));
    assert.deepEqual(rooms, [2, 2, 4, 4, 8, 8, 8, 8, 16]);
    // Blocks are replaced only when full: once per doubling.
    assert.equal(new Set(blocks).size, 4);
    const read = new WindowRead(layout);
    w.read(h, 0, 8 * MINUTE, 0, read, 0);
    assert.deepEqual([read.tally[0], read.tally[layout.sum]], [18, 180]);
  });

  it('frees the room of tiles that left for the tiles that come, keeping the block', () => {
    const layout = new TallyLayout(new Set(['count']), false);
    const w = new TiledWindows(layout, MINUTE, 3);
    const h = holder();
    for (let i = 0; i < 4; i++) join(w, h, i * MINUTE, i, undefined, undefined, 0);
    const block = h.windows[0]!;
    // A day of one event a minute through a 3-minute window: the block never grows nor changes.
    for (let i = 4; i < 1440; i++) {
      w.evict(h, 0, i * MINUTE);
      join(w, h, i * MINUTE, i, undefined, undefined, 0);
      assert.equal(h.windows[0], block);
    }
    const read = new WindowRead(layout);
    w.read(h, 0, 1439 * MINUTE, 1439 * MINUTE, read, 0);
    assert.equal(read.tally[0], 3);
    // Every tile gone: the window keeps its (empty) block for the entity's next event.
    w.evict(h, 0, 2000 * MINUTE);
    assert.equal(h.windows[0], block);
    w.read(h, 0, 2000 * MINUTE, 2000 * MINUTE, read, 0);
    assert.equal(read.tally[0], 0);
  });

  it('give back the room beyond their tiles when compacted, keeping the tiles and their sets', () => {
    const layout = new TallyLayout(new Set(['count', 'distinct']), false, 1);
    const w = new TiledWindows(layout, MINUTE, 3);
    const h = holder();
    for (let i = 0; i < 9; i++) join(w, h, i * MINUTE, i, undefined, `v${i}`, 0);
    w.evict(h, 0, 8 * MINUTE);
    w.compact(h, 0);
    assert.equal(h.windows[0]!.length, 1 + 3 * 2, 'room for the three tiles held');
    assert.equal(h.sets![0]!.length, 3);
    const read = new WindowRead(layout);
    w.read(h, 0, 8 * MINUTE, 8 * MINUTE, read, 0);
    assert.deepEqual([read.tally[0], read.distinctCount(0)], [3, 3]);
    // A window of one tile keeps room for two.
    w.evict(h, 0, 10 * MINUTE);
    w.compact(h, 0);
    assert.equal(h.windows[0]!.length, 1 + 2 * 2);
    join(w, h, 10 * MINUTE, 9, undefined, 'w', 0);
    w.read(h, 0, 10 * MINUTE, 10 * MINUTE, read, 0);
    assert.deepEqual([read.tally[0], read.distinctCount(0)], [2, 2]);
  });

  it('inserts a late tile between others, and a sub-entity between others of its tile', () => {
    const layout = new TallyLayout(new Set(['count']), false);
    const w = new TiledWindows(layout, MINUTE, 10, undefined, true);
    const h = holder();
    // Tiles 0 and 2 of sub-entities 5 and 9, then tile 1 and sub-entity 7 arriving out of order.
    for (const [minute, sub] of [[0, 5], [2, 9], [2, 5], [1, 9], [2, 7], [0, 5]] as const) join(w, h, minute * MINUTE, 0, undefined, undefined, sub);
    const s = h.windows[0]!;
    const slots = Array.from({ length: s[0]! }, (_, i) => [s[1 + i * 3], s[2 + i * 3], s[3 + i * 3]]);
    assert.deepEqual(slots, [[0, 5, 2], [1, 9, 1], [2, 5, 1], [2, 7, 1], [2, 9, 1]]);
    const read = new WindowRead(layout);
    const count = (sub: number): number => (w.read(h, 0, 2 * MINUTE, 0, read, sub), read.tally[0]!);
    assert.deepEqual([count(5), count(7), count(9), count(1)], [3, 1, 2, 0]);
  });

  it('reuses a left tile\'s distinct set for a new tile, holding only the new tile\'s values', () => {
    const { layout, w, h } = distinctWindow(2, [[0, 'a'], [1, 'b'], [MINUTE, 'c']]);
    const sets = h.sets![0]!;
    const first = sets[0]!;
    w.evict(h, 0, 2 * MINUTE);
    join(w, h, 2 * MINUTE, 3, undefined, 'd', 0);
    assert.equal(h.sets![0], sets, 'the same array of sets');
    assert.equal(sets[1], first, "the left tile's set serves the new tile");
    const read = new WindowRead(layout);
    w.read(h, 0, 2 * MINUTE, 2 * MINUTE, read, 0);
    assert.equal(read.distinctCount(0), 2, 'c and d; a and b left with their tile');
    w.read(h, 0, 2 * MINUTE + 1, 3 * MINUTE, read, 0);
    assert.equal(read.distinctCount(0), 1);
  });
});

describe('a window counting several fields distinct', () => {
  it('keeps each slot\'s values field by field as tiles come between others, leave and are compacted', () => {
    const layout = new TallyLayout(new Set(['count', 'distinct']), false, 2);
    const w = new TiledWindows(layout, MINUTE, 4);
    const h = holder();
    const add = (minute: number, device: string, country: string): void => {
      const slot = w.add(h, 0, minute * MINUTE, minute, undefined, 0);
      w.addDistinct(h, 0, slot, 0, device);
      w.addDistinct(h, 0, slot, 1, country);
    };
    // Tiles 0, 3 and 1, the last arriving late between the others, then one more value in tile 3.
    add(0, 'd0', 'DE');
    add(3, 'd3', 'FR');
    add(1, 'd3', 'FR');
    add(3, 'd1', 'US');
    const read = new WindowRead(layout);
    const counts = (minute: number, earliest: number): number[] => {
      w.read(h, 0, minute * MINUTE, earliest * MINUTE, read, 0);
      return [read.tally[0]!, read.distinctCount(0), read.distinctCount(1)];
    };
    assert.deepEqual(counts(3, 0), [4, 3, 3], 'devices d0 d1 d3; countries DE FR US');
    assert.deepEqual(counts(1, 0), [2, 2, 2], 'tiles 0 and 1: d0 d3; DE FR');
    // Tiles 0 and 1 leave; tile 4 takes a spare slot, holding only its own values.
    w.evict(h, 0, 6 * MINUTE);
    add(6, 'd6', 'FR');
    assert.deepEqual(counts(6, 6), [3, 3, 2], 'tiles 3 and 6: d1 d3 d6; FR US');
    w.compact(h, 0);
    assert.equal(h.sets![0]!.length, 2 * 2, 'two fields for each of the two tiles held');
    assert.deepEqual(counts(6, 6), [3, 3, 2]);
  });
});

describe('spare blocks', () => {
  it('give a dropped window\'s block and sets, emptied, to the next new window of the kind', () => {
    const layout = new TallyLayout(new Set(['count', 'distinct']), false, 1);
    const w = new TiledWindows(layout, MINUTE, 2);
    const a = holder();
    const b = holder();
    join(w, a, 0, 0, undefined, 'x', 0);
    join(w, a, MINUTE, 1, undefined, 'y', 0);
    const block = a.windows[0]!;
    const sets = a.sets![0]!;
    w.drop(a, 0);
    assert.equal(a.windows[0], undefined);
    join(w, b, 10 * MINUTE, 2, undefined, 'z', 0);
    assert.equal(b.windows[0], block);
    assert.equal(b.sets![0], sets);
    const read = new WindowRead(layout);
    w.read(b, 0, 10 * MINUTE, 10 * MINUTE, read, 0);
    assert.deepEqual([read.tally[0], read.distinctCount(0)], [1, 1], 'nothing of the dropped window is left');
  });

  it('empty a running tally taken from a spare block', () => {
    const layout = new TallyLayout(new Set(['count', 'max']), true);
    const w = new TiledWindows(layout, MINUTE, 3, undefined, false, true);
    const a = holder();
    const b = holder();
    const read = new WindowRead(layout);
    for (let i = 0; i < 3; i++) join(w, a, i * MINUTE, i, 50 + i, undefined, 0);
    w.read(a, 0, 2 * MINUTE, 0, read, 0);
    assert.deepEqual([read.tally[0], read.tally[layout.max]], [3, 52]);
    w.drop(a, 0);
    // The new window's tile is one the old tally's anchor covered: it must not count from it.
    join(w, b, 2 * MINUTE, 3, 7, undefined, 0);
    w.read(b, 0, 2 * MINUTE, 0, read, 0);
    assert.deepEqual([read.tally[0], read.tally[layout.max]], [1, 7]);
  });
});

describe('distinct values of a tile', () => {
  it('keep a single value as itself and a set from the second value on, counting alike across both', () => {
    const { layout, w, h } = distinctWindow(3, [[0, 'a'], [1, 'a'], [MINUTE, 'a'], [MINUTE + 1, 'b'], [2 * MINUTE, undefined]]);
    const sets = h.sets![0]!;
    assert.equal(sets[0], 'a', 'one value, seen twice: the value itself');
    assert.ok(sets[1] instanceof DistinctValues, 'a second value makes a set');
    assert.equal(sets[2], undefined, 'an event without the value adds none');
    const read = new WindowRead(layout);
    w.read(h, 0, 2 * MINUTE, 0, read, 0);
    assert.equal(read.distinctCount(0), 2, 'a and b, across a value and a set');
    read.addSet(0, 'c');
    assert.equal(read.distinctCount(0), 3, "a read's own value counted as if it had joined");
  });

  it('count a union of single values and sets as the same values in sets, exact and estimated', () => {
    const asSet = (values: readonly string[]): DistinctValues => {
      const set = new DistinctValues();
      for (const v of values) set.add(v);
      return set;
    };
    const tiles = [['x'], ['y', 'z'], ['x'], Array.from({ length: 20 }, (_, i) => `v${i}`)];
    const mixed = tiles.map((t) => (t.length === 1 ? t[0]! : asSet(t)));
    assert.equal(DistinctValues.countOf(mixed), 23);
    assert.equal(DistinctValues.countOf(['x']), 1);
    // Past the short union's 32 values, and with a tile turned to a sketch.
    const many = Array.from({ length: 40 }, (_, i) => `s${i}`);
    assert.equal(DistinctValues.countOf([...many, asSet(['s1', 't'])]), 41);
    const sketch = asSet(Array.from({ length: 100 }, (_, i) => `h${i}`));
    assert.equal(DistinctValues.countOf(['x', 'y', sketch]), DistinctValues.countOf([asSet(['x']), asSet(['y']), sketch]));
  });

  it('stay exact up to the limit and estimate past it, alike whether the set is new or reused', () => {
    const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
    const fresh = new DistinctValues();
    const reused = new DistinctValues();
    for (const v of values.slice(0, 100)) reused.add(`old-${v}`);
    reused.clear();
    for (let n = 1; n <= values.length; n++) {
      fresh.add(values[n - 1]!);
      reused.add(values[n - 1]!);
      fresh.add(values[0]!);
      const count = DistinctValues.countOf([fresh]);
      if (n <= 64) assert.equal(count, n);
      else assert.ok(Math.abs(count - n) / n < 0.25, `${count} for ${n}`);
      assert.equal(DistinctValues.countOf([reused]), count);
    }
  });
});
