import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { decodeCarried, encodeCarried, type CarriedEvent } from '../../src/process/carried-event.ts';

/** The record as it was written before it was written out by hand: the object stringified. */
const reference = (c: CarriedEvent): string =>
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
  it('is written as the carried event stringified would be, byte for byte (NaN, ±Infinity and -0 among the features)', () => {
    fc.assert(
      fc.property(carried, (c) => {
        assert.equal(encodeCarried(c), reference(c));
      }),
      { numRuns: 500 },
    );
    const edge = { ...fc.sample(carried, { seed: 1, numRuns: 1 })[0]!, vector: Float64Array.from([NaN, Infinity, -Infinity, -0, 1e21, 5e-324, 0.1]) };
    assert.equal(encodeCarried(edge), reference(edge));
  });

  it('reads back as what was carried, unknown features as NaN', () => {
    fc.assert(
      fc.property(carried, (c) => {
        const back = decodeCarried(JSON.parse(encodeCarried(c)), c.vector.length);
        assert.deepEqual(Array.from(back.vector), Array.from(c.vector, (x) => (Number.isFinite(x) ? x + 0 : NaN))); // JSON writes -0 as 0
        assert.deepEqual(back.event, JSON.parse(JSON.stringify(c.event)));
        assert.deepEqual([back.late, back.behindMs, back.unknown, back.body_hash, back.position, back.acceptedAt], [c.late, c.behindMs, c.unknown, c.body_hash, { ...c.position }, c.acceptedAt]);
      }),
      { numRuns: 200 },
    );
  });
});
