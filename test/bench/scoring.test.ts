import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchInference } from '../../bench/scoring.ts';

describe('scoring benchmark', () => {
  it('reports positive rates for each batch size and the dense network agreeing with tfjs', async () => {
    const results = await benchInference({ batches: [1, 8], msPerCase: 20 });
    assert.deepEqual(
      results.map((r) => r.batch),
      [1, 8],
    );
    for (const r of results) {
      assert.ok(r.dense_rows_per_s > 0 && r.scorer_rows_per_s > 0 && r.tfjs_rows_per_s > 0);
      assert.ok(r.max_abs_diff < 1e-5);
    }
  });
});
