// The model registry: numbered versions, the one activated, and the activation history a rollback walks back along.
import { ARTIFACT_FORMAT, ArtifactError, type LoadOptions, type ModelArtifact, type ModelDraft, type ModelMetadata } from './artifact.ts';

export interface ModelListing {
  version: string;
  active: boolean;
  metadata: ModelMetadata;
}

export interface ModelActivation {
  version: string;
  /** RFC 3339. */
  at: string;
}

/** What changed in a registry: the active version (an activation or rollback), or the challenger (null: none). */
export type RegistryChange = { kind: 'active'; version: string } | { kind: 'challenger'; version: string | null };

export interface RegistryOptions extends LoadOptions {
  /** Called after each activation (rollbacks included) or challenger change is recorded: how other processes hear of it at once. */
  onChanged?: (change: RegistryChange) => Promise<void>;
}

/**
 * Versioned models (`v1`, `v2`, …: numbers only ever increase, concurrent savers each get their
 * own) and the one the scorers serve. Kept in a folder (FolderRegistry) or in the store.
 */
export interface ModelRegistry {
  /** Where the models are, for messages: a folder, or the database. */
  readonly location: string;
  /** Store a model as the next version (not activated); returns that version. */
  save(draft: ModelDraft): Promise<string>;
  /**
   * Make `version` the one served, and record the activation. Refuses a version that is missing
   * (ModelVersionNotFoundError) or built on another feature set (FeatureSetMismatchError).
   */
  activate(version: string): Promise<void>;
  /** Activations, oldest first. */
  activations(): Promise<ModelActivation[]>;
  /** Activate the version that was active before the current one; returns it. */
  rollback(): Promise<string>;
  /** The active version, or null when none was activated. */
  active(): Promise<string | null>;
  /** The version scoring in shadow beside the active one (champion / challenger), or null. */
  challenger(): Promise<string | null>;
  /** Score `version` in shadow from now on, or stop with null. Refuses versions as `activate` does. */
  setChallenger(version: string | null): Promise<void>;
  /** Every stored version, oldest first. */
  list(): Promise<ModelListing[]>;
  /** A version's metadata alone (no TensorFlow.js), whatever its feature set. */
  metadataOf(version: string): Promise<ModelMetadata>;
  /** The version's model, refused (FeatureSetMismatchError) when built on another feature set. */
  load(version: string): Promise<ModelArtifact>;
}

const VERSION_PATTERN = /^v([1-9][0-9]*)$/;

export const versionName = (n: number): string => `v${n}`;

/** The number of a version name (`v7` → 7); null for anything else. */
export function versionNumber(version: string): number | null {
  const m = VERSION_PATTERN.exec(version);
  return m === null ? null : Number(m[1]);
}

/** The draft's metadata as stored under `version`. */
export function metadataFor(draft: ModelDraft, version: string, createdAt: string): ModelMetadata {
  return { ...draft.metadata, format: ARTIFACT_FORMAT, version, created_at: createdAt };
}

/** There is no earlier activation to go back to. */
export class NothingToRollBackError extends ArtifactError {
  override name = 'NothingToRollBackError';
  constructor(location: string, readonly current: string | null) {
    super(`no version was active before ${current ?? 'none'} in ${location}: nothing to roll back to`, location);
  }
}

/** Activate the version active before the current one, walking back past every re-activation of the current one. */
export async function rollBack(registry: ModelRegistry): Promise<string> {
  const current = await registry.active();
  const earlier = (await registry.activations()).map((a) => a.version);
  while (earlier.length > 0 && earlier[earlier.length - 1] === current) earlier.pop();
  const previous = earlier.pop();
  if (previous === undefined) throw new NothingToRollBackError(registry.location, current);
  await registry.activate(previous);
  return previous;
}
