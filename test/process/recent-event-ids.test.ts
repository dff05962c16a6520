import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecentEventIds } from '../../src/process/recent-event-ids.ts';

const MINUTE = 60_000;

/** The rule, written plainly: an id is known from its first sighting until evict passes the end of its minute by the window. */
class Remembered {
  private readonly minuteOf = new Map<string, number>();
  constructor(private readonly windowMs: number) {}
  seen(id: string, t: number): boolean {
    if (this.minuteOf.has(id)) return true;
    this.minuteOf.set(id, Math.floor(t / MINUTE));
    return false;
  }
  evict(earliest: number): void {
    const keepFrom = Math.floor((earliest - this.windowMs) / MINUTE);
    for (const [id, minute] of this.minuteOf) if (minute < keepFrom) this.minuteOf.delete(id);
  }
  get size(): number {
    return this.minuteOf.size;
  }
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('seen' as const), id: fc.integer({ min: 0, max: 30 }), minutes: fc.double({ min: -3, max: 40, noNaN: true }) }),
  fc.record({ kind: fc.constant('evict' as const), minutes: fc.double({ min: -3, max: 60, noNaN: true }) }),
);

describe('recent event ids', () => {
  it('knows an id from its first sighting until its minute leaves the window, as the plain rule says, whatever the order of times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.array(op, { maxLength: 300 }), (windowMinutes, ops) => {
        const ids = new RecentEventIds(windowMinutes * MINUTE);
        const rule = new Remembered(windowMinutes * MINUTE);
        const T0 = Date.parse('2026-12-01T00:00:00Z');
        for (const o of ops) {
          const t = T0 + Math.round(o.minutes * MINUTE);
          if (o.kind === 'seen') assert.equal(ids.seen(`e${o.id}`, t), rule.seen(`e${o.id}`, t), `seen e${o.id} at ${o.minutes} min`);
          else {
            ids.evict(t);
            rule.evict(t);
          }
          assert.equal(ids.size, rule.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('forgets a minute at a time: an id re-sent after its minute left the window counts as new', () => {
    const T0 = Date.parse('2026-12-01T00:00:00Z');
    const ids = new RecentEventIds(10 * MINUTE);
    assert.equal(ids.seen('a', T0 + 5_000), false);
    assert.equal(ids.seen('b', T0 + MINUTE + 5_000), false);
    assert.equal(ids.seen('a', T0 + 20_000), true, 'a re-send within the window');
    ids.evict(T0 + 11 * MINUTE - 1);
    assert.equal(ids.size, 2, 'the first minute ends the window only at 11 min');
    ids.evict(T0 + 11 * MINUTE);
    assert.equal(ids.size, 1, 'then its ids go, the next minute stays');
    assert.equal(ids.seen('a', T0 + 11 * MINUTE), false, 'a is new again');
    assert.equal(ids.seen('b', T0 + 11 * MINUTE), true);
  });
});
