import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2 } from '@platformatic/kafka';
import fc from 'fast-check';
import { partitionFor } from '../../src/transport/log.ts';

describe('partitionFor', () => {
  it("places every key where Kafka's Java partitioner (the producer's) does", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ minLength: 300, maxLength: 600 })), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        assert.equal(partitionFor(key, partitions), (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions, JSON.stringify(key));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});
