// Model artifacts in memory: metadata and its checks, the tfjs model as model.json + weights bytes, and the model built back from them.
import type * as TF from '@tensorflow/tfjs';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../features/index.ts';
import type { ModelMetrics } from './evaluation.ts';
import type { FallbackModelJson } from './fallback-model.ts';
import type { TrainedModel, TrainingInfo } from './mlp.ts';
import { Standardiser, type StandardiserJson } from './preprocess.ts';
import { tensorflow, type TfBackend } from './tfjs.ts';

export const ARTIFACT_FORMAT = 'rtds-model/1';
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const METADATA_FILE = 'metadata.json';

export interface ModelMetadata {
  format: typeof ARTIFACT_FORMAT;
  version: string;
  /** RFC 3339. */
  created_at: string;
  feature_set_version: string;
  feature_names: string[];
  standardiser: StandardiserJson;
  /** Held-out metrics at training time (NaN values are stored as null). */
  metrics: ModelMetrics | null;
  training: TrainingInfo | null;
  description?: string;
  /** Held-out scores counted over ten equal bins of [0, 1]: the reference for drift (PSI) once served. */
  score_distribution?: number[];
  /** A logistic regression trained alongside: what scores while this model fails or runs over budget. */
  fallback?: FallbackModelJson;
}

export interface ModelArtifact {
  model: TF.LayersModel;
  metadata: ModelMetadata;
}

/** What a registry needs to store a new model: it assigns the version and creation time. */
export interface ModelDraft {
  model: TF.LayersModel;
  metadata: Omit<ModelMetadata, 'format' | 'version' | 'created_at'> & { created_at?: string };
}

export class ArtifactError extends Error {
  override name = 'ArtifactError';
  constructor(
    message: string,
    /** Where the model is: its folder, or the registry that holds it. */
    readonly location: string,
  ) {
    super(message);
  }
}

/** The model was trained on another feature layout; scoring current vectors with it would be wrong. */
export class FeatureSetMismatchError extends ArtifactError {
  override name = 'FeatureSetMismatchError';
  constructor(
    location: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model at ${location} was trained on feature set "${actual}"; this build computes "${expected}" — retrain it`, location);
  }
}

export class ModelVersionNotFoundError extends ArtifactError {
  override name = 'ModelVersionNotFoundError';
  constructor(
    location: string,
    readonly version: string,
  ) {
    super(`no model version "${version}" in ${location}`, location);
  }
}

export interface LoadOptions {
  /** Feature set the caller computes; default the current FEATURE_SET_VERSION; null accepts any. */
  featureSetVersion?: string | null;
  backend?: TfBackend;
}

/** Describe a freshly trained model for saving; `featureSetVersion` is the set its input came from. */
export function draftFromTraining(trained: TrainedModel, description?: string, featureSetVersion: string = FEATURE_SET_VERSION): ModelDraft {
  return {
    model: trained.model,
    metadata: {
      feature_set_version: featureSetVersion,
      feature_names: [...trained.standardiser.features],
      standardiser: trained.standardiser.toJSON(),
      metrics: trained.metrics,
      training: trained.info,
      ...(description === undefined ? {} : { description }),
    },
  };
}

/** A tfjs layers model as stored: its model.json (weights in one shard, WEIGHTS_FILE) and those weights. */
export interface SerialisedModel {
  modelJson: TF.io.ModelJSON;
  weights: Uint8Array;
}

/** The model as model.json + weights bytes, in the layout tensorflowjs_converter and tfjs's file handlers write, so either side loads the other's. */
export async function serialiseModel(model: TF.LayersModel): Promise<SerialisedModel> {
  const tf = await tensorflow();
  let serialised: SerialisedModel | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const { weightSpecs, weightData } = artifacts;
      if (weightSpecs === undefined || weightData === undefined) throw new Error('the model produced no weights');
      const bytes = Array.isArray(weightData) ? tf.io.CompositeArrayBuffer.join(weightData) : weightData;
      serialised = {
        modelJson: {
          modelTopology: artifacts.modelTopology as object,
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
          convertedBy: artifacts.convertedBy ?? null,
          weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: weightSpecs }],
          ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
          ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        },
        weights: new Uint8Array(bytes),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
    }),
  );
  if (serialised === undefined) throw new Error('the model was not saved');
  return serialised;
}

/**
 * Check metadata as read (cheap: no TensorFlow.js): the format, the feature set the caller
 * computes (FeatureSetMismatchError), and that the standardiser covers exactly feature_names.
 */
export function checkMetadata(raw: unknown, location: string, options: LoadOptions = {}): ModelMetadata {
  const m = raw as Partial<ModelMetadata>;
  if (typeof m !== 'object' || m === null || m.format !== ARTIFACT_FORMAT) {
    throw new ArtifactError(`${METADATA_FILE} in ${location} is not an ${ARTIFACT_FORMAT} artifact`, location);
  }
  if (typeof m.version !== 'string' || typeof m.feature_set_version !== 'string' || !Array.isArray(m.feature_names)) {
    throw new ArtifactError(`${METADATA_FILE} in ${location} lacks version, feature_set_version or feature_names`, location);
  }
  const expected = options.featureSetVersion === undefined ? FEATURE_SET_VERSION : options.featureSetVersion;
  if (expected !== null && m.feature_set_version !== expected) throw new FeatureSetMismatchError(location, expected, m.feature_set_version);
  if (expected === FEATURE_SET_VERSION && m.feature_names.join(',') !== FEATURE_NAMES.join(',')) {
    throw new FeatureSetMismatchError(location, expected, `${m.feature_set_version} (with different feature names)`);
  }
  let standardiser: Standardiser;
  try {
    standardiser = Standardiser.fromJSON(m.standardiser);
  } catch (e) {
    throw new ArtifactError(`${METADATA_FILE} in ${location}: ${errorMessage(e)}`, location);
  }
  if (standardiser.features.join(',') !== m.feature_names.join(',')) {
    throw new ArtifactError(`${METADATA_FILE} in ${location}: the standardiser's features differ from feature_names`, location);
  }
  return m as ModelMetadata;
}

/** The stored parts of an artifact, however they are kept. */
export interface StoredArtifact {
  metadata: unknown;
  modelJson: unknown;
  /** The bytes of one weights shard named in model.json's manifest. */
  shard(path: string): Promise<ArrayBuffer>;
}

/**
 * Build an artifact from its stored parts: metadata checked first (refusing another feature set),
 * then the tfjs model, whose input and output must match the metadata. model.json may come from
 * tfjs or from tensorflowjs_converter (any number of weight shards).
 */
export async function buildArtifact(stored: StoredArtifact, location: string, options: LoadOptions = {}): Promise<ModelArtifact> {
  const metadata = checkMetadata(stored.metadata, location, options);
  const tf = await tensorflow(options.backend ? { backend: options.backend } : {});
  const modelJson = stored.modelJson as TF.io.ModelJSON;
  if (typeof modelJson !== 'object' || modelJson === null || modelJson.modelTopology == null) {
    throw new ArtifactError(`${MODEL_FILE} in ${location} has no modelTopology`, location);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: TF.io.WeightsManifestEntry[] = [];
    const shards: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const p of group.paths) shards.push(await stored.shard(p));
      specs.push(...group.weights);
    }
    return [specs, tf.io.CompositeArrayBuffer.join(shards)];
  });
  let model: TF.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: async () => artifacts });
  } catch (e) {
    throw new ArtifactError(`cannot build the model in ${location}: ${errorMessage(e)}`, location);
  }
  const inputShape = model.inputs[0]?.shape;
  const outputShape = model.outputs[0]?.shape;
  if (inputShape?.[1] !== metadata.feature_names.length || outputShape?.[1] !== 1) {
    model.dispose();
    throw new ArtifactError(
      `model in ${location} maps ${inputShape?.[1]} inputs to ${outputShape?.[1]} outputs; expected ${metadata.feature_names.length} → 1`,
      location,
    );
  }
  return { model, metadata };
}

/** The bytes as an ArrayBuffer of their own (a Buffer's may be a slice of a larger pool). */
export function ownArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
