// Keeps the pipeline's block and allow lists in step with the store: a cheap version poll, a reload when it moved.
import { Watchlists } from '../decide/index.ts';
import type { Logger } from '../observe/index.ts';
import type { DecisionPipeline } from '../process/index.ts';
import { listsVersion, readLists, type Database } from '../store/index.ts';
import { RecurringCheck } from './recurring-check.ts';

/**
 * Every process reads the lists' version every `intervalMs` (one tiny row), and after a change
 * through its own API at once; when the version moved, the entries are reloaded and swapped in
 * between two batches. Every processor sharing the store follows the same lists.
 */
export class ListFollower {
  private readonly checks: RecurringCheck<number>;

  constructor(
    private readonly db: Database,
    private readonly pipeline: DecisionPipeline,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.checks = new RecurringCheck(() => this.reloadIfChanged(), 0, intervalMs, (err) => logger.error({ err }, 'following the block and allow lists failed; retrying'));
  }

  async start(): Promise<void> {
    await this.checks.run();
    this.checks.start();
  }

  /** Reload now if the lists changed; resolves to the version served. */
  check(): Promise<number> {
    return this.checks.run();
  }

  stop(): Promise<void> {
    return this.checks.stop();
  }

  private async reloadIfChanged(): Promise<number> {
    if ((await listsVersion(this.db)) === this.pipeline.listsVersion) return this.pipeline.listsVersion;
    const { version, entries } = await readLists(this.db);
    this.pipeline.useLists(new Watchlists(version, entries));
    this.logger.info({ lists_version: version, entries: entries.length }, 'block and allow lists reloaded');
    return version;
  }
}
