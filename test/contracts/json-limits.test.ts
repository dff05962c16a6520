import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../src/contracts/index.ts';

/** Levels of arrays and objects in a JSON value (a scalar has none), counted the obvious way. */
function depth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depth));
}

/** `levels` arrays, one inside the other, around a number. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { x: value };
  return value;
}

describe('nesting depth', () => {
  it('is over the limit exactly when a value nests arrays and objects more levels deep than it', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.nat(7), (value, max) => {
        assert.equal(nestedDeeperThan(value, max), depth(value) > max);
      }),
      { numRuns: 1000 },
    );
    assert.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
    assert.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
  });

  it('refuses a value nested far deeper than the stack could walk, without walking it', () => {
    let value: unknown = 1;
    for (let i = 0; i < 1_000_000; i++) value = [value];
    assert.equal(nestedDeeperThan(value, MAX_JSON_DEPTH), true);
  });
});
