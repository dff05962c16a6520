// Serves whichever model the registry has active (and its challenger in shadow), switching without a restart.
import type { Config } from '../config/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { Logger } from '../observe/index.ts';
import type { DecisionPipeline } from '../process/index.ts';
import { ArtifactError, CircuitBreaker, ModelScorer, serveActiveModel, type ModelRegistry, type Scorer } from '../score/index.ts';
import { RecurringCheck } from './recurring-check.ts';

/** The ladder with its model behind a circuit breaker: a model failing or over budget in a row is skipped for the cooldown. */
export function guarded(ladder: Scorer[], config: Config, logger: Logger): Scorer[] {
  const [first, ...rest] = ladder;
  if (first === undefined || first.version === null) return ladder;
  const breaker = new CircuitBreaker(first, {
    budgetMsPerEvent: config.scoreBudgetMs,
    failures: config.breakerFailures,
    cooldownMs: config.breakerCooldownMs,
    onChange: (state, reason) => logger.warn({ model_version: first.version, state, reason }, state === 'open' ? 'model circuit open: the fallback scores' : `model circuit ${state}`),
  });
  return [breaker, ...rest];
}

/** Vectors scored before a new model takes over: its first batches then run at full speed. */
const WARM_UP_ROWS = 512;

/**
 * Serves the registry's active model, and its challenger in shadow, without a restart. Every `intervalMs` (and at once through
 * `check`: after an activation by the API in this process, or one announced on the Kafka control
 * topic) it reads the active version; when it changed, the new model is loaded, warmed up on a
 * batch, and swapped in between two batches of the pipeline, so no event is scored by a
 * half-installed model. The challenger is followed alike. The polling is the safety net: a missed
 * announcement, a folder edited by hand.
 */
export class ActiveModelFollower {
  /** The active version last acted on (served, or refused as unservable). */
  private seen: string | null = null;
  /** The challenger last acted on. */
  private challengerSeen: string | null = null;
  private readonly checks: RecurringCheck<string | null>;
  private readonly switchListeners: ((version: string | null) => void)[] = [];

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pipeline: DecisionPipeline,
    private readonly features: FeatureSet,
    private readonly logger: Logger,
    private readonly config: Config,
    /** Told of each failure logged (for rtds_errors_total). */
    onFailure: () => void,
  ) {
    this.checks = new RecurringCheck(() => this.switchIfChanged(), null, config.modelPollMs, (err) => {
      onFailure();
      logger.error({ err }, 'following the active model failed; retrying');
    });
  }

  /** Start following from the version served now. */
  async start(): Promise<void> {
    this.seen = await this.registry.active();
    await this.followChallenger();
    this.checks.start();
  }

  /** Switch to the active version if it is not the one served (after any check under way); resolves to the version served. */
  check(): Promise<string | null> {
    return this.checks.run();
  }

  stop(): Promise<void> {
    return this.checks.stop();
  }

  /** Called with the version served after each switch. */
  onSwitch(listener: (version: string | null) => void): void {
    this.switchListeners.push(listener);
  }

  private async switchIfChanged(): Promise<string | null> {
    await this.followChallenger();
    const active = await this.registry.active();
    if (active === this.seen) return this.seen;
    const started = performance.now();
    const next = await serveActiveModel(this.registry, { features: this.features, log: (message) => this.logger.warn(message) });
    const previous = this.seen;
    this.seen = active;
    // A model that cannot be served (say, another feature set) leaves the current one in place; serveActiveModel said why.
    if (next.problem !== null && active !== null) return previous;
    this.warmUp(next.scorer);
    this.pipeline.useScorers(guarded(next.ladder, this.config, this.logger));
    this.logger.info({ model_version: active, previous, ms: Math.round(performance.now() - started) }, 'active model switched without restart');
    for (const listener of this.switchListeners) listener(active);
    return active;
  }

  /**
   * Score the registry's challenger in shadow, or stop. It explains nothing (no one reads its
   * reasons) and sits behind its own circuit breaker, so a slow challenger is dropped for the
   * cooldown rather than slowing every batch. One that cannot be served is reported and skipped.
   */
  private async followChallenger(): Promise<void> {
    const version = await this.registry.challenger();
    if (version === this.challengerSeen) return;
    this.challengerSeen = version;
    if (version === null) {
      this.pipeline.useChallenger(null);
      return void this.logger.info('challenger stopped');
    }
    let scorer: ModelScorer;
    try {
      const artifact = await this.registry.load(version);
      scorer = ModelScorer.fromArtifact(artifact, { topFeatures: 0 });
      artifact.model.dispose();
    } catch (err) {
      if (!(err instanceof ArtifactError)) throw err;
      this.pipeline.useChallenger(null);
      return void this.logger.warn({ err, challenger: version }, 'cannot score the challenger; it is skipped');
    }
    this.warmUp(scorer);
    const breaker = new CircuitBreaker(scorer, {
      budgetMsPerEvent: this.config.scoreBudgetMs,
      failures: this.config.breakerFailures,
      cooldownMs: this.config.breakerCooldownMs,
      onChange: (state, reason) => this.logger.warn({ challenger: version, state, reason }, `challenger circuit ${state}`),
    });
    this.pipeline.useChallenger(breaker);
    this.logger.info({ challenger: version }, 'challenger scoring in shadow');
  }

  private warmUp(scorer: Scorer): void {
    const vectors = Array.from({ length: WARM_UP_ROWS }, () => new Float64Array(this.features.names.length));
    const events = vectors.map((_, i) => ({ event_id: `warm-up-${i}`, event_type: 'transaction', timestamp: 0, event_time: 0, event_time_source: 'event' as const, user_id: 'warm-up' }));
    scorer.scoreBatch(vectors, events);
  }
}
