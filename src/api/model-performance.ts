// A model on its recent decisions and the verdicts received: the figures the live view, the challenger
// comparison and the Model Performance page share, and GET /api/v1/models/performance that serves the page.
import type { FastifyInstance } from 'fastify';
import { OUTCOMES, type Outcome } from '../contracts/index.ts';
import {
  calibration,
  evaluateScores,
  metricsOf,
  populationStability,
  precisionRecallCurve,
  rocCurve,
  scoreDistribution,
  scoreHistogram,
  thresholdSweep,
  type CalibrationBin,
  type ModelMetrics,
  type ModelRegistry,
  type PrecisionRecallCurve,
  type RocCurve,
  type ScoreDistribution,
  type ThresholdMetrics,
} from '../score/index.ts';
import { scoredDecisions, type ScoredDecision } from '../store/index.ts';
import type { ModelControl } from './models.ts';

/** Recent decisions read for a model's figures: enough for stable metrics, bounded so one request cannot read the whole store. */
export const RECENT_LIMIT = { type: 'integer', minimum: 1, maximum: 100_000, default: 10_000 } as const;

/** Where a score falls among the thresholds: 0 below all, thresholds.length above all. */
export const band = (score: number, thresholds: readonly number[]): number => thresholds.reduce((b, t) => (score >= t ? b + 1 : b), 0);

/** The scores and 0/1 labels of the rows with a verdict; `pick` reads the score (the version read's, by default). */
function verdicts(rows: readonly ScoredDecision[], pick: (r: ScoredDecision) => number = (r) => r.score): { scores: number[]; labels: number[] } {
  const labelled = rows.filter((r) => r.is_fraud !== null);
  return { scores: labelled.map(pick), labels: labelled.map((r) => (r.is_fraud === true ? 1 : 0)) };
}

/** ROC-AUC, AP and precision / recall / F1 at `thresholds` over the rows with a verdict; null when none has one. */
export function labelledMetrics(rows: readonly ScoredDecision[], thresholds: readonly number[], pick?: (r: ScoredDecision) => number): ModelMetrics | null {
  const { scores, labels } = verdicts(rows, pick);
  return scores.length === 0 ? null : evaluateScores(scores, labels, thresholds);
}

/** The held-out score histogram a version was registered with: what its live scores' drift is measured against (null when none was recorded). */
export async function referenceDistribution(registry: ModelRegistry, version: string): Promise<number[] | null> {
  return (await registry.metadataOf(version)).score_distribution ?? null;
}

/** Population stability of `scores` against the reference histogram, binned alike; NaN without a reference or scores. */
export function driftFrom(reference: readonly number[] | null, scores: readonly number[]): number {
  return reference === null ? NaN : populationStability(reference, scoreHistogram(scores, reference.length));
}

/** The outcomes by verdict, and what they catch when flagged or rejected counts as calling fraud. */
export interface OutcomeMatrix {
  /** `decisions`: the outcomes made (rules included); `thresholds`: the version's score at the deployed thresholds (a challenger decides nothing). */
  basis: 'decisions' | 'thresholds';
  counts: Record<Outcome, { fraud: number; legitimate: number }>;
  /** Flagged and rejected as the positive call: accuracy, precision, recall, F1 and their counts (tp, fp, tn, fn). */
  caught: Omit<ThresholdMetrics, 'threshold'>;
}

/** `thresholds` are (flag, reject): a score's band among them is its outcome. */
function outcomeMatrix(rows: readonly ScoredDecision[], basis: OutcomeMatrix['basis'], thresholds: readonly number[]): OutcomeMatrix {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, { fraud: 0, legitimate: 0 }])) as OutcomeMatrix['counts'];
  for (const r of rows) {
    const outcome = basis === 'decisions' ? r.decision : OUTCOMES[band(r.score, thresholds)]!;
    counts[outcome][r.is_fraud === true ? 'fraud' : 'legitimate']++;
  }
  const { approved, flagged, rejected } = counts;
  return { basis, counts, caught: metricsOf({ tp: flagged.fraud + rejected.fraud, fp: flagged.legitimate + rejected.legitimate, tn: approved.legitimate, fn: approved.fraud }) };
}

/** One period of decision time: how many decisions the version scored in it, and their PSI against the reference (NaN when none). */
export interface DriftBucket {
  from: string;
  to: string;
  scored: number;
  psi: number;
}

export interface ScoreDrift {
  /** The held-out histogram the version was registered with (null: none recorded, so no PSI). */
  reference: number[] | null;
  /** The version's latest decisions read, labelled or not, and their PSI as one population. */
  scored: number;
  psi: number;
  bucket_ms: number;
  buckets: DriftBucket[];
}

/** Bucket widths for PSI over time, shortest first: the first that cuts the span into at most MAX_BUCKETS is used. */
const BUCKET_WIDTHS_MS = [60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];
const MAX_BUCKETS = 24;

/** PSI over time of `rows` (newest first, as read), in buckets of decision time. */
function scoreDrift(reference: number[] | null, rows: readonly ScoredDecision[]): ScoreDrift {
  const newest = rows[0]?.decided_at ?? 0;
  const oldest = rows[rows.length - 1]?.decided_at ?? 0;
  const bucketMs = BUCKET_WIDTHS_MS.find((w) => Math.floor(newest / w) - Math.floor(oldest / w) < MAX_BUCKETS) ?? BUCKET_WIDTHS_MS[BUCKET_WIDTHS_MS.length - 1]!;
  const first = Math.floor(oldest / bucketMs);
  const scores: number[][] = rows.length === 0 ? [] : Array.from({ length: Math.floor(newest / bucketMs) - first + 1 }, () => []);
  for (const r of rows) scores[Math.floor(r.decided_at / bucketMs) - first]!.push(r.score);
  return {
    reference,
    scored: rows.length,
    psi: driftFrom(reference, rows.map((r) => r.score)),
    bucket_ms: bucketMs,
    buckets: scores.map((bucket, i) => ({
      from: new Date((first + i) * bucketMs).toISOString(),
      to: new Date((first + i + 1) * bucketMs).toISOString(),
      scored: bucket.length,
      psi: driftFrom(reference, bucket),
    })),
  };
}

export type ModelRole = 'served' | 'challenger';

/** A version on its latest labelled decisions (every figure but drift) and its latest decisions (drift). */
export interface ModelPerformance {
  model: ModelRole;
  model_version: string;
  /** The deployed thresholds (flag, reject). */
  thresholds: readonly number[];
  /** The latest labelled decisions read (at most the limit asked for), and the frauds among them. */
  labelled: number;
  positives: number;
  /** ROC-AUC, AP, and precision / recall / F1 at each deployed threshold; null with no verdict yet. */
  metrics: ModelMetrics | null;
  /** At most 200 points each; empty without both classes (ROC) or without fraud (precision–recall). */
  roc: RocCurve;
  precision_recall: PrecisionRecallCurve;
  outcomes: OutcomeMatrix;
  /** Ten score bins: mean score against the observed fraud rate, and the rows in each. */
  calibration: CalibrationBin[];
  /** Scores counted per class over twenty bins of [0, 1]. */
  distribution: ScoreDistribution;
  drift: ScoreDrift;
}

const CALIBRATION_BINS = 10;
const DISTRIBUTION_BINS = 20;

/** The served model's or the challenger's figures over its latest `limit` decisions; the version is null when there is none (rules score, no challenger). */
export async function modelPerformance(models: ModelControl, role: ModelRole, limit: number): Promise<ModelPerformance | { model: ModelRole; model_version: null }> {
  const version = role === 'served' ? models.served() : await models.registry.challenger();
  if (version === null) return { model: role, model_version: null };
  const as = role === 'served' ? 'served' : 'shadow';
  const [labelled, recent, reference] = await Promise.all([
    scoredDecisions(models.db, version, { as, limit, labelled: true }),
    scoredDecisions(models.db, version, { as, limit }),
    referenceDistribution(models.registry, version),
  ]);
  const { scores, labels } = verdicts(labelled);
  const sweep = thresholdSweep(scores, labels);
  return {
    model: role,
    model_version: version,
    thresholds: models.thresholds,
    labelled: scores.length,
    positives: sweep.positives,
    metrics: scores.length === 0 ? null : evaluateScores(scores, labels, models.thresholds),
    roc: rocCurve(sweep),
    precision_recall: precisionRecallCurve(sweep),
    outcomes: outcomeMatrix(labelled, role === 'served' ? 'decisions' : 'thresholds', models.thresholds),
    calibration: calibration(scores, labels, CALIBRATION_BINS),
    distribution: scoreDistribution(scores, labels, DISTRIBUTION_BINS),
    drift: scoreDrift(reference, recent),
  };
}

export function registerModelPerformance(app: FastifyInstance, models: ModelControl): void {
  app.get(
    '/api/v1/models/performance',
    {
      schema: {
        tags: ['models'],
        summary:
          'The served model or the challenger on its latest labelled decisions: ROC and precision–recall curves with their areas, outcomes by verdict at the deployed thresholds, calibration, score distribution by class; and PSI over decision time against its held-out scores.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { model: { enum: ['served', 'challenger'], default: 'served' }, limit: RECENT_LIMIT },
        },
      },
    },
    async (req) => {
      const { model, limit } = req.query as { model: ModelRole; limit: number };
      return modelPerformance(models, model, limit);
    },
  );
}
