// A scorer behind a circuit breaker: a model that keeps failing or running over its latency budget is skipped for a while.
import type { RtdsEvent } from '../contracts/index.ts';
import type { Score, Scorer } from './scorer.ts';

export interface BreakerOptions {
  /** Scoring time per event above which a batch counts as a failure, ms. */
  budgetMsPerEvent: number;
  /** Consecutive failed batches (errors or over budget) that open the circuit. */
  failures: number;
  /** How long an open circuit skips the scorer before one batch tries it again, ms. */
  cooldownMs: number;
  /** Clock, ms; default performance.now. */
  now?: () => number;
  /** Told of each change of state. */
  onChange?: (state: BreakerState, reason: string) => void;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Thrown at once while the circuit is open: the pipeline's ladder steps down without calling the model. */
export class CircuitOpenError extends Error {
  constructor(readonly version: string | null) {
    super(`scorer ${version ?? '(rules)'} is skipped: its circuit is open`);
    this.name = 'CircuitOpenError';
  }
}

/**
 * Wraps a scorer. Scoring is synchronous, so a slow batch cannot be cut short: its scores stand,
 * but it counts as a failure, like an error. After `failures` in a row the circuit opens and the
 * next scorer of the ladder (the fallback) decides; after `cooldownMs` one batch tries the model
 * again (half open) and closes the circuit if it is healthy, or opens it for another cooldown.
 */
export class CircuitBreaker implements Scorer {
  private current: BreakerState = 'closed';
  private failed = 0;
  private openedAt = 0;
  private readonly now: () => number;

  constructor(
    private readonly inner: Scorer,
    private readonly options: BreakerOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  get version(): string | null {
    return this.inner.version;
  }

  get degraded(): Scorer['degraded'] {
    return this.inner.degraded;
  }

  get state(): BreakerState {
    return this.current;
  }

  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[] {
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.options.cooldownMs) throw new CircuitOpenError(this.version);
      this.change('half_open', 'cooldown over: trying the model on one batch');
    }
    const started = this.now();
    let scores: Score[];
    try {
      scores = this.inner.scoreBatch(vectors, events);
    } catch (err) {
      this.fail(`error: ${(err as Error).message}`);
      throw err;
    }
    const perEvent = (this.now() - started) / Math.max(1, vectors.length);
    if (perEvent > this.options.budgetMsPerEvent) this.fail(`${perEvent.toFixed(3)} ms per event, over the ${this.options.budgetMsPerEvent} ms budget`);
    else {
      this.failed = 0;
      if (this.current !== 'closed') this.change('closed', 'a healthy batch');
    }
    return scores;
  }

  private fail(reason: string): void {
    this.failed++;
    if (this.current === 'half_open' || this.failed >= this.options.failures) {
      this.openedAt = this.now();
      this.change('open', reason);
    }
  }

  private change(state: BreakerState, reason: string): void {
    this.current = state;
    this.options.onChange?.(state, reason);
  }
}
