// The model registry as a folder: one artifact folder per version, an ACTIVE file and the activations as JSON lines.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactError, ModelVersionNotFoundError, serialiseModel, type ModelArtifact, type ModelDraft, type ModelMetadata } from './artifact.ts';
import { loadArtifact, readMetadata, writeMetadata, writeToTemp } from './artifact-folder.ts';
import { metadataFor, rollBack, versionName, versionNumber, type ModelActivation, type ModelListing, type ModelRegistry, type RegistryOptions } from './model-registry.ts';

export const ACTIVE_FILE = 'ACTIVE';
/** Names the version scoring in shadow (empty or missing: none). */
const CHALLENGER_FILE = 'CHALLENGER';
/** One JSON line per activation: the history a rollback goes back along. */
const ACTIVATIONS_FILE = 'activations.jsonl';

/**
 * Versioned models in one folder: `<dir>/v1/…`, `<dir>/v2/…`, and an `ACTIVE` file naming the
 * version the scorer should serve. Processes on other machines see it only through a shared folder.
 */
export class FolderRegistry implements ModelRegistry {
  constructor(
    readonly dir: string,
    private readonly options: RegistryOptions = {},
  ) {}

  get location(): string {
    return this.dir;
  }

  async save(draft: ModelDraft): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const created = draft.metadata.created_at ?? new Date().toISOString();
    let next = (await this.versionNumbers()).reduce((a, b) => Math.max(a, b), 0) + 1;
    const tmp = await writeToTemp(this.dir, await serialiseModel(draft.model), metadataFor(draft, versionName(next), created));
    try {
      for (;;) {
        const version = versionName(next);
        try {
          await rename(tmp, path.join(this.dir, version));
          return version;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
          // Another saver took this number first: take the next one.
          next++;
          await writeMetadata(tmp, metadataFor(draft, versionName(next), created));
        }
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  async activate(version: string): Promise<void> {
    const dir = await this.existingVersionDir(version);
    await readMetadata(dir, this.options);
    await this.writeAtomically(ACTIVE_FILE, version + '\n');
    await appendFile(path.join(this.dir, ACTIVATIONS_FILE), JSON.stringify({ version, at: new Date().toISOString() }) + '\n');
    await this.options.onChanged?.({ kind: 'active', version });
  }

  async activations(): Promise<ModelActivation[]> {
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
      .map((line) => JSON.parse(line) as ModelActivation);
  }

  rollback(): Promise<string> {
    return rollBack(this);
  }

  active(): Promise<string | null> {
    return this.namedVersion(ACTIVE_FILE);
  }

  challenger(): Promise<string | null> {
    return this.namedVersion(CHALLENGER_FILE);
  }

  async setChallenger(version: string | null): Promise<void> {
    if (version !== null) await readMetadata(await this.existingVersionDir(version), this.options);
    await this.writeAtomically(CHALLENGER_FILE, (version ?? '') + '\n');
    await this.options.onChanged?.({ kind: 'challenger', version });
  }

  /** The version a file names; null when the file is missing or empty. */
  private async namedVersion(file: string): Promise<string | null> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, file), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const version = text.trim();
    if (version === '') return null;
    if (versionNumber(version) === null) throw new ArtifactError(`${file} names "${version}", which is not a version`, this.dir);
    return version;
  }

  /** Replace a file by renaming a complete one over it: a reader sees the old text or the new, never half. */
  private async writeAtomically(file: string, text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `.${file}-${process.pid}-${randomUUID()}`);
    await writeFile(tmp, text);
    await rename(tmp, path.join(this.dir, file));
  }

  /** Versions whose metadata cannot be read (a folder edited by hand) are left out. */
  async list(): Promise<ModelListing[]> {
    const active = await this.active();
    const listings: ModelListing[] = [];
    for (const n of (await this.versionNumbers()).sort((a, b) => a - b)) {
      const version = versionName(n);
      try {
        const metadata = await readMetadata(path.join(this.dir, version), { featureSetVersion: null });
        listings.push({ version, active: version === active, metadata });
      } catch (e) {
        if (!(e instanceof ArtifactError)) throw e;
      }
    }
    return listings;
  }

  async metadataOf(version: string): Promise<ModelMetadata> {
    return readMetadata(await this.existingVersionDir(version), { featureSetVersion: null });
  }

  async load(version: string): Promise<ModelArtifact> {
    return loadArtifact(await this.existingVersionDir(version), this.options);
  }

  private async existingVersionDir(version: string): Promise<string> {
    const dir = path.join(this.dir, version);
    if (versionNumber(version) === null || !(await isDirectory(dir))) throw new ModelVersionNotFoundError(this.dir, version);
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
      const n = versionNumber(name);
      if (n !== null && (await isDirectory(path.join(this.dir, name)))) numbers.push(n);
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
