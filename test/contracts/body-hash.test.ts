import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
