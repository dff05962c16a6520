// Champion / challenger: the served model against the one scoring in shadow, on the same recent events and verdicts.
import type { ModelMetrics } from '../score/index.ts';
import { scoredDecisions, type Database } from '../store/index.ts';
import { band, labelledMetrics } from './model-performance.ts';

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

/** The challenger against the decisions on its latest `limit` shadow scores. */
export async function compareChallenger(db: Database, challenger: string, thresholds: readonly number[], limit: number): Promise<ChallengerComparison> {
  const rows = await scoredDecisions(db, challenger, { as: 'shadow', limit });
  return {
    challenger,
    champions: [...new Set(rows.map((r) => r.model_version ?? 'rules'))].sort(),
    scored: rows.length,
    labelled: rows.filter((r) => r.is_fraud !== null).length,
    champion_metrics: labelledMetrics(rows, thresholds, (r) => r.risk_score),
    challenger_metrics: labelledMetrics(rows, thresholds),
    changed: rows.filter((r) => band(r.risk_score, thresholds) !== band(r.score, thresholds)).length,
  };
}
