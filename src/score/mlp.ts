// The seed's network (Dense 64-32-16-1, ReLU, 20 % dropout, sigmoid) in TensorFlow.js, and its reproducible training.
import type * as TF from '@tensorflow/tfjs';
import { FEATURES, type FeatureColumn } from '../features/index.ts';
import { evaluateScores, rocAuc, type ModelMetrics } from './evaluation.ts';
import { Standardiser } from './preprocess.ts';
import { tensorflow, type Tf, type TfBackend } from './tfjs.ts';

export interface MlpShape {
  inputSize: number;
  /** Hidden layer widths; default the seed's [64, 32, 16]. */
  hidden?: readonly number[];
  /** Dropout after each hidden layer but the last; default 0.2. */
  dropout?: number;
  learningRate?: number;
  /** Seeds the weight initialisers and dropout masks. */
  seed?: number;
}

export const SEED_HIDDEN_LAYERS: readonly number[] = [64, 32, 16];

/** Build and compile the MLP: Adam, binary cross-entropy, accuracy. */
export function buildMlp(tf: Tf, shape: MlpShape): TF.Sequential {
  const hidden = shape.hidden ?? SEED_HIDDEN_LAYERS;
  const rate = shape.dropout ?? 0.2;
  const seed = shape.seed ?? 42;
  const model = tf.sequential();
  hidden.forEach((units, k) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 7919 + k + 1 }),
        ...(k === 0 ? { inputShape: [shape.inputSize] } : {}),
        name: `dense_${k + 1}`,
      }),
    );
    // The seed's layout: dropout between the hidden layers, none before the output.
    if (rate > 0 && k < hidden.length - 1) model.add(tf.layers.dropout({ rate, seed: dropoutSeed(seed, k, 0), name: `dropout_${k + 1}` }));
  });
  model.add(
    tf.layers.dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 7919 + hidden.length + 1 }),
      // No hidden layer: a logistic regression, whose one unit takes the input.
      ...(hidden.length === 0 ? { inputShape: [shape.inputSize] } : {}),
      name: 'score',
    }),
  );
  model.compile({ optimizer: tf.train.adam(shape.learningRate ?? 1e-3), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** A positive integer: tfjs treats a seed of 0 as "no seed". */
function dropoutSeed(seed: number, layer: number, step: number): number {
  return (((seed * 1_000_003 + layer * 65_537 + step * 2_654_435_761) >>> 0) % 2_147_483_646) + 1;
}

/** How the rare fraud class is weighted in the loss. */
export type ClassWeighting = 'balanced' | 'sqrt' | 'none' | { negative: number; positive: number };

export interface EpochProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** Training loss (class-weighted, dropout on), mean over the epoch's batches. */
  loss: number;
  accuracy: number;
  /** Unweighted binary cross-entropy on the validation rows; NaN without validation. */
  val_loss: number;
  val_auc: number;
  elapsed_ms: number;
}

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /** Share of rows held out (stratified by label) when `validation` is not given; default 0.2. */
  validationFraction?: number;
  /** An explicit validation set; the training rows are then all of `x`. */
  validation?: { x: readonly Float64Array[]; y: ArrayLike<number> };
  /** Default 'balanced': each class carries half the loss. */
  classWeight?: ClassWeighting;
  hidden?: readonly number[];
  dropout?: number;
  features?: readonly FeatureColumn[];
  /** Standardise with this one instead of fitting one: how a fallback model reads exactly its main model's inputs. */
  standardiser?: Standardiser;
  backend?: TfBackend;
  /** Thresholds at which the validation metrics are reported; default [0.5, 0.7]. */
  thresholds?: readonly number[];
  onEpoch?: (progress: EpochProgress) => void;
  log?: (message: string) => void;
}

export interface TrainingInfo {
  rows: number;
  train_rows: number;
  validation_rows: number;
  /** Fraud share over all rows given. */
  fraud_rate: number;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  seed: number;
  class_weight: { negative: number; positive: number };
  backend: string;
  duration_ms: number;
}

export interface TrainedModel {
  model: TF.LayersModel;
  standardiser: Standardiser;
  history: EpochProgress[];
  info: TrainingInfo;
  /** Metrics on the validation rows; null when there were none. */
  metrics: ModelMetrics | null;
  validation: { scores: Float32Array; labels: Uint8Array };
}

export class TrainingDataError extends Error {
  override readonly name = 'TrainingDataError';
}

/** mulberry32: small, fast, good enough for shuffles and splits. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffleInPlace(a: Int32Array | number[], random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

function classWeights(weighting: ClassWeighting, negatives: number, positives: number): { negative: number; positive: number } {
  if (typeof weighting === 'object') return { ...weighting };
  if (weighting === 'none' || positives === 0 || negatives === 0) return { negative: 1, positive: 1 };
  const n = negatives + positives;
  const balanced = { negative: n / (2 * negatives), positive: n / (2 * positives) };
  if (weighting === 'balanced') return balanced;
  // 'sqrt': half-way (in log terms) between no weighting and balanced; shifts scores up less.
  return { negative: Math.sqrt(balanced.negative), positive: Math.sqrt(balanced.positive) };
}

function meanBinaryCrossEntropy(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length === 0) return NaN;
  const eps = 1e-7;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(Math.max(scores[i]!, eps), 1 - eps);
    sum -= labels[i]! >= 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / scores.length;
}

/**
 * Train the MLP on raw feature vectors and 0/1 labels. The Standardiser is fitted on the training
 * rows only. Reproducible for a seed on one backend: the split, each epoch's order, the weight
 * initialisers and the dropout masks all come from it.
 */
export async function trainModel(x: readonly Float64Array[], y: ArrayLike<number>, options: TrainOptions = {}): Promise<TrainedModel> {
  const started = performance.now();
  if (x.length !== y.length) throw new TrainingDataError(`${x.length} vectors but ${y.length} labels`);
  if (x.length === 0) throw new TrainingDataError('no training rows');
  const features = options.features ?? FEATURES;
  const d = features.length;
  const epochs = options.epochs ?? 15;
  const batchSize = options.batchSize ?? 256;
  const learningRate = options.learningRate ?? 1e-3;
  const seed = options.seed ?? 42;
  const random = seededRandom(seed);
  const tfOptions = { backend: options.backend ?? 'wasm', ...(options.log ? { log: options.log } : {}) } as const;
  const tf = await tensorflow(tfOptions);

  // Split: stratified, so the few fraud rows are shared fairly between the two parts.
  let trainX: readonly Float64Array[];
  let trainY: ArrayLike<number>;
  let valX: readonly Float64Array[];
  let valY: ArrayLike<number>;
  if (options.validation) {
    trainX = x;
    trainY = y;
    valX = options.validation.x;
    valY = options.validation.y;
  } else {
    const fraction = options.validationFraction ?? 0.2;
    if (!(fraction >= 0 && fraction < 1)) throw new RangeError('validationFraction must be in [0, 1)');
    const byClass: number[][] = [[], []];
    for (let i = 0; i < y.length; i++) byClass[y[i]! >= 0.5 ? 1 : 0]!.push(i);
    const trainIdx: number[] = [];
    const valIdx: number[] = [];
    for (const idx of byClass) {
      shuffleInPlace(idx, random);
      const held = Math.round(idx.length * fraction);
      // A loop, not push(...spread): a million indices would overflow the call stack.
      for (let k = 0; k < idx.length; k++) (k < held ? valIdx : trainIdx).push(idx[k]!);
    }
    trainX = trainIdx.map((i) => x[i]!);
    trainY = trainIdx.map((i) => (y[i]! >= 0.5 ? 1 : 0));
    valX = valIdx.map((i) => x[i]!);
    valY = valIdx.map((i) => (y[i]! >= 0.5 ? 1 : 0));
  }
  for (const rows of [trainX, valX]) {
    for (const row of rows) if (row.length !== d) throw new TrainingDataError(`a vector has ${row.length} values; the feature set has ${d}`);
  }
  if (valX.length !== valY.length) throw new TrainingDataError(`${valX.length} validation vectors but ${valY.length} labels`);
  const nTrain = trainX.length;
  if (nTrain === 0) throw new TrainingDataError('no rows left for training after the validation split');
  let positives = 0;
  for (let i = 0; i < nTrain; i++) positives += trainY[i]! >= 0.5 ? 1 : 0;
  const weights = classWeights(options.classWeight ?? 'balanced', nTrain - positives, positives);

  const standardiser = options.standardiser ?? Standardiser.fit(trainX, features);
  const trainInput = standardiser.applyAll(trainX);
  const valInput = standardiser.applyAll(valX);
  const trainLabels = Float32Array.from({ length: nTrain }, (_, i) => (trainY[i]! >= 0.5 ? 1 : 0));
  const valLabels = Uint8Array.from({ length: valX.length }, (_, i) => (valY[i]! >= 0.5 ? 1 : 0));

  const model = buildMlp(tf, {
    inputSize: d,
    ...(options.hidden ? { hidden: options.hidden } : {}),
    ...(options.dropout !== undefined ? { dropout: options.dropout } : {}),
    learningRate,
    seed,
  });
  const dropoutLayers = model.layers.filter((l) => l.getClassName() === 'Dropout');
  const xAll = tf.tensor2d(trainInput, [nTrain, d]);
  const yAll = tf.tensor2d(trainLabels, [nTrain, 1]);
  const order = Int32Array.from({ length: nTrain }, (_, i) => i);
  const history: EpochProgress[] = [];
  let step = 0;
  let valScores: Float32Array = new Float32Array(0);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      // Our own seeded order per epoch: tfjs's fit(shuffle) draws from Math.random.
      shuffleInPlace(order, random);
      const idx = tf.tensor1d(order, 'int32');
      const xs = tf.gather(xAll, idx);
      const ys = tf.gather(yAll, idx);
      idx.dispose();
      let fitted: TF.History;
      try {
        fitted = await model.fit(xs, ys, {
          epochs: 1,
          batchSize,
          shuffle: false,
          verbose: 0,
          classWeight: { 0: weights.negative, 1: weights.positive },
          callbacks: {
            // A Dropout layer with a fixed seed draws the same mask for every batch; a fresh
            // seed per step keeps masks random yet reproducible. `seed` is private in tfjs's types.
            onBatchBegin: () => {
              step++;
              dropoutLayers.forEach((layer, k) => Reflect.set(layer, 'seed', dropoutSeed(seed, k, step)));
            },
          },
        });
      } finally {
        xs.dispose();
        ys.dispose();
      }
      valScores = predictRows(tf, model, valInput, valX.length, d);
      const progress: EpochProgress = {
        epoch,
        epochs,
        loss: lastNumber(fitted.history.loss),
        accuracy: lastNumber(fitted.history.acc ?? fitted.history.accuracy),
        val_loss: meanBinaryCrossEntropy(valScores, valLabels),
        val_auc: valX.length > 0 ? rocAuc(valScores, valLabels) : NaN,
        elapsed_ms: performance.now() - started,
      };
      history.push(progress);
      options.onEpoch?.(progress);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    xAll.dispose();
    yAll.dispose();
  }
  if (epochs === 0) valScores = predictRows(tf, model, valInput, valX.length, d);
  dropoutLayers.forEach((layer, k) => Reflect.set(layer, 'seed', dropoutSeed(seed, k, 0)));

  // All rows given: with an explicit validation set, those rows count too.
  const total = nTrain + valX.length;
  const fraud = positives + valLabels.reduce((a, b) => a + b, 0);
  return {
    model,
    standardiser,
    history,
    metrics: valX.length > 0 ? evaluateScores(valScores, valLabels, options.thresholds ?? [0.5, 0.7]) : null,
    validation: { scores: valScores, labels: valLabels },
    info: {
      rows: total,
      train_rows: nTrain,
      validation_rows: valX.length,
      fraud_rate: total > 0 ? fraud / total : 0,
      epochs,
      batch_size: batchSize,
      learning_rate: learningRate,
      seed,
      class_weight: weights,
      backend: tf.getBackend(),
      duration_ms: Math.round(performance.now() - started),
    },
  };
}

function lastNumber(values: readonly (number | TF.Tensor)[] | undefined): number {
  const v = values?.[values.length - 1];
  if (v === undefined) return NaN;
  return typeof v === 'number' ? v : v.dataSync()[0]!;
}

/** tfjs inference over standardised rows, in chunks to bound memory. */
export function predictRows(tf: Tf, model: TF.LayersModel, input: Float32Array, rows: number, d: number, chunk = 8192): Float32Array {
  const out = new Float32Array(rows);
  for (let start = 0; start < rows; start += chunk) {
    const n = Math.min(chunk, rows - start);
    const scores = tf.tidy(() => {
      const t = tf.tensor2d(input.subarray(start * d, (start + n) * d), [n, d]);
      const p = model.predict(t);
      return (Array.isArray(p) ? p[0]! : p).dataSync();
    });
    out.set(scores, start);
  }
  return out;
}
