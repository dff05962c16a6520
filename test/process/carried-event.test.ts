import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { CarriedEventError, decodeCarried, encodeCarried, type CarriedEvent } from '../../src/process/carried-event.ts';

/** Layout 1, as the previous version wrote it (the carried event stringified, unknown features as null): a topic may still hold such records. */
const layout1 = (c: CarriedEvent): string =>
  JSON.stringify({
    v: 1,
    event: c.event,
    features: Array.from(c.vector, (x) => (Number.isNaN(x) ? null : x)),
    late: c.late,
    behind_ms: c.behindMs,
    unknown: c.unknown,
    body_hash: c.body_hash ?? null,
    position: c.position,
    accepted_at: c.acceptedAt,
  });

/** Layout 2: the same object stringified, the features as the base64 of their float64 little-endian bytes. */
const reference = (c: CarriedEvent): string => {
  const bytes = new DataView(new ArrayBuffer(c.vector.length * 8));
  c.vector.forEach((x, i) => bytes.setFloat64(i * 8, x, true));
  return JSON.stringify({ ...(JSON.parse(layout1(c)) as object), v: 2, features: Buffer.from(bytes.buffer).toString('base64') });
};

/** Equal bit for bit as doubles: -0 is not 0, NaN is NaN. */
const same = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

const carried = fc.record({
  event: fc.record({
    event_id: fc.string(),
    event_type: fc.constantFrom('transaction', 'login'),
    user_id: fc.string(),
    amount: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined }),
    metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined }),
    event_time: fc.integer({ min: 0, max: 2 ** 45 }),
    event_time_source: fc.constantFrom('event' as const, 'received' as const),
  }) as fc.Arbitrary<RtdsEvent>,
  vector: fc.array(fc.double(), { maxLength: 40 }).map((xs) => Float64Array.from(xs)),
  late: fc.boolean(),
  behindMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
  unknown: fc.boolean(),
  body_hash: fc.option(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), { nil: undefined }),
  position: fc.record({ partition: fc.nat(64), offset: fc.nat() }),
  acceptedAt: fc.double({ min: 0, max: 2 ** 45, noNaN: true }),
});

describe('a repartition record', () => {
  it('is written as the carried event stringified would be, byte for byte, its features as their float64 bytes', () => {
    fc.assert(
      fc.property(carried, (c) => {
        assert.equal(encodeCarried(c), reference(c));
      }),
      { numRuns: 500 },
    );
    const edge = { ...fc.sample(carried, { seed: 1, numRuns: 1 })[0]!, vector: Float64Array.from([NaN, Infinity, -Infinity, -0, 1e21, 5e-324, 0.1]) };
    assert.equal(encodeCarried(edge), reference(edge));
  });

  it('reads back as what was carried, every feature bit for bit (NaN, ±Infinity and -0 included)', () => {
    fc.assert(
      fc.property(carried, (c) => {
        const back = decodeCarried(JSON.parse(encodeCarried(c)), c.vector.length);
        assert.ok(same(back.vector, c.vector), `${Array.from(back.vector).join()} is not ${Array.from(c.vector).join()}`);
        assert.deepEqual(back.event, JSON.parse(JSON.stringify(c.event)));
        assert.deepEqual([back.late, back.behindMs, back.unknown, back.body_hash, back.position, back.acceptedAt], [c.late, c.behindMs, c.unknown, c.body_hash, { ...c.position }, c.acceptedAt]);
      }),
      { numRuns: 200 },
    );
  });

  it('of layout 1, written by the previous version, still reads: a stage restores from topics that hold them', () => {
    fc.assert(
      fc.property(carried, (c) => {
        const back = decodeCarried(JSON.parse(layout1(c)), c.vector.length);
        // JSON numbers: an unknown feature (and an infinite one) came as null, -0 as 0.
        assert.ok(same(back.vector, Float64Array.from(c.vector, (x) => (Number.isFinite(x) ? x + 0 : NaN))));
        assert.deepEqual([back.event, back.late, back.behindMs, back.unknown, back.body_hash, back.position, back.acceptedAt], [JSON.parse(JSON.stringify(c.event)), c.late, c.behindMs, c.unknown, c.body_hash, { ...c.position }, c.acceptedAt]);
      }),
      { numRuns: 100 },
    );
  });

  it('is refused with the reason when its features are not as many float64 bytes as the feature set has', () => {
    const c = { ...fc.sample(carried, { seed: 2, numRuns: 1 })[0]!, vector: Float64Array.from([1, 2, 3]) };
    const good = JSON.parse(encodeCarried(c)) as Record<string, unknown>;
    assert.equal(decodeCarried(good, 3).vector[2], 3);
    const refusal = (record: object, features = 3): string => {
      try {
        decodeCarried(record, features);
      } catch (err) {
        assert.ok(err instanceof CarriedEventError);
        return err.message;
      }
      return 'read';
    };
    assert.match(refusal(good, 4), /features: expected 4 float64 values .* as 32 bytes of base64, got 32 characters/);
    assert.match(refusal({ ...good, features: (good.features as string).replace('A', '*') }), /expected 3 float64 values/, 'a character base64 does not have');
    assert.match(refusal({ ...good, features: [1, 2, 3] }), /expected 3 float64 values .* got object/);
    assert.match(refusal({ ...good, v: 3 }), /layout 3 is not 1 or 2/);
  });
});
