import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clip, clipErrors, CLIENT_TEXT_MAX } from '../../src/observe/index.ts';

describe('client text in log lines', () => {
  it('keeps a short id as it is and cuts a 1 MiB one to the bound and its length', () => {
    assert.equal(clip('evt-1'), 'evt-1');
    assert.equal(clip('a'.repeat(CLIENT_TEXT_MAX)), 'a'.repeat(CLIENT_TEXT_MAX));
    const huge = 'x'.repeat(1 << 20);
    assert.equal(clip(huge), `${'x'.repeat(CLIENT_TEXT_MAX)}…(1048576 chars)`);
    assert.equal(clip(undefined), undefined);
  });

  it('never cuts a character made of two UTF-16 units in half', () => {
    const text = `${'a'.repeat(CLIENT_TEXT_MAX - 1)}😀${'b'.repeat(10)}`;
    const clipped = clip(text);
    assert.equal(clipped, `${'a'.repeat(CLIENT_TEXT_MAX - 1)}…(${text.length} chars)`);
    assert.doesNotMatch(clipped, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, 'no lone high surrogate');
  });

  it('bounds a refusal’s errors: each reason clipped, ten at most, the rest counted', () => {
    const errors = Array.from({ length: 25 }, (_, i) => ({ field: `f${i}`, reason: `unknown event type "${'y'.repeat(10_000)}"` }));
    const logged = clipErrors(errors);
    assert.equal(logged.length, 11);
    assert.ok(logged.slice(0, 10).every((e) => e.reason.length <= 2 * CLIENT_TEXT_MAX + 20));
    assert.deepEqual(logged[10], { field: '…', reason: '15 more errors' });
  });
});
