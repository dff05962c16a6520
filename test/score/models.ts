// Test helpers: a seed-shaped MLP with random (non-zero) biases, and tfjs predictions for comparison.
import type * as TF from '@tensorflow/tfjs';
import { FEATURES } from '../../src/features/index.ts';
import { buildMlp } from '../../src/score/mlp.ts';
import type { Tf } from '../../src/score/tfjs.ts';
import { rng } from './synthetic.ts';

/** The seed's 64-32-16-1 network with seeded random weights and biases, untrained. */
export function randomMlp(tf: Tf, seed = 1, inputSize = FEATURES.length): TF.Sequential {
  const model = buildMlp(tf, { inputSize, seed });
  const random = rng(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length !== 2) continue;
    const [kernel, bias] = weights as [TF.Tensor, TF.Tensor];
    const b = tf.tensor(Float32Array.from({ length: bias.size }, () => (random() - 0.5) * 0.5), bias.shape);
    layer.setWeights([kernel, b]);
    b.dispose();
  }
  return model;
}

export function randomInputs(rows: number, d: number, seed: number): Float32Array {
  const random = rng(seed);
  return Float32Array.from({ length: rows * d }, () => (random() - 0.5) * 6);
}

export function tfPredict(tf: Tf, model: TF.LayersModel, input: Float32Array, rows: number, d: number): Float32Array {
  return tf.tidy(() => {
    const p = model.predict(tf.tensor2d(input, [rows, d]));
    return Float32Array.from((Array.isArray(p) ? p[0]! : p).dataSync());
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Infinity;
}
