// What a training run must clear: enough labelled history in each period before training, and after it a held-out ROC-AUC worth activating.
import type { FeatureSet } from '../features/index.ts';
import { FeatureSetMismatchError, serveActiveModel, type ModelRegistry, type Scorer } from '../score/index.ts';

/**
 * Least rows in each of the train, validation and test periods. Below it the periods are too
 * short to hold a fraud campaign and the calm around it: the model learns one and is judged on
 * the other.
 */
export const MIN_SPLIT_ROWS = 50;
/**
 * Least fraud (and least legitimate) events in each period. ROC-AUC is the share of
 * fraud/legitimate pairs ranked right, so with k fraud events one of them ranked last moves it by
 * up to 1/k: below 5 a period's AUC is noise (or NaN with none), and neither the guard below nor
 * the validation AUC printed each epoch could be trusted.
 */
export const MIN_SPLIT_CLASS = 5;

/**
 * Held-out ROC-AUC below which a new model is not activated. 0.5 is a coin toss; a model
 * barely above it on one period ranks fraud no better than chance on the next, and would push
 * aside the rules-only scorer (or a sound model) for nothing.
 */
export const DEFAULT_MIN_AUC = 0.6;

export interface SplitCount {
  rows: number;
  fraud: number;
}

export interface SplitCounts {
  train: SplitCount;
  validation: SplitCount;
  test: SplitCount;
}

/** Too few labelled events, or fraud or legitimate ones, in a period: nothing worth training or judging. */
export class TrainingHistoryError extends Error {
  override readonly name = 'TrainingHistoryError';
  constructor(readonly counts: SplitCounts) {
    const { train, validation, test } = counts;
    super(
      `too little labelled history: train ${train.rows} events / ${train.fraud} fraud, validation ${validation.rows} / ${validation.fraud}, test ${test.rows} / ${test.fraud}; ` +
        `need at least ${MIN_SPLIT_ROWS} events with ${MIN_SPLIT_CLASS} fraud and ${MIN_SPLIT_CLASS} legitimate in each (label more events, or take a longer history)`,
    );
  }
}

/** Throws a TrainingHistoryError unless every period has enough rows of each class. */
export function checkHistory(counts: SplitCounts): void {
  const enough = ({ rows, fraud }: SplitCount): boolean => rows >= MIN_SPLIT_ROWS && fraud >= MIN_SPLIT_CLASS && rows - fraud >= MIN_SPLIT_CLASS;
  if (!enough(counts.train) || !enough(counts.validation) || !enough(counts.test)) throw new TrainingHistoryError(counts);
}

/** The model active when training began, loaded to score the held-out rows; or why it cannot be. */
export type ActiveModel = { version: string; scorer: Scorer } | { version: string; incomparable: string };

/**
 * The registry's active model, loaded by the serving path (its scorer, without explanations).
 * A model that cannot be loaded for these features (another feature set, a damaged artifact)
 * comes back with the reason it cannot be compared; null when none is active.
 */
export async function activeModelOf(registry: ModelRegistry, features: FeatureSet): Promise<ActiveModel | null> {
  const version = await registry.active();
  if (version === null) return null;
  // The reason a model is refused comes back as `problem` and is reported as the comparison's, so nothing is logged here.
  const served = await serveActiveModel(registry, { features, topFeatures: 0, log: () => undefined });
  if (served.problem instanceof FeatureSetMismatchError) return { version, incomparable: `it was trained on feature set "${served.problem.actual}", this model on "${served.problem.expected}"` };
  if (served.problem !== null) return { version, incomparable: `it cannot be loaded (${served.problem.message})` };
  // Activated elsewhere in between: this one is what serves now.
  return served.metadata === null ? null : { version: served.metadata.version, scorer: served.scorer };
}

/** The active model's figure on the same held-out rows, or why there is none to compare with. */
export type ActiveComparison = { version: string; roc_auc: number } | { version: string; incomparable: string };

export interface ActivationVerdict {
  /** The new model's held-out ROC-AUC. */
  rocAuc: number;
  minAuc: number;
  /** The active model on the same held-out rows; null when no model was active. */
  active: ActiveComparison | null;
  /** Why the model should not be activated (with both figures); null when it may be. */
  refusal: string | null;
}

/** A model may be activated when its held-out ROC-AUC reaches the floor and the active model's on the same rows. */
export function judgeActivation(rocAuc: number, minAuc: number, active: ActiveComparison | null): ActivationVerdict {
  const auc = (x: number): string => x.toFixed(4);
  let refusal: string | null = null;
  // NaN (one class only) fails both comparisons; checkHistory keeps it from happening.
  if (!(rocAuc >= minAuc)) refusal = `held-out ROC-AUC ${auc(rocAuc)} is below the floor ${auc(minAuc)}`;
  else if (active !== null && 'roc_auc' in active && !(rocAuc >= active.roc_auc)) {
    refusal = `held-out ROC-AUC ${auc(rocAuc)} is below the active model ${active.version}'s ${auc(active.roc_auc)} on the same events`;
  }
  return { rocAuc, minAuc, active, refusal };
}

/** One line on the comparison with the active model, for a report; null when none was active. */
export function comparisonLine(verdict: ActivationVerdict): string | null {
  const { active } = verdict;
  if (active === null) return null;
  if ('incomparable' in active) return `the active model ${active.version} cannot be compared: ${active.incomparable}; only the floor (ROC-AUC ${verdict.minAuc.toFixed(4)}) applies`;
  return `the active model ${active.version} on the same held-out events: ROC-AUC ${active.roc_auc.toFixed(4)}`;
}
