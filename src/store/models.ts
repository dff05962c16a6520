// Repository of `models` and `model_activations`: the model registry in the store, shared by every process on one PostgreSQL.
import {
  ArtifactError,
  buildArtifact,
  checkMetadata,
  metadataFor,
  ModelVersionNotFoundError,
  ownArrayBuffer,
  rollBack,
  serialiseModel,
  versionName,
  versionNumber,
  WEIGHTS_FILE,
  type ModelActivation,
  type ModelArtifact,
  type ModelDraft,
  type ModelListing,
  type ModelMetadata,
  type ModelRegistry,
  type RegistryOptions,
} from '../score/index.ts';
import type { Database } from './database.ts';
import { isUniqueViolation } from './statement.ts';

/** Tries at a version number before giving up: each lost race means another saver stored one, so this bounds a pathological storm only. */
const SAVE_ATTEMPTS = 100;

/**
 * The registry in the database: each version's metadata, tfjs model.json and weights in one row
 * of `models`; the active version is the latest row of `model_activations`, the challenger the
 * latest of `model_challengers`. Every process on the same PostgreSQL sees one registry, with no
 * shared folder.
 */
export class StoreRegistry implements ModelRegistry {
  readonly location: string;

  constructor(
    private readonly db: Database,
    private readonly options: RegistryOptions = {},
  ) {
    this.location = `the store's models table (${db.kind})`;
  }

  async save(draft: ModelDraft): Promise<string> {
    const created = draft.metadata.created_at ?? new Date().toISOString();
    const { modelJson, weights } = await serialiseModel(draft.model);
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
      const [{ last }] = (await this.db.query<{ last: number }>('SELECT coalesce(max(number), 0) AS last FROM models')) as [{ last: number }];
      const version = versionName(last + 1);
      try {
        await this.db.query('INSERT INTO models (version, number, metadata, model_json, weights, created_at) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6)', [
          version,
          last + 1,
          JSON.stringify(metadataFor(draft, version, created)),
          JSON.stringify(modelJson),
          weights,
          created,
        ]);
        return version;
      } catch (err) {
        // Another saver took this number first: take the next one.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    throw new ArtifactError(`could not take a version number in ${SAVE_ATTEMPTS} attempts`, this.location);
  }

  async activate(version: string): Promise<void> {
    checkMetadata(await this.storedMetadata(version), this.location, this.options);
    await this.db.query('INSERT INTO model_activations (version) VALUES ($1)', [version]);
    await this.options.onChanged?.({ kind: 'active', version });
  }

  async activations(): Promise<ModelActivation[]> {
    const rows = await this.db.query<{ version: string; activated_at: Date }>('SELECT version, activated_at FROM model_activations ORDER BY id');
    return rows.map((r) => ({ version: r.version, at: r.activated_at.toISOString() }));
  }

  rollback(): Promise<string> {
    return rollBack(this);
  }

  async active(): Promise<string | null> {
    const [row] = await this.db.query<{ version: string }>('SELECT version FROM model_activations ORDER BY id DESC LIMIT 1');
    return row?.version ?? null;
  }

  async challenger(): Promise<string | null> {
    const [row] = await this.db.query<{ version: string | null }>('SELECT version FROM model_challengers ORDER BY id DESC LIMIT 1');
    return row?.version ?? null;
  }

  async setChallenger(version: string | null): Promise<void> {
    if (version !== null) checkMetadata(await this.storedMetadata(version), this.location, this.options);
    await this.db.query('INSERT INTO model_challengers (version) VALUES ($1)', [version]);
    await this.options.onChanged?.({ kind: 'challenger', version });
  }

  /** Versions whose metadata does not pass the checks are left out, as the folder registry does. */
  async list(): Promise<ModelListing[]> {
    const active = await this.active();
    const rows = await this.db.query<{ version: string; metadata: unknown }>('SELECT version, metadata FROM models ORDER BY number');
    const listings: ModelListing[] = [];
    for (const row of rows) {
      try {
        listings.push({ version: row.version, active: row.version === active, metadata: checkMetadata(row.metadata, this.location, { featureSetVersion: null }) });
      } catch (e) {
        if (!(e instanceof ArtifactError)) throw e;
      }
    }
    return listings;
  }

  async metadataOf(version: string): Promise<ModelMetadata> {
    return checkMetadata(await this.storedMetadata(version), this.location, { featureSetVersion: null });
  }

  async load(version: string): Promise<ModelArtifact> {
    const [row] = versionNumber(version) === null ? [] : await this.db.query<{ metadata: unknown; model_json: unknown; weights: Uint8Array }>('SELECT metadata, model_json, weights FROM models WHERE version = $1', [version]);
    if (row === undefined) throw new ModelVersionNotFoundError(this.location, version);
    const shard = async (path: string): Promise<ArrayBuffer> => {
      // What serialiseModel wrote: one shard, kept in the weights column.
      if (path !== `./${WEIGHTS_FILE}` && path !== WEIGHTS_FILE) throw new ArtifactError(`weights shard "${path}" of ${version} is not stored (only ${WEIGHTS_FILE} is)`, this.location);
      return ownArrayBuffer(row.weights);
    };
    return buildArtifact({ metadata: row.metadata, modelJson: row.model_json, shard }, this.location, this.options);
  }

  private async storedMetadata(version: string): Promise<unknown> {
    const [row] = versionNumber(version) === null ? [] : await this.db.query<{ metadata: unknown }>('SELECT metadata FROM models WHERE version = $1', [version]);
    if (row === undefined) throw new ModelVersionNotFoundError(this.location, version);
    return row.metadata;
  }
}
