import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FEATURES, featureIndex } from '../../src/features/index.ts';
import { Standardiser, StandardiserFormatError } from '../../src/score/preprocess.ts';
import { syntheticDataset } from './synthetic.ts';

describe('Standardiser', () => {
  const { x } = syntheticDataset(3000, 11);
  const s = Standardiser.fit(x);
  const d = FEATURES.length;
  const out = s.applyAll(x);

  it('standardises its training data to mean ≈ 0 and std ≈ 1 for every varying feature', () => {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < x.length; i++) sum += out[i * d + j]!;
      const mean = sum / x.length;
      for (let i = 0; i < x.length; i++) sq += (out[i * d + j]! - mean) ** 2;
      const std = Math.sqrt(sq / x.length);
      assert.ok(Math.abs(mean) < 1e-4, `${FEATURES[j]!.name}: mean ${mean}`);
      if (s.std[j]! > 1e-6) assert.ok(Math.abs(std - 1) < 1e-4, `${FEATURES[j]!.name}: std ${std}`);
    }
  });

  it('applies log1p before standardising the features that declare it', () => {
    const j = featureIndex('amount');
    assert.equal(s.transforms[j], 'log1p');
    const row = new Float64Array(d);
    row[j] = 1000;
    const z = new Float32Array(d);
    s.apply(row, z, 0);
    assert.ok(Math.abs(z[j]! - (Math.log1p(1000) - s.mean[j]!) / s.std[j]!) < 1e-5);
  });

  it('round-trips through JSON to the same output', () => {
    const copy = Standardiser.fromJSON(JSON.parse(JSON.stringify(s)));
    assert.deepEqual(copy.toJSON(), s.toJSON());
    const again = copy.applyAll(x);
    assert.deepEqual(again, out);
  });

  it('floors the std of a constant feature and maps it to 0', () => {
    const rows = [new Float64Array(d).fill(2), new Float64Array(d).fill(2)];
    const c = Standardiser.fit(rows);
    assert.equal(c.std[0], 1e-6);
    const z = new Float32Array(d);
    c.apply(rows[0]!, z, 0);
    assert.equal(z[0], 0);
  });

  it('writes at the given offset and turns a non-finite raw value into 0 (the training mean)', () => {
    const row = Float64Array.from(x[0]!);
    row[0] = NaN;
    row[1] = Infinity;
    const buf = new Float32Array(3 * d).fill(7);
    s.apply(row, buf, d);
    assert.equal(buf[d - 1], 7);
    assert.equal(buf[d], 0);
    assert.equal(buf[d + 1], 0);
    assert.equal(buf[2 * d], 7);
  });

  it('reads a value beyond the training range as the nearest edge: the network never extrapolates', () => {
    const j = featureIndex('amount');
    const amounts = x.map((row) => Math.log1p(row[j]!));
    assert.equal(s.min[j], Math.min(...amounts));
    assert.equal(s.max[j], Math.max(...amounts));
    const input = (amount: number): number => {
      const row = Float64Array.from(x[0]!);
      row[j] = amount;
      const z = new Float32Array(d);
      s.apply(row, z, 0);
      return z[j]!;
    };
    const top = Math.expm1(s.max[j]!);
    assert.equal(input(top * 1000), input(top));
    assert.equal(input(-5), input(Math.expm1(s.min[j]!)));
    assert.ok(input(top) > input(top / 2), 'inside the range values still order');
  });

  it('serves a standardiser saved before ranges were kept unbounded, and saves none for it', () => {
    const { min: _min, max: _max, ...old } = s.toJSON();
    const unbounded = Standardiser.fromJSON(old);
    assert.deepEqual(unbounded.toJSON(), old);
    const row = Float64Array.from(x[0]!);
    const j = featureIndex('amount');
    row[j] = Math.expm1(s.max[j]!) * 1000;
    const z = new Float32Array(d);
    unbounded.apply(row, z, 0);
    assert.ok(Math.abs(z[j]! - (Math.log(row[j]! + 1) - s.mean[j]!) / s.std[j]!) < 1e-4);
    assert.throws(() => Standardiser.fromJSON({ ...old, min: s.toJSON().max, max: s.toJSON().min }), StandardiserFormatError);
  });

  it('records which features are indicators (only 0 and 1 in training)', () => {
    assert.equal(s.binary[featureIndex('new_device')], true);
    assert.equal(s.binary[featureIndex('amount')], false);
  });

  it('refuses malformed JSON with a typed error', () => {
    assert.throws(() => Standardiser.fromJSON({ features: ['a'], transforms: ['none'], mean: [0], std: [0] }), StandardiserFormatError);
    assert.throws(() => Standardiser.fromJSON(null), StandardiserFormatError);
  });
});
