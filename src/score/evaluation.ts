// Model quality from scores and 0/1 labels: threshold metrics, ROC and precision–recall curves and their areas, calibration, drift. Pure functions.

export interface ConfusionMatrix {
  /** Fraud scored at or above the threshold. */
  tp: number;
  /** Legitimate scored at or above the threshold. */
  fp: number;
  tn: number;
  fn: number;
}

export interface ThresholdMetrics {
  threshold: number;
  accuracy: number;
  /** tp / (tp + fp); 0 when nothing is predicted positive. */
  precision: number;
  /** tp / (tp + fn); 0 when there are no positives. */
  recall: number;
  f1: number;
  confusion: ConfusionMatrix;
}

export interface ModelMetrics {
  rows: number;
  positives: number;
  /** Rank-based ROC-AUC; NaN when only one class is present. */
  roc_auc: number;
  /** Average precision (area under the step precision-recall curve); NaN without positives. */
  average_precision: number;
  /** Threshold metrics, one per threshold asked for, in that order. */
  at: ThresholdMetrics[];
}

function checkLengths(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new RangeError(`${scores.length} scores but ${labels.length} labels`);
}

/** A score at or above `threshold` predicts fraud; a label counts as fraud when it is 1 (or any value ≥ 0.5). */
export function confusionMatrix(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): ConfusionMatrix {
  checkLengths(scores, labels);
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i]! >= threshold;
    const actual = labels[i]! >= 0.5;
    if (predicted) {
      if (actual) tp++;
      else fp++;
    } else if (actual) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

export function thresholdMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): ThresholdMetrics {
  const confusion = confusionMatrix(scores, labels, threshold);
  return { threshold, ...metricsOf(confusion) };
}

/** Accuracy, precision, recall and F1 of a confusion matrix (0 where a ratio has no denominator). */
export function metricsOf(c: ConfusionMatrix): Omit<ThresholdMetrics, 'threshold'> {
  const n = c.tp + c.fp + c.tn + c.fn;
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { accuracy: n > 0 ? (c.tp + c.tn) / n : 0, precision, recall, f1, confusion: { ...c } };
}

/** Indices ordered by score, descending (NaN scores last). */
function orderByScoreDesc(scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const key = (i: number): number => {
    const s = scores[i]!;
    return Number.isNaN(s) ? -Infinity : s;
  };
  return order.sort((a, b) => key(b) - key(a));
}

/**
 * Fraud and legitimate rows scored at or above each distinct score, highest first: the one walk
 * every ranking figure (ROC, precision–recall, their areas) is read from. Ties form one step.
 */
export interface ThresholdSweep {
  /** The distinct scores, descending (NaN last). */
  threshold: number[];
  /** Cumulative fraud (tp) and legitimate (fp) rows at or above each threshold. */
  tp: number[];
  fp: number[];
  positives: number;
  negatives: number;
}

export function thresholdSweep(scores: ArrayLike<number>, labels: ArrayLike<number>): ThresholdSweep {
  checkLengths(scores, labels);
  const order = orderByScoreDesc(scores);
  const sweep: ThresholdSweep = { threshold: [], tp: [], fp: [], positives: 0, negatives: 0 };
  let i = 0;
  while (i < order.length) {
    const s = scores[order[i]!]!;
    while (i < order.length && sameScore(scores[order[i]!]!, s)) {
      if (labels[order[i]!]! >= 0.5) sweep.positives++;
      else sweep.negatives++;
      i++;
    }
    sweep.threshold.push(s);
    sweep.tp.push(sweep.positives);
    sweep.fp.push(sweep.negatives);
  }
  return sweep;
}

/**
 * ROC-AUC as the Mann–Whitney statistic: the probability that a random fraud outscores a random
 * legitimate event, ties counting one half (average ranks). NaN when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  return sweptAuc(thresholdSweep(scores, labels));
}

function sweptAuc({ tp, fp, positives, negatives }: ThresholdSweep): number {
  if (positives === 0 || negatives === 0) return NaN;
  // Each negative loses to every positive above its step and ties with the positives inside it.
  let wins = 0;
  for (let k = 0; k < tp.length; k++) {
    const above = k === 0 ? 0 : tp[k - 1]!;
    wins += (fp[k]! - (k === 0 ? 0 : fp[k - 1]!)) * (above + (tp[k]! - above) / 2);
  }
  return wins / (positives * negatives);
}

function sameScore(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * Average precision: Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds, highest first (the
 * step-wise area under the precision–recall curve, as scikit-learn defines it). NaN without positives.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  return sweptAveragePrecision(thresholdSweep(scores, labels));
}

function sweptAveragePrecision({ tp, fp, positives }: ThresholdSweep): number {
  if (positives === 0) return NaN;
  let ap = 0;
  for (let k = 0; k < tp.length; k++) {
    const found = tp[k]! - (k === 0 ? 0 : tp[k - 1]!);
    if (found > 0) ap += (found / positives) * (tp[k]! / (tp[k]! + fp[k]!));
  }
  return ap;
}

/** At most `max` indices of `n`, evenly spread, the first and the last always among them. */
function spreadIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}

/** A curve as columns (ready to plot), one point per threshold kept; a null threshold lies above every score. */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  threshold: (number | null)[];
}

export interface PrecisionRecallCurve {
  recall: number[];
  precision: number[];
  threshold: number[];
}

/**
 * The ROC curve from (0, 0) — nothing called fraud — through each distinct score, at most
 * `maxPoints` of them kept evenly along the sweep (its ends always). Empty without both classes.
 */
export function rocCurve(sweep: ThresholdSweep, maxPoints = 200): RocCurve {
  const curve: RocCurve = { fpr: [], tpr: [], threshold: [] };
  if (sweep.positives === 0 || sweep.negatives === 0) return curve;
  // Point 0 is the origin, point k + 1 the sweep's k-th threshold.
  for (const point of spreadIndices(sweep.threshold.length + 1, maxPoints)) {
    const k = point - 1;
    curve.fpr.push(k < 0 ? 0 : sweep.fp[k]! / sweep.negatives);
    curve.tpr.push(k < 0 ? 0 : sweep.tp[k]! / sweep.positives);
    curve.threshold.push(k < 0 ? null : sweep.threshold[k]!);
  }
  return curve;
}

/** Precision and recall at each distinct score, highest first, at most `maxPoints` kept (its ends always). Empty without positives. */
export function precisionRecallCurve(sweep: ThresholdSweep, maxPoints = 200): PrecisionRecallCurve {
  const curve: PrecisionRecallCurve = { recall: [], precision: [], threshold: [] };
  if (sweep.positives === 0) return curve;
  for (const k of spreadIndices(sweep.threshold.length, maxPoints)) {
    curve.recall.push(sweep.tp[k]! / sweep.positives);
    curve.precision.push(sweep.tp[k]! / (sweep.tp[k]! + sweep.fp[k]!));
    curve.threshold.push(sweep.threshold[k]!);
  }
  return curve;
}

/** Everything a model's metadata and the Model Performance page report, at the given thresholds. */
export function evaluateScores(scores: ArrayLike<number>, labels: ArrayLike<number>, thresholds: readonly number[] = [0.5, 0.7]): ModelMetrics {
  const sweep = thresholdSweep(scores, labels);
  return {
    rows: scores.length,
    positives: sweep.positives,
    roc_auc: sweptAuc(sweep),
    average_precision: sweptAveragePrecision(sweep),
    at: thresholds.map((t) => thresholdMetrics(scores, labels, t)),
  };
}

/** The equal-width bin of [0, 1] a score falls in; a score of 1 falls in the last. */
const binOf = (score: number, bins: number): number => Math.min(bins - 1, Math.max(0, Math.floor(score * bins)));

/** One bin of scores: how many fell in it, their mean score, and the share of them that were fraud. */
export interface CalibrationBin {
  from: number;
  to: number;
  rows: number;
  mean_score: number;
  fraud_rate: number;
}

/**
 * Reliability of the scores as probabilities: `bins` equal-width score bins over [0, 1] (a score
 * of 1 falls in the last). A calibrated model's mean score matches each bin's fraud rate. Empty
 * bins report NaN means.
 */
export function calibration(scores: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  checkLengths(scores, labels);
  const rows = new Array<number>(bins).fill(0);
  const sums = new Array<number>(bins).fill(0);
  const frauds = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const b = binOf(scores[i]!, bins);
    rows[b]!++;
    sums[b]! += scores[i]!;
    if (labels[i]! >= 0.5) frauds[b]!++;
  }
  return rows.map((n, b) => ({ from: b / bins, to: (b + 1) / bins, rows: n, mean_score: sums[b]! / n, fraud_rate: frauds[b]! / n }));
}

/** How scores spread, by class: counts per equal-width bin over [0, 1], for fraud and legitimate rows. */
export interface ScoreDistribution {
  bins: number;
  fraud: number[];
  legitimate: number[];
}

export function scoreDistribution(scores: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): ScoreDistribution {
  checkLengths(scores, labels);
  const of = (fraud: boolean): number[] => scoreHistogram(Array.from(scores).filter((_, i) => labels[i]! >= 0.5 === fraud), bins);
  return { bins, fraud: of(true), legitimate: of(false) };
}

/** Scores counted over `bins` equal-width bins of [0, 1] (a score of 1 in the last). */
export function scoreHistogram(scores: ArrayLike<number>, bins = 10): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) counts[binOf(scores[i]!, bins)]!++;
  return counts;
}

/**
 * Population stability index of `actual` against `expected` (counts over the same bins): Σ (a − e)·ln(a / e)
 * over the bins' shares, each share floored at 1e-4 so an empty bin stays finite. Under 0.1 is
 * commonly read as stable, 0.1–0.25 as a shift worth a look, over 0.25 as a shift to act on.
 */
export function populationStability(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length) throw new RangeError(`${expected.length} expected bins but ${actual.length} actual`);
  const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  const e = total(expected);
  const a = total(actual);
  if (e === 0 || a === 0) return NaN;
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const pe = Math.max(1e-4, expected[i]! / e);
    const pa = Math.max(1e-4, actual[i]! / a);
    psi += (pa - pe) * Math.log(pa / pe);
  }
  return psi;
}
