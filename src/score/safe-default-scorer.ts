// The last step of the degradation ladder: a fixed score that sends the event to review.
import type { Scorer, Score } from './scorer.ts';

export class SafeDefaultScorer implements Scorer {
  readonly version = null;
  readonly degraded = 'safe_default' as const;

  /** 0.5 lands between the default flag (0.5) and reject (0.7) thresholds: a human looks at it. */
  constructor(private readonly score = 0.5) {}

  scoreBatch(vectors: readonly Float64Array[]): Score[] {
    return vectors.map(() => ({
      score: this.score,
      reasons: [{ code: 'safe_default', source: 'fallback', message: 'no scorer was available; the safe default applies' }],
    }));
  }
}
