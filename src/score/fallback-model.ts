// The fallback model: a logistic regression trained beside the MLP on the same standardised inputs, served when the MLP fails or runs slow.
import { DenseNetwork } from './dense-network.ts';
import type { ModelMetrics } from './evaluation.ts';
import { ModelScorer, type ModelScorerOptions } from './model-scorer.ts';
import type { ModelMetadata } from './artifact.ts';
import { Standardiser } from './preprocess.ts';

/**
 * A logistic regression is one sigmoid unit: a few dozen numbers, so it lives in the main
 * model's metadata (no second artifact to keep in step) and shares its standardiser. It scores
 * in well under a microsecond per event and cannot fail the way a large network can.
 */
export interface FallbackModelJson {
  kind: 'logistic_regression';
  /** One weight per feature, in the standardiser's order. */
  weights: number[];
  bias: number;
  /** Held-out metrics at training time, on the same period as the main model's. */
  metrics: ModelMetrics | null;
}

export class FallbackModelError extends Error {
  override readonly name = 'FallbackModelError';
}

/** The fallback from a trained one-unit network (an MLP with no hidden layer). */
export function fallbackFromNetwork(network: DenseNetwork, metrics: ModelMetrics | null): FallbackModelJson {
  const layers = network.weights();
  const only = layers[0];
  if (layers.length !== 1 || only === undefined || only.outputSize !== 1 || only.activation !== 'sigmoid') {
    throw new FallbackModelError(`a logistic regression is one sigmoid unit; this network has ${layers.length} layers`);
  }
  return { kind: 'logistic_regression', weights: Array.from(only.kernel), bias: only.bias[0]!, metrics };
}

/** The version a fallback's decisions record: the main version it was trained with, marked. */
const fallbackVersion = (mainVersion: string): string => `${mainVersion}-fallback`;

/** Serve a stored fallback: degraded = 'fallback_model', explained by the same occlusion as the main model. */
export function fallbackScorer(json: FallbackModelJson, mainVersion: string, standardiser: Standardiser, options: ModelScorerOptions = {}): ModelScorer {
  const d = standardiser.size;
  if (json.kind !== 'logistic_regression' || json.weights.length !== d || !json.weights.every(Number.isFinite) || !Number.isFinite(json.bias)) {
    throw new FallbackModelError(`model ${mainVersion}: the fallback must be a logistic regression with ${d} finite weights and a bias`);
  }
  const network = new DenseNetwork([{ inputSize: d, outputSize: 1, kernel: Float32Array.from(json.weights), bias: Float32Array.of(json.bias), activation: 'sigmoid' }]);
  return new ModelScorer(fallbackVersion(mainVersion), network, standardiser, { ...options, degraded: 'fallback_model' });
}

/** The fallback a stored model carries, ready to serve under its version; undefined for a model trained without one. */
export function fallbackOf(metadata: Pick<ModelMetadata, 'version' | 'fallback' | 'standardiser'>, options: ModelScorerOptions = {}): ModelScorer | undefined {
  return metadata.fallback === undefined ? undefined : fallbackScorer(metadata.fallback, metadata.version, Standardiser.fromJSON(metadata.standardiser), options);
}
