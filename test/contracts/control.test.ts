import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { challengerChanged, modelActivated, parseControlRecord } from '../../src/contracts/index.ts';

describe('control topic records', () => {
  it('reads back a model activation and a challenger change as written, and nothing from other text', () => {
    const record = modelActivated('v3', new Date(Date.UTC(2026, 10, 26)));
    assert.deepEqual(parseControlRecord(JSON.stringify(record)), { kind: 'model_activated', version: 'v3', at: '2026-11-26T00:00:00.000Z' });
    const at = new Date(Date.UTC(2026, 10, 27));
    assert.deepEqual(parseControlRecord(JSON.stringify(challengerChanged('v4', at))), { kind: 'challenger_changed', version: 'v4', at: '2026-11-27T00:00:00.000Z' });
    assert.deepEqual(parseControlRecord(JSON.stringify(challengerChanged(null, at))), { kind: 'challenger_changed', version: null, at: '2026-11-27T00:00:00.000Z' });
    for (const text of ['{"kind":"challenger_changed","at":"x"}', 'not json', 'null', '"v3"', '{"kind":"model_activated","version":3,"at":"x"}', '{"kind":"rules_changed","version":"r2","at":"x"}']) {
      assert.equal(parseControlRecord(text), undefined, text);
    }
  });
});
