// Keeps the pipeline's rule set and block/allow lists in step with the store: cheap version reads, a reload when one moved.
import { DecisionEngine, parseRuleSet, Watchlists } from '../decide/index.ts';
import type { Logger } from '../observe/index.ts';
import type { DecisionPipeline } from '../process/index.ts';
import { activeRuleSet, listsVersion, readLists, storedRuleSet, type Database } from '../store/index.ts';
import { RecurringCheck } from './recurring-check.ts';

/** What this process decides with: the rule set's version and the lists' version. */
export interface RulesServed {
  rules: string;
  lists: number;
}

/**
 * Every process reads the active rule set's version and the lists' version every `intervalMs`
 * (two tiny reads), and after a change through its own API at once. When one moved it is
 * reloaded and swapped in between two batches, so no event is decided half by the old rules.
 * A stored rule set this process cannot compile (its feature set lacks a feature a condition
 * reads) is refused with an error and the current one stays.
 */
export class RulesFollower {
  private readonly checks: RecurringCheck<RulesServed>;
  /** The active version last acted on (served, or refused). */
  private seen: string | null = null;

  constructor(
    private readonly db: Database,
    private readonly pipeline: DecisionPipeline,
    private readonly features: readonly string[],
    private readonly logger: Logger,
    intervalMs: number,
    /** Told of each failure logged (for rtds_errors_total). */
    private readonly onFailure: () => void,
  ) {
    this.checks = new RecurringCheck(() => this.reloadIfChanged(), this.served(), intervalMs, (err) => {
      onFailure();
      logger.error({ err }, 'following the rule set and lists failed; retrying');
    });
  }

  /** Load what the store holds now (a stored active rule set overrides RTDS_RULES_FILE), then follow it. */
  async start(): Promise<void> {
    await this.checks.run();
    this.checks.start();
  }

  check(): Promise<RulesServed> {
    return this.checks.run();
  }

  stop(): Promise<void> {
    return this.checks.stop();
  }

  private served(): RulesServed {
    return { rules: this.pipeline.rulesVersion, lists: this.pipeline.listsVersion };
  }

  private async reloadIfChanged(): Promise<RulesServed> {
    const active = await activeRuleSet(this.db);
    if (active !== null && active !== this.seen) {
      this.seen = active;
      try {
        const engine = new DecisionEngine(parseRuleSet(await storedRuleSet(this.db, active), `stored rule set ${active}`), { features: this.features });
        const previous = this.pipeline.rulesVersion;
        this.pipeline.useEngine(engine);
        this.logger.info({ rules_version: active, previous }, 'rule set switched without restart');
      } catch (err) {
        this.onFailure();
        this.logger.error({ err, rules_version: active }, 'cannot decide with the active rule set; the current one stays');
      }
    }
    if ((await listsVersion(this.db)) !== this.pipeline.listsVersion) {
      const { version, entries } = await readLists(this.db);
      this.pipeline.useLists(new Watchlists(version, entries));
      this.logger.info({ lists_version: version, entries: entries.length }, 'block and allow lists reloaded');
    }
    return this.served();
  }
}
