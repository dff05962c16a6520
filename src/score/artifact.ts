// Model artifacts on disk (tfjs layers model.json + weights.bin + metadata.json) and the versioned registry over them.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
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
export const ACTIVE_FILE = 'ACTIVE';
/** One JSON line per activation: the history a rollback goes back along. */
const ACTIVATIONS_FILE = 'activations.jsonl';

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
    readonly dir: string,
  ) {
    super(message);
  }
}

/** The model was trained on another feature layout; scoring current vectors with it would be wrong. */
export class FeatureSetMismatchError extends ArtifactError {
  override name = 'FeatureSetMismatchError';
  constructor(
    dir: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model at ${dir} was trained on feature set "${actual}"; this build computes "${expected}" — retrain it`, dir);
  }
}

export class ModelVersionNotFoundError extends ArtifactError {
  override name = 'ModelVersionNotFoundError';
  constructor(
    dir: string,
    readonly version: string,
  ) {
    super(`no model version "${version}" in ${dir}`, dir);
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

/**
 * Write an artifact into `dir`, which must not exist yet. Files go to a sibling temp folder that
 * is renamed into place, so a reader never sees half a model.
 */
export async function saveArtifact(dir: string, artifact: ModelArtifact): Promise<void> {
  const tmp = await writeToTemp(path.dirname(dir), artifact);
  try {
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw new ArtifactError(`cannot place model at ${dir}: ${errorMessage(e)}`, dir);
  }
}

async function writeToTemp(parent: string, artifact: ModelArtifact): Promise<string> {
  const tf = await tensorflow();
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.tmp-${process.pid}-${randomUUID()}`);
  await mkdir(tmp);
  try {
    await artifact.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const { weightSpecs, weightData } = artifacts;
        if (weightSpecs === undefined || weightData === undefined) throw new Error('the model produced no weights');
        const bytes = Array.isArray(weightData) ? tf.io.CompositeArrayBuffer.join(weightData) : weightData;
        // The layout tensorflowjs_converter and tfjs's file handlers write, so either side loads the other's.
        const modelJson: TF.io.ModelJSON = {
          modelTopology: artifacts.modelTopology as object,
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
          convertedBy: artifacts.convertedBy ?? null,
          weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: weightSpecs }],
          ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
          ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        };
        await writeFile(path.join(tmp, WEIGHTS_FILE), new Uint8Array(bytes));
        await writeFile(path.join(tmp, MODEL_FILE), JSON.stringify(modelJson));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
      }),
    );
    await writeFile(path.join(tmp, METADATA_FILE), JSON.stringify(artifact.metadata, null, 2) + '\n');
    return tmp;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Read and check `metadata.json` alone (cheap: no TensorFlow.js). */
export async function readMetadata(dir: string, options: LoadOptions = {}): Promise<ModelMetadata> {
  const raw = await readJson(path.join(dir, METADATA_FILE), dir);
  const m = raw as Partial<ModelMetadata>;
  if (typeof m !== 'object' || m === null || m.format !== ARTIFACT_FORMAT) {
    throw new ArtifactError(`${METADATA_FILE} in ${dir} is not an ${ARTIFACT_FORMAT} artifact`, dir);
  }
  if (typeof m.version !== 'string' || typeof m.feature_set_version !== 'string' || !Array.isArray(m.feature_names)) {
    throw new ArtifactError(`${METADATA_FILE} in ${dir} lacks version, feature_set_version or feature_names`, dir);
  }
  const expected = options.featureSetVersion === undefined ? FEATURE_SET_VERSION : options.featureSetVersion;
  if (expected !== null && m.feature_set_version !== expected) throw new FeatureSetMismatchError(dir, expected, m.feature_set_version);
  if (expected === FEATURE_SET_VERSION && m.feature_names.join(',') !== FEATURE_NAMES.join(',')) {
    throw new FeatureSetMismatchError(dir, expected, `${m.feature_set_version} (with different feature names)`);
  }
  let standardiser: Standardiser;
  try {
    standardiser = Standardiser.fromJSON(m.standardiser);
  } catch (e) {
    throw new ArtifactError(`${METADATA_FILE} in ${dir}: ${errorMessage(e)}`, dir);
  }
  if (standardiser.features.join(',') !== m.feature_names.join(',')) {
    throw new ArtifactError(`${METADATA_FILE} in ${dir}: the standardiser's features differ from feature_names`, dir);
  }
  return m as ModelMetadata;
}

/**
 * Load an artifact folder. Refuses (FeatureSetMismatchError) a model trained on another feature
 * set. model.json may come from tfjs or from tensorflowjs_converter (any number of weight shards).
 */
export async function loadArtifact(dir: string, options: LoadOptions = {}): Promise<ModelArtifact> {
  const metadata = await readMetadata(dir, options);
  const tf = await tensorflow(options.backend ? { backend: options.backend } : {});
  const modelJson = (await readJson(path.join(dir, MODEL_FILE), dir)) as TF.io.ModelJSON;
  if (typeof modelJson !== 'object' || modelJson === null || modelJson.modelTopology == null) {
    throw new ArtifactError(`${MODEL_FILE} in ${dir} has no modelTopology`, dir);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: TF.io.WeightsManifestEntry[] = [];
    const shards: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const p of group.paths) shards.push(await readShard(dir, p));
      specs.push(...group.weights);
    }
    return [specs, tf.io.CompositeArrayBuffer.join(shards)];
  });
  let model: TF.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: async () => artifacts });
  } catch (e) {
    throw new ArtifactError(`cannot build the model in ${dir}: ${errorMessage(e)}`, dir);
  }
  const inputShape = model.inputs[0]?.shape;
  const outputShape = model.outputs[0]?.shape;
  if (inputShape?.[1] !== metadata.feature_names.length || outputShape?.[1] !== 1) {
    model.dispose();
    throw new ArtifactError(
      `model in ${dir} maps ${inputShape?.[1]} inputs to ${outputShape?.[1]} outputs; expected ${metadata.feature_names.length} → 1`,
      dir,
    );
  }
  return { model, metadata };
}

async function readShard(dir: string, relative: string): Promise<ArrayBuffer> {
  const file = path.resolve(dir, relative);
  if (path.relative(path.resolve(dir), file).startsWith('..')) throw new ArtifactError(`weights path "${relative}" leaves ${dir}`, dir);
  try {
    const b = await readFile(file);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  } catch (e) {
    throw new ArtifactError(`cannot read weights ${relative} in ${dir}: ${errorMessage(e)}`, dir);
  }
}

async function readJson(file: string, dir: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ArtifactError(`cannot read ${file}: ${errorMessage(e)}`, dir);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ArtifactError(`${file} is not valid JSON: ${errorMessage(e)}`, dir);
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const VERSION_PATTERN = /^v([1-9][0-9]*)$/;

export interface ModelListing {
  version: string;
  active: boolean;
  metadata: ModelMetadata;
}

/**
 * Versioned models in one folder: `<dir>/v1/…`, `<dir>/v2/…`, and an `ACTIVE` file naming the
 * version the scorer should serve. Versions only ever increase; concurrent savers each get their own.
 */
export class ModelRegistry {
  constructor(
    readonly dir: string,
    private readonly options: LoadOptions = {},
  ) {}

  /** Store a model as the next version (not activated); returns that version. */
  async save(draft: ModelDraft): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const created = draft.metadata.created_at ?? new Date().toISOString();
    let next = (await this.versionNumbers()).reduce((a, b) => Math.max(a, b), 0) + 1;
    const metadata = (version: string): ModelMetadata => ({ ...draft.metadata, format: ARTIFACT_FORMAT, version, created_at: created });
    const tmp = await writeToTemp(this.dir, { model: draft.model, metadata: metadata(`v${next}`) });
    try {
      for (;;) {
        const version = `v${next}`;
        try {
          await rename(tmp, path.join(this.dir, version));
          return version;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
          // Another saver took this number first: take the next one.
          next++;
          await writeFile(path.join(tmp, METADATA_FILE), JSON.stringify(metadata(`v${next}`), null, 2) + '\n');
        }
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Make `version` the one served, and record the activation (what `rollback` goes back along).
   * Refuses a version that is missing or built on another feature set.
   */
  async activate(version: string): Promise<void> {
    const dir = await this.existingVersionDir(version);
    await readMetadata(dir, this.options);
    const tmp = path.join(this.dir, `.${ACTIVE_FILE}-${process.pid}-${randomUUID()}`);
    await writeFile(tmp, version + '\n');
    await rename(tmp, path.join(this.dir, ACTIVE_FILE));
    await appendFile(path.join(this.dir, ACTIVATIONS_FILE), JSON.stringify({ version, at: new Date().toISOString() }) + '\n');
  }

  /** Activations, oldest first. */
  async activations(): Promise<{ version: string; at: string }[]> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, ACTIVATIONS_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { version: string; at: string });
  }

  /** Activate the version that was active before the current one; returns it. */
  async rollback(): Promise<string> {
    const current = await this.active();
    const earlier = (await this.activations()).map((a) => a.version);
    // Walk back past every activation of the current version (re-activations included).
    while (earlier.length > 0 && earlier[earlier.length - 1] === current) earlier.pop();
    const previous = earlier.pop();
    if (previous === undefined) throw new ArtifactError(`no version was active before ${current ?? 'none'}: nothing to roll back to`, this.dir);
    await this.activate(previous);
    return previous;
  }

  /** The active version, or null when none was activated. */
  async active(): Promise<string | null> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, ACTIVE_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const version = text.trim();
    if (!VERSION_PATTERN.test(version)) throw new ArtifactError(`${ACTIVE_FILE} names "${version}", which is not a version`, this.dir);
    return version;
  }

  /** Every stored version, oldest first. Versions whose metadata cannot be read are left out. */
  async list(): Promise<ModelListing[]> {
    const active = await this.active();
    const listings: ModelListing[] = [];
    for (const n of (await this.versionNumbers()).sort((a, b) => a - b)) {
      const version = `v${n}`;
      try {
        const metadata = await readMetadata(path.join(this.dir, version), { featureSetVersion: null });
        listings.push({ version, active: version === active, metadata });
      } catch (e) {
        if (!(e instanceof ArtifactError)) throw e;
      }
    }
    return listings;
  }

  /** A version's metadata alone (no TensorFlow.js). */
  async metadataOf(version: string): Promise<ModelMetadata> {
    return readMetadata(await this.existingVersionDir(version), { featureSetVersion: null });
  }

  async load(version: string): Promise<ModelArtifact> {
    return loadArtifact(await this.existingVersionDir(version), this.options);
  }

  private async existingVersionDir(version: string): Promise<string> {
    const dir = path.join(this.dir, version);
    if (!VERSION_PATTERN.test(version) || !(await isDirectory(dir))) throw new ModelVersionNotFoundError(this.dir, version);
    return dir;
  }

  private async versionNumbers(): Promise<number[]> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const numbers: number[] = [];
    for (const name of entries) {
      const m = VERSION_PATTERN.exec(name);
      if (m && (await isDirectory(path.join(this.dir, name)))) numbers.push(Number(m[1]));
    }
    return numbers;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
