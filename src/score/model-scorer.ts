// The main scorer: one standardise + dense forward pass per micro-batch, and cheap occlusion reasons for risky events.
import type { Reason, RtdsEvent } from '../contracts/index.ts';
import type { ModelArtifact } from './artifact.ts';
import { DenseNetwork } from './dense-network.ts';
import { formatValue } from './format.ts';
import { Standardiser } from './preprocess.ts';
import type { Score, Scorer } from './scorer.ts';

export interface ModelScorerOptions {
  /** Explain which features raised the score only at or above this score; default 0.5. */
  explainFrom?: number;
  /** How many features to name; default 2. */
  topFeatures?: number;
  /** Smallest rise worth naming; default 0.01. */
  minRise?: number;
  /**
   * Inputs occluded exactly per explained event, picked by gradient × input (a first-order
   * estimate of each occlusion); default 4. 0 occludes every input: exact, several times slower.
   */
  candidates?: number;
  /** The ladder step this model stands for: 'none' for the main model (default), 'fallback_model' for its fallback. */
  degraded?: 'none' | 'fallback_model';
}

export class ScoringInputError extends Error {
  override readonly name = 'ScoringInputError';
  constructor(
    message: string,
    readonly eventId: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Scores with a trained dense network (degraded: 'none', or 'fallback_model' for the fallback).
 * Keeps scratch buffers between calls, so one instance serves one thread; scoreBatch is
 * synchronous, so partitions of one thread can share it.
 */
export class ModelScorer implements Scorer {
  readonly degraded: 'none' | 'fallback_model';
  private readonly d: number;
  private readonly names: readonly string[];
  private readonly explainFrom: number;
  private readonly topFeatures: number;
  private readonly minRise: number;
  private readonly candidates: number;
  /** Indicator features: an indicator that is off is not a reason worth reading. */
  private readonly indicator: Uint8Array;
  private readonly skip: Uint8Array;
  private input: Float32Array;
  private output: Float32Array;
  private readonly occluded: Float32Array;
  private readonly topIndex: Int32Array;
  private readonly topRise: Float64Array;
  private readonly gradient: Float64Array;
  private readonly candidateIndex: Int32Array;
  private readonly candidateEstimate: Float64Array;

  constructor(
    readonly version: string,
    private readonly network: DenseNetwork,
    private readonly standardiser: Standardiser,
    options: ModelScorerOptions = {},
  ) {
    if (network.inputSize !== standardiser.size) {
      throw new RangeError(`network takes ${network.inputSize} inputs; the standardiser gives ${standardiser.size}`);
    }
    if (network.outputSize !== 1) throw new RangeError(`network gives ${network.outputSize} outputs; a risk score needs 1`);
    this.degraded = options.degraded ?? 'none';
    this.d = standardiser.size;
    this.names = standardiser.features;
    this.explainFrom = options.explainFrom ?? 0.5;
    this.topFeatures = options.topFeatures ?? 2;
    this.minRise = options.minRise ?? 0.01;
    this.candidates = options.candidates ?? 4;
    this.indicator = Uint8Array.from(standardiser.binary, (b) => (b ? 1 : 0));
    this.skip = new Uint8Array(this.d);
    this.input = new Float32Array(64 * this.d);
    this.output = new Float32Array(64);
    this.occluded = new Float32Array(this.d);
    this.topIndex = new Int32Array(Math.max(this.topFeatures, 1));
    this.topRise = new Float64Array(Math.max(this.topFeatures, 1));
    this.gradient = new Float64Array(this.d);
    this.candidateIndex = new Int32Array(Math.max(this.candidates, 1));
    this.candidateEstimate = new Float64Array(Math.max(this.candidates, 1));
  }

  /** Build from a loaded artifact; the tfjs model is only read, and may be disposed afterwards. */
  static fromArtifact(artifact: ModelArtifact, options: ModelScorerOptions = {}): ModelScorer {
    return new ModelScorer(
      artifact.metadata.version,
      DenseNetwork.fromLayersModel(artifact.model),
      Standardiser.fromJSON(artifact.metadata.standardiser),
      options,
    );
  }

  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[] {
    const n = vectors.length;
    if (events.length !== n) throw new ScoringInputError(`${n} vectors for ${events.length} events`, undefined);
    const d = this.d;
    if (this.output.length < n) {
      // Grows to the largest batch seen, then stays.
      this.input = new Float32Array(n * d);
      this.output = new Float32Array(n);
    }
    const input = this.input;
    for (let i = 0; i < n; i++) {
      const v = vectors[i]!;
      if (v.length !== d) throw new ScoringInputError(`vector has ${v.length} features; model ${this.version} takes ${d}`, events[i]?.event_id);
      this.standardiser.apply(v, input, i * d);
    }
    this.network.predict(input, this.output, n);
    const scores: Score[] = new Array<Score>(n);
    for (let i = 0; i < n; i++) {
      const score = this.output[i]!;
      const reasons: Reason[] = [{ code: 'model_score', source: 'model', message: `model ${this.version} scored ${score.toFixed(2)}` }];
      if (score >= this.explainFrom && this.topFeatures > 0) this.explain(vectors[i]!, i * d, score, reasons);
      scores[i] = { score, reasons };
    }
    return scores;
  }

  /** Occlusion: set each standardised input to 0 (the training mean) and keep the largest drops. */
  private explain(raw: Float64Array, offset: number, score: number, reasons: Reason[]): void {
    const d = this.d;
    const skip = this.skip;
    for (let f = 0; f < d; f++) skip[f] = this.indicator[f] === 1 && raw[f] === 0 ? 1 : 0;
    if (this.candidates > 0 && this.candidates < d) this.keepLikelyCandidates(offset);
    this.network.predictOccluded(this.input, offset, this.occluded, skip);
    const k = this.topFeatures;
    let kept = 0;
    for (let f = 0; f < d; f++) {
      const o = this.occluded[f]!;
      if (o !== o) continue; // NaN: not occluded
      kept = insertTop(this.topIndex, this.topRise, kept, k, f, score - o, this.minRise);
    }
    const topIndex = this.topIndex;
    const topRise = this.topRise;
    for (let t = 0; t < kept; t++) {
      const f = topIndex[t]!;
      reasons.push({
        code: 'model_feature',
        source: 'model',
        message: `${this.names[f]} = ${formatValue(raw[f]!)} raised the score by ${topRise[t]!.toFixed(2)}`,
        feature: this.names[f]!,
        contribution: topRise[t]!,
      });
    }
  }

  /**
   * Mark all but the most promising inputs as skipped: those whose occlusion, to first order
   * (z · ∂score/∂z), lowers the score most. With no positive estimate, every input stays.
   */
  private keepLikelyCandidates(offset: number): void {
    const d = this.d;
    const input = this.input;
    this.network.inputGradient(input, offset, this.gradient);
    let kept = 0;
    for (let f = 0; f < d; f++) {
      if (this.skip[f] === 1) continue;
      kept = insertTop(this.candidateIndex, this.candidateEstimate, kept, this.candidates, f, input[offset + f]! * this.gradient[f]!, Number.MIN_VALUE);
    }
    if (kept === 0) return;
    this.skip.fill(1);
    for (let c = 0; c < kept; c++) this.skip[this.candidateIndex[c]!] = 0;
  }
}

/** Insert (index, value) into the descending top-`k` lists of length `kept` if it belongs; returns the new length. */
function insertTop(indices: Int32Array, values: Float64Array, kept: number, k: number, index: number, value: number, min: number): number {
  if (!(value >= min) || (kept === k && value <= values[k - 1]!)) return kept;
  let at = kept < k ? kept++ : k - 1;
  while (at > 0 && values[at - 1]! < value) {
    values[at] = values[at - 1]!;
    indices[at] = indices[at - 1]!;
    at--;
  }
  values[at] = value;
  indices[at] = index;
  return kept;
}
