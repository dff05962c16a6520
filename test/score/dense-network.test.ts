import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { DenseNetwork, UnsupportedModelError, type DenseLayerWeights } from '../../src/score/dense-network.ts';
import { tensorflow, type Tf } from '../../src/score/tfjs.ts';
import { maxAbsDiff, randomInputs, randomMlp, tfPredict } from './models.ts';
import { rng } from './synthetic.ts';

describe('DenseNetwork', () => {
  let tf: Tf;
  let model: TF.Sequential;
  let net: DenseNetwork;
  const d = 26;

  before(async () => {
    tf = await tensorflow();
    model = randomMlp(tf, 3, d);
    net = DenseNetwork.fromLayersModel(model);
  });
  after(() => model.dispose());

  it('reads the four dense layers of the seed MLP and skips its dropout layers', () => {
    assert.equal(net.inputSize, d);
    assert.equal(net.outputSize, 1);
    assert.deepEqual(
      net.weights().map((l) => [l.inputSize, l.outputSize, l.activation]),
      [
        [d, 64, 'relu'],
        [64, 32, 'relu'],
        [32, 16, 'relu'],
        [16, 1, 'sigmoid'],
      ],
    );
  });

  for (const batch of [1, 64, 7]) {
    it(`equals tfjs model.predict within 1e-5 at batch ${batch}`, () => {
      const input = randomInputs(batch, d, 100 + batch);
      const out = new Float32Array(batch);
      net.predict(input, out, batch);
      const expected = tfPredict(tf, model, input, batch, d);
      assert.ok(maxAbsDiff(out, expected) < 1e-5, `max diff ${maxAbsDiff(out, expected)}`);
    });
  }

  it('gives the same score for a row whether scored alone or inside a batch', () => {
    const input = randomInputs(9, d, 5);
    const all = new Float32Array(9);
    net.predict(input, all, 9);
    const one = new Float32Array(1);
    net.predict(input.subarray(8 * d), one, 1);
    assert.equal(one[0], all[8]);
  });

  it('predicts with each input zeroed in turn, as predict on the edited rows does', () => {
    const row = randomInputs(1, d, 77);
    row[4] = 0; // an input already at 0 is reported as NaN (nothing to occlude)
    const skip = new Uint8Array(d);
    skip[6] = 1;
    const occluded = new Float32Array(d);
    net.predictOccluded(row, 0, occluded, skip);
    const edited = new Float32Array(d * d);
    for (let f = 0; f < d; f++) {
      edited.set(row, f * d);
      edited[f * d + f] = 0;
    }
    const expected = new Float32Array(d);
    net.predict(edited, expected, d);
    for (let f = 0; f < d; f++) {
      if (f === 4 || f === 6) assert.ok(Number.isNaN(occluded[f]!), `feature ${f} should be skipped`);
      else assert.ok(Math.abs(occluded[f]! - expected[f]!) < 1e-6, `feature ${f}: ${occluded[f]} vs ${expected[f]}`);
    }
  });

  it('returns the output and its input gradient, matching finite differences', () => {
    const row = randomInputs(1, d, 31);
    const grad = new Float64Array(d);
    const value = net.inputGradient(row, 0, grad);
    const out = new Float32Array(1);
    net.predict(row, out, 1);
    assert.ok(Math.abs(value - out[0]!) < 1e-6);
    const h = 1e-2;
    for (const f of [0, 5, 13, 25]) {
      const plus = Float32Array.from(row);
      const minus = Float32Array.from(row);
      plus[f]! += h;
      minus[f]! -= h;
      const a = new Float32Array(1);
      const b = new Float32Array(1);
      net.predict(plus, a, 1);
      net.predict(minus, b, 1);
      const numeric = (a[0]! - b[0]!) / (2 * h);
      assert.ok(Math.abs(numeric - grad[f]!) < 1e-3 + 0.02 * Math.abs(grad[f]!), `feature ${f}: ${numeric} vs ${grad[f]}`);
    }
  });

  it('refuses layers it cannot run', () => {
    const conv = tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [4, 1], filters: 1, kernelSize: 2 })] });
    assert.throws(() => DenseNetwork.fromLayersModel(conv), UnsupportedModelError);
    conv.dispose();
    assert.throws(
      () => new DenseNetwork([{ inputSize: 2, outputSize: 1, kernel: new Float32Array(2), bias: new Float32Array(1), activation: 'relu' }, { inputSize: 3, outputSize: 1, kernel: new Float32Array(3), bias: new Float32Array(1), activation: 'linear' }]),
      UnsupportedModelError,
    );
  });
});

describe('DenseNetwork.predict over a batch (the SIMD matrix product)', () => {
  /** Layers whose widths are not whole blocks of four, every activation among them. */
  const SHAPE: [number, number, 'relu' | 'tanh' | 'linear' | 'sigmoid'][] = [
    [13, 7, 'relu'],
    [7, 5, 'tanh'],
    [5, 6, 'linear'],
    [6, 3, 'sigmoid'],
  ];
  const random = rng(21);
  const layers: DenseLayerWeights[] = SHAPE.map(([n, m, activation]) => ({
    inputSize: n,
    outputSize: m,
    kernel: Float32Array.from({ length: n * m }, () => random() * 2 - 1),
    bias: Float32Array.from({ length: m }, () => random() - 0.5),
    activation,
  }));

  /** The forward pass written plainly, in float64 from the float32 weights: bias first, then each input in order. */
  function plain(row: Float32Array): number[] {
    let a = Array.from(row);
    for (const l of layers) {
      const o: number[] = [];
      for (let j = 0; j < l.outputSize; j++) {
        let s = l.bias[j]!;
        for (let i = 0; i < l.inputSize; i++) s += a[i]! * l.kernel[i * l.outputSize + j]!;
        o.push(l.activation === 'relu' ? (s > 0 ? s : 0) : l.activation === 'tanh' ? Math.tanh(s) : l.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s);
      }
      a = o;
    }
    return Array.from(Float32Array.from(a));
  }

  it('equals the plain forward pass bit for bit, for every row of batches across blocks of four and chunks of 64', () => {
    const net = new DenseNetwork(layers);
    for (const batch of [1, 3, 4, 5, 63, 64, 65, 130]) {
      const input = randomInputs(batch, 13, batch);
      const out = new Float32Array(batch * 3);
      net.predict(input, out, batch);
      for (let r = 0; r < batch; r++) assert.deepEqual(Array.from(out.subarray(r * 3, r * 3 + 3)), plain(input.subarray(r * 13, r * 13 + 13)), `batch ${batch}, row ${r}`);
    }
  });
});
