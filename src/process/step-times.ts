// When each record of a micro-batch went through its steps: what its spans are made of, taken only while tracing.
import { epochMs } from '../transport/log.ts';

/**
 * Epoch-ms times of a micro-batch's steps. Per record i, its features from [2i] to [2i+1], its
 * decision likewise (NaN where it had no such step); scoring is one call for the batch.
 */
export class StepTimes {
  /** When the micro-batch was admitted: each record's processing begins there. */
  readonly admittedAt = epochMs();
  readonly features: Float64Array;
  readonly decide: Float64Array;
  scoreStart = Number.NaN;
  scoreEnd = Number.NaN;

  constructor(records: number) {
    this.features = new Float64Array(2 * records).fill(Number.NaN);
    this.decide = new Float64Array(2 * records).fill(Number.NaN);
  }
}
