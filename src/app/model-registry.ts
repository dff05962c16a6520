// Which model registry a process uses: tables in the store (shared by every instance on PostgreSQL) or a folder; activations announced on Kafka.
import type { Config } from '../config/index.ts';
import { FolderRegistry, type ModelRegistry, type RegistryOptions } from '../score/index.ts';
import { openDatabase, StoreRegistry, type Database } from '../store/index.ts';
import { announceChange } from './control-topic.ts';

export type RegistryKind = 'folder' | 'store';

/**
 * `auto`: the store when the database is PostgreSQL, which every instance shares; the folder with
 * embedded PGlite, which only one process can open (`rtds train` and `rtds models` must work
 * while `rtds start` runs).
 */
export function registryKind(config: Config): RegistryKind {
  if (config.modelRegistry !== 'auto') return config.modelRegistry;
  return config.databaseUrl === undefined ? 'folder' : 'store';
}

/** The store registry was chosen but no database was handed over: a wiring mistake, not a setting to fix. */
export class RegistryDatabaseMissingError extends Error {
  override name = 'RegistryDatabaseMissingError';
  constructor() {
    super('the model registry is in the store (RTDS_MODEL_REGISTRY): open the database and pass it to openModelRegistry');
  }
}

/**
 * The configured registry, refusing models of another feature set than `featureSetVersion`. On
 * Kafka every activation is announced on the control topic; an announcement that fails is
 * reported through `log` (the activation stands: processors still find it at their next poll).
 */
export function openModelRegistry(config: Config, featureSetVersion: string, db?: Database, log: (message: string) => void = (m) => console.warn(m)): ModelRegistry {
  const options: RegistryOptions = { featureSetVersion };
  const brokers = config.kafkaBrokers;
  if (brokers !== undefined) {
    options.onChanged = (change) =>
      announceChange({ ...config, kafkaBrokers: brokers }, change).catch((err: unknown) =>
        log(
          `rtds: ${change.kind === 'active' ? `${change.version} is active` : `the challenger is ${change.version ?? 'none'}`} but its announcement on the control topic failed (${err instanceof Error ? err.message : String(err)}); processes follow at their next poll (RTDS_MODEL_POLL_MS)`,
        ),
      );
  }
  if (registryKind(config) === 'folder') return new FolderRegistry(config.modelDir, options);
  if (db === undefined) throw new RegistryDatabaseMissingError();
  return new StoreRegistry(db, options);
}

/** For a command run apart from `rtds start`: the database is opened only when the registry lives there, and closed after `use`. */
export async function withModelRegistry<T>(config: Config, featureSetVersion: string, use: (registry: ModelRegistry) => Promise<T>): Promise<T> {
  const db = registryKind(config) === 'store' ? await openDatabase(config) : undefined;
  try {
    return await use(openModelRegistry(config, featureSetVersion, db));
  } finally {
    await db?.close();
  }
}
