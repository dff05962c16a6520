// Champion / challenger: the served model against the one scoring in shadow, on the same recent events and verdicts.
import { evaluateScores, type ModelMetrics } from '../score/index.ts';
import { recentShadowScores, type Database } from '../store/index.ts';

export interface ChallengerComparison {
  challenger: string;
  /** The versions that decided the events compared (more than one when the served model changed meanwhile). */
  champions: string[];
  /** Recent events the challenger scored, and how many have a verdict. */
  scored: number;
  labelled: number;
  /** Both models over the same labelled events: ROC-AUC, AP, precision / recall / F1 at the deployed thresholds. */
  champion_metrics: ModelMetrics | null;
  challenger_metrics: ModelMetrics | null;
  /** Events the challenger would have decided otherwise (another side of a deployed threshold), over all scored. */
  changed: number;
}

/** Where a score falls among the thresholds: 0 below all, thresholds.length above all. */
const band = (score: number, thresholds: readonly number[]): number => thresholds.reduce((b, t) => (score >= t ? b + 1 : b), 0);

/** The challenger against the decisions on its latest `limit` shadow scores. */
export async function compareChallenger(db: Database, challenger: string, thresholds: readonly number[], limit: number): Promise<ChallengerComparison> {
  const rows = await recentShadowScores(db, challenger, limit);
  const labelled = rows.filter((r) => r.is_fraud !== null);
  const labels = labelled.map((r) => (r.is_fraud === true ? 1 : 0));
  const metrics = (pick: (r: (typeof rows)[number]) => number): ModelMetrics | null => (labelled.length === 0 ? null : evaluateScores(labelled.map(pick), labels, thresholds));
  return {
    challenger,
    champions: [...new Set(rows.map((r) => r.champion_version ?? 'rules'))].sort(),
    scored: rows.length,
    labelled: labelled.length,
    champion_metrics: metrics((r) => r.champion),
    challenger_metrics: metrics((r) => r.challenger),
    changed: rows.filter((r) => band(r.champion, thresholds) !== band(r.challenger, thresholds)).length,
  };
}
