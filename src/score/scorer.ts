// The scoring seam: anything that turns feature vectors into risk scores with reasons.
import type { Degradation, Reason, RtdsEvent } from '../contracts/index.ts';

export interface Score {
  /** Probability-like risk in [0, 1]. */
  score: number;
  reasons: Reason[];
}

export interface Scorer {
  /** Version recorded on each decision; null when no model is involved. */
  readonly version: string | null;
  /** The degradation step this scorer stands for ('none' for the main model). */
  readonly degraded: Degradation;
  /** Score a micro-batch; vectors[i] belongs to events[i]. */
  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[];
}
