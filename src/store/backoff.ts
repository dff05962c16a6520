// How the store's writers wait out a store that is away: a pause doubling to a cap, cut short when they give up.

/** Pause before the first retry, doubled on each further failure up to `maxMs`. */
export interface RetryPace {
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPace = { firstMs: 100, maxMs: 5000 };

export class Backoff {
  private given = false;
  /** Pauses under way, woken at once when the writer gives up. */
  private readonly pauses = new Set<() => void>();

  constructor(private readonly pace: RetryPace = DEFAULT_RETRY) {}

  /** Set once `giveUp` was called: no more attempts. */
  get givenUp(): boolean {
    return this.given;
  }

  /** The pause after failed attempt number `attempt` (from 0). */
  delayMs(attempt: number): number {
    return Math.min(this.pace.firstMs * 2 ** Math.min(attempt, 30), this.pace.maxMs);
  }

  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.pauses.add(wake);
    });
  }

  /** Stop retrying: pauses under way end now. */
  giveUp(): void {
    this.given = true;
    for (const wake of this.pauses) wake();
  }
}
