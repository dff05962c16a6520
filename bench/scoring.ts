// Measures the scoring stage: the JS dense network and ModelScorer against tfjs predict, and training time per backend.
import type * as TF from '@tensorflow/tfjs';
import type { RtdsEvent } from '../src/contracts/index.ts';
import { FEATURES } from '../src/features/index.ts';
import { DenseNetwork } from '../src/score/dense-network.ts';
import { buildMlp, seededRandom, trainModel } from '../src/score/mlp.ts';
import { ModelScorer } from '../src/score/model-scorer.ts';
import { Standardiser } from '../src/score/preprocess.ts';
import { tensorflow, type TfBackend } from '../src/score/tfjs.ts';

export interface InferenceResult {
  batch: number;
  /** Rows per second through DenseNetwork.predict (standardised input). */
  dense_rows_per_s: number;
  /** Rows per second through ModelScorer.scoreBatch (standardise + forward + reasons, no explanations). */
  scorer_rows_per_s: number;
  /** Rows per second through tfjs model.predict on the same input, on `backend`. */
  tfjs_rows_per_s: number;
  /** Largest |dense − tfjs| seen. */
  max_abs_diff: number;
}

/** Run `fn` repeatedly for about `ms` milliseconds (after a warm-up) and return calls per second. */
function rate(fn: () => void, ms: number): number {
  const warm = performance.now();
  while (performance.now() - warm < ms / 4) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    fn();
    calls++;
    now = performance.now();
  }
  return (calls * 1000) / (now - start);
}

/** Compare inference paths on the seed MLP with random weights and random standardised inputs. */
export async function benchInference(
  options: { batches?: readonly number[]; msPerCase?: number; backend?: TfBackend; seed?: number } = {},
): Promise<InferenceResult[]> {
  const tf = await tensorflow({ backend: options.backend ?? 'wasm' });
  const d = FEATURES.length;
  const random = seededRandom(options.seed ?? 1);
  const model = buildMlp(tf, { inputSize: d, seed: options.seed ?? 1 });
  const network = DenseNetwork.fromLayersModel(model);
  const raw = Array.from({ length: 4096 }, () => Float64Array.from({ length: d }, () => random() * 3));
  const standardiser = Standardiser.fit(raw);
  // explainFrom > 1: measure the plain hot path; explanations are paid only by risky events.
  const scorer = new ModelScorer('bench', network, standardiser, { explainFrom: 2 });
  const events: RtdsEvent[] = raw.map((_, i) => ({ event_id: `b${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u' }));
  const ms = options.msPerCase ?? 1000;
  const results: InferenceResult[] = [];
  try {
    for (const batch of options.batches ?? [1, 32, 256]) {
      const input = standardiser.applyAll(raw.slice(0, batch));
      const out = new Float32Array(batch);
      const vectors = raw.slice(0, batch);
      const eventSlice = events.slice(0, batch);
      network.predict(input, out, batch);
      const expected = tfPredict(tf, model, input, batch, d);
      let diff = 0;
      for (let i = 0; i < batch; i++) diff = Math.max(diff, Math.abs(out[i]! - expected[i]!));
      results.push({
        batch,
        dense_rows_per_s: rate(() => network.predict(input, out, batch), ms) * batch,
        scorer_rows_per_s: rate(() => scorer.scoreBatch(vectors, eventSlice), ms) * batch,
        tfjs_rows_per_s: rate(() => tfPredict(tf, model, input, batch, d), ms) * batch,
        max_abs_diff: diff,
      });
    }
  } finally {
    model.dispose();
  }
  return results;
}

function tfPredict(tf: typeof TF, model: TF.LayersModel, input: Float32Array, rows: number, d: number): Float32Array {
  return tf.tidy(() => {
    const p = model.predict(tf.tensor2d(input, [rows, d]));
    return (Array.isArray(p) ? p[0]! : p).dataSync() as Float32Array;
  });
}

/** Cost of explaining one risky event (occlusion over every feature), in microseconds. */
export async function benchExplanation(options: { msPerCase?: number; seed?: number } = {}): Promise<number> {
  const tf = await tensorflow();
  const d = FEATURES.length;
  const random = seededRandom(options.seed ?? 2);
  const model = buildMlp(tf, { inputSize: d, seed: options.seed ?? 2 });
  try {
    const network = DenseNetwork.fromLayersModel(model);
    const raw = Array.from({ length: 256 }, () => Float64Array.from({ length: d }, () => random() * 3));
    const scorer = new ModelScorer('bench', network, Standardiser.fit(raw), { explainFrom: 0 });
    const events: RtdsEvent[] = raw.map((_, i) => ({ event_id: `b${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event', user_id: 'u' }));
    const plain = new ModelScorer('bench', network, Standardiser.fit(raw), { explainFrom: 2 });
    const ms = options.msPerCase ?? 1000;
    const withReasons = rate(() => scorer.scoreBatch(raw, events), ms) * raw.length;
    const without = rate(() => plain.scoreBatch(raw, events), ms) * raw.length;
    return 1e6 / withReasons - 1e6 / without;
  } finally {
    model.dispose();
  }
}

/** Train on `rows` random labelled vectors (label from a fixed rule) and return the wall time. */
export async function benchTraining(options: { rows?: number; epochs?: number; backend?: TfBackend } = {}): Promise<{ backend: string; ms: number }> {
  const d = FEATURES.length;
  const random = seededRandom(3);
  const rows = options.rows ?? 50_000;
  const x = Array.from({ length: rows }, () => Float64Array.from({ length: d }, () => random() * 3));
  const y = x.map((v) => (v[0]! + v[7]! + random() > 5.2 ? 1 : 0));
  const t = await trainModel(x, y, { epochs: options.epochs ?? 15, backend: options.backend ?? 'wasm' });
  t.model.dispose();
  return { backend: t.info.backend, ms: t.info.duration_ms };
}
