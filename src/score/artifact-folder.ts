// Model artifacts as files: a folder with model.json, weights.bin and metadata.json, written whole or not at all.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactError, buildArtifact, checkMetadata, errorMessage, METADATA_FILE, MODEL_FILE, ownArrayBuffer, serialiseModel, WEIGHTS_FILE, type LoadOptions, type ModelArtifact, type ModelMetadata, type SerialisedModel } from './artifact.ts';

/**
 * Write an artifact into `dir`, which must not exist yet. Files go to a sibling temp folder that
 * is renamed into place, so a reader never sees half a model.
 */
export async function saveArtifact(dir: string, artifact: ModelArtifact): Promise<void> {
  const tmp = await writeToTemp(path.dirname(dir), await serialiseModel(artifact.model), artifact.metadata);
  try {
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw new ArtifactError(`cannot place model at ${dir}: ${errorMessage(e)}`, dir);
  }
}

/** The artifact's files in a new temp folder under `parent`; returns that folder, for the caller to rename into place. */
export async function writeToTemp(parent: string, model: SerialisedModel, metadata: ModelMetadata): Promise<string> {
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.tmp-${process.pid}-${randomUUID()}`);
  await mkdir(tmp);
  try {
    await writeFile(path.join(tmp, WEIGHTS_FILE), model.weights);
    await writeFile(path.join(tmp, MODEL_FILE), JSON.stringify(model.modelJson));
    await writeMetadata(tmp, metadata);
    return tmp;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

export async function writeMetadata(dir: string, metadata: ModelMetadata): Promise<void> {
  await writeFile(path.join(dir, METADATA_FILE), JSON.stringify(metadata, null, 2) + '\n');
}

/** Read and check `metadata.json` alone (cheap: no TensorFlow.js). */
export async function readMetadata(dir: string, options: LoadOptions = {}): Promise<ModelMetadata> {
  return checkMetadata(await readJson(path.join(dir, METADATA_FILE), dir), dir, options);
}

/**
 * Load an artifact folder. Refuses (FeatureSetMismatchError) a model trained on another feature
 * set. model.json may come from tfjs or from tensorflowjs_converter (any number of weight shards).
 */
export async function loadArtifact(dir: string, options: LoadOptions = {}): Promise<ModelArtifact> {
  // Metadata first: a refused model costs no TensorFlow.js.
  const metadata = await readMetadata(dir, options);
  return buildArtifact({ metadata, modelJson: await readJson(path.join(dir, MODEL_FILE), dir), shard: (p) => readShard(dir, p) }, dir, options);
}

async function readShard(dir: string, relative: string): Promise<ArrayBuffer> {
  const file = path.resolve(dir, relative);
  if (path.relative(path.resolve(dir), file).startsWith('..')) throw new ArtifactError(`weights path "${relative}" leaves ${dir}`, dir);
  try {
    return ownArrayBuffer(await readFile(file));
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
