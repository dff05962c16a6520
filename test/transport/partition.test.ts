import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2 } from '@platformatic/kafka';
import fc from 'fast-check';
import { partitionFor } from '../../src/transport/log.ts';

/**
 * ASCII keys (hashed from their character codes), keys with any code point, keys with the
 * characters just past ASCII (0x80–0xFF, which UTF-8 encodes in two bytes), and keys too long for
 * the reused buffer (over 341 characters when not ASCII, over 1,024 at all).
 */
const keys = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'binary-ascii' }),
  fc.string({ minLength: 300, maxLength: 600 }),
  fc.string({ unit: 'binary', minLength: 300, maxLength: 400 }),
  fc.string({ minLength: 1000, maxLength: 1100 }),
);

describe('partitionFor', () => {
  it("places every key where Kafka's Java partitioner (the producer's) does", () => {
    fc.assert(
      fc.property(keys, fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        assert.equal(partitionFor(key, partitions), (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions, JSON.stringify(key));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});
