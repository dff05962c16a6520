import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bodyHash, conflictError } from '../../src/contracts/index.ts';

const body = {
  event_id: 'evt-1',
  event_type: 'transaction',
  timestamp: '2026-11-26T10:00:00.250Z',
  user_id: 'alice',
  amount: 12.5,
  metadata: { basket: { items: 3, tags: ['a', 'b'] }, channel_hint: 'x' },
};

describe('body hash', () => {
  it('is the same for the same body however its JSON is written: key order at any level, the time as RFC 3339 in any offset or as epoch ms', () => {
    const h = bodyHash(body);
    assert.match(h, /^[0-9a-f]{32}$/);
    const reordered = { metadata: { channel_hint: 'x', basket: { tags: ['a', 'b'], items: 3 } }, amount: 12.5, user_id: 'alice', timestamp: '2026-11-26T10:00:00.250Z', event_type: 'transaction', event_id: 'evt-1' };
    assert.equal(bodyHash(reordered), h);
    assert.equal(bodyHash({ ...body, timestamp: Date.parse(body.timestamp) }), h, 'epoch ms');
    assert.equal(bodyHash({ ...body, timestamp: '2026-11-26T11:00:00.250+01:00' }), h, 'another offset');
    assert.equal(bodyHash(JSON.parse(JSON.stringify(body)) as object), h, 'after a trip through the log');
  });

  it('tells bodies apart by any value, array order included, and a body without a timestamp from one with it', () => {
    const h = bodyHash(body);
    assert.notEqual(bodyHash({ ...body, user_id: 'bob' }), h);
    assert.notEqual(bodyHash({ ...body, amount: 12.51 }), h);
    assert.notEqual(bodyHash({ ...body, timestamp: '2026-11-26T10:00:00.251Z' }), h);
    assert.notEqual(bodyHash({ ...body, metadata: { ...body.metadata, basket: { items: 3, tags: ['b', 'a'] } } }), h);
    const { timestamp: _time, ...untimed } = body;
    assert.notEqual(bodyHash(untimed), h);
    assert.equal(bodyHash(untimed), bodyHash({ ...untimed }), 're-sends without a timestamp hash alike');
  });

  it('names both hashes in the reason a conflicting re-send is refused with', () => {
    const e = conflictError('aaaa', 'bbbb');
    assert.equal(e.field, 'event_id');
    assert.match(e.reason, /already decided with another body \(sha256 aaaa\); this one is sha256 bbbb/);
  });
});

/** The canonical JSON as the first version wrote it, key by key: claims stored since hold hashes of it, so it must never change. */
function firstCanonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(firstCanonical).join(',')}]`;
  const object = value as Record<string, unknown>;
  const parts = Object.keys(object)
    .sort()
    .filter((key) => object[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${firstCanonical(object[key])}`);
  return `{${parts.join(',')}}`;
}

const firstHash = (body: Record<string, unknown>): string => {
  const time = typeof body.timestamp === 'string' ? Date.parse(body.timestamp) : NaN;
  return createHash('sha256')
    .update(firstCanonical(Number.isFinite(time) ? { ...body, timestamp: time } : body))
    .digest('hex')
    .slice(0, 32);
};

describe('body hash across versions', () => {
  it('is the hash the first version computed, for any body (keys at any depth, a key __proto__ among them, thousands of keys)', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'timestamp', '10', '9', 'é', 'Z'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 0 }), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 6 })),
    })).value;
    const body = fc.record({ event_id: fc.string(), timestamp: fc.oneof(fc.constant('2026-11-26T10:00:00.250+01:00'), fc.nat(), fc.string()), metadata: fc.dictionary(key, json, { maxKeys: 8 }) }, { requiredKeys: ['event_id'] });
    fc.assert(
      fc.property(body, (b) => {
        // As a body arrives: parsed, so a key __proto__ is an own key as JSON.parse makes it.
        const parsed = JSON.parse(JSON.stringify(b)) as Record<string, unknown>;
        assert.equal(bodyHash(parsed), firstHash(parsed));
      }),
      { numRuns: 1000 },
    );
    const proto = JSON.parse('{"event_id":"e","metadata":{"__proto__":{"a":1},"b":{"c":2}},"x":{"y":1}}') as Record<string, unknown>;
    assert.equal(bodyHash(proto), firstHash(proto));
    const wide = { event_id: 'e', metadata: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${(i * 7919) % 3000}`, i])) };
    assert.equal(bodyHash(wide), firstHash(wide));
  });
});
