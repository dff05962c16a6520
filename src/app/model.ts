// Which scorers the pipeline starts with: the active model (trained at first start if asked), then rules only.
import { deployedThresholds, eventTimeOptions, type Config } from '../config/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { Logger } from '../observe/index.ts';
import { serveActiveModel, type ModelRegistry, type Scorer } from '../score/index.ts';
import { guarded } from '../follow/active-model-follower.ts';
import { TrainingHistoryError } from './activation-guard.ts';
import type { DemoTraffic } from './demo-traffic.ts';
import { trainOnHistory, type TrainingOutcome, type TrainingProgress, type TrainingSettings } from './training.ts';

/**
 * The first-start training run: the demo's last 240,000 events (80 minutes at 50/s), of which the
 * latest 60,000 are the rows trained and judged on; the earlier ones fill the 1-minute and 1-hour
 * windows and sessions first, as live traffic has them. Before them, the feature set's reach (38
 * days for the default set) of the same stream sampled down to about 50,000 events, so the
 * merchant's fraud rate of 30 days ending 7 days ago has the expectation it has live
 * (docs/features.md, "The first start's history"). About a quarter longer than without the
 * sparse past and the merchant, device and IP features (docs/benchmarks.md).
 */
export const FIRST_START_TRAINING: FirstStartTraining = { events: 240_000, labelled: 60_000, sparsePastEvents: 50_000, epochs: 8, seed: 7 };

export interface FirstStartTraining {
  readonly events: number;
  readonly labelled: number;
  readonly sparsePastEvents: number;
  readonly epochs: number;
  readonly seed: number;
}

/** A first model trained on the demo's history, as `rtds start` does when none is registered (`size`: FIRST_START_TRAINING but in tests). */
export async function trainFirstModel(demo: DemoTraffic, run: Pick<TrainingSettings, 'registry' | 'features' | 'onProgress'>, config: Config, size = FIRST_START_TRAINING): Promise<TrainingOutcome> {
  const { events, labelled, sparsePastEvents, epochs, seed } = size;
  const history = await demo.history(events, labelled, { spanMs: run.features.reachMs, events: sparsePastEvents });
  return trainOnHistory(history, { ...run, seed, epochs, state: demo.state(run.features, eventTimeOptions(config), config.partitions), eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: deployedThresholds(config) });
}

/**
 * Each phase's share of the first-start training's time, in phase order, for one figure of how far
 * it is (measured on two cores: docs/benchmarks.md, "First start").
 */
const PHASE_SHARES: Readonly<Record<TrainingProgress['phase'], number>> = { features: 0.35, model: 0.55, fallback: 0.06, evaluation: 0.04 };
const PHASES = Object.keys(PHASE_SHARES) as TrainingProgress['phase'][];

/** How far a first-start training is, 0–100, from the progress of its current phase. */
export function trainingPercent({ phase, done, total }: TrainingProgress): number {
  const before = PHASES.slice(0, PHASES.indexOf(phase)).reduce((sum, p) => sum + PHASE_SHARES[p], 0);
  return Math.min(100, Math.floor(100 * (before + PHASE_SHARES[phase] * (total > 0 ? Math.min(1, done / total) : 1))));
}

/** The active model's scorers; when none is registered and RTDS_TRAIN_ON_START says so, a first model trained first. */
export interface FirstModel {
  /** Its progress, as it trains. */
  onTraining?: (progress: TrainingProgress) => void;
  /** How large a run: FIRST_START_TRAINING but in tests. */
  size?: FirstStartTraining;
}

export async function loadScorers(config: Config, logger: Logger, features: FeatureSet, registry: ModelRegistry, demo: DemoTraffic, first: FirstModel = {}): Promise<Scorer[]> {
  const { onTraining, size = FIRST_START_TRAINING } = first;
  if ((await registry.active()) === null && config.trainOnStart) {
    logger.info({ registry: registry.location, ...size, rate: demo.rate }, "no model registered: training a first one on the demo's traffic");
    // Under way from here: the demo's history is generated first, before the features' progress.
    onTraining?.({ phase: 'features', done: 0, total: size.events });
    // The guard of `rtds train` holds here too: a model it refuses is not served, and start goes on rules-only.
    try {
      const outcome = await trainFirstModel(
        demo,
        {
          registry,
          features,
          onProgress: (progress) => {
            const p = progress.epoch;
            if (progress.phase === 'model' && p !== undefined) logger.info({ epoch: p.epoch, epochs: p.epochs, loss: round(p.loss), val_auc: round(p.val_auc), percent: trainingPercent(progress) }, 'training');
            onTraining?.(progress);
          },
        },
        config,
        size,
      );
      const figures = { model_version: outcome.version, roc_auc: round(outcome.test.roc_auc), average_precision: round(outcome.test.average_precision), seconds: round(outcome.durationMs / 1000) };
      if (outcome.activated) logger.info(figures, 'model trained and activated');
      else logger.error(figures, `first model not activated: ${outcome.verdict.refusal ?? ''}; scoring rules-only`);
    } catch (err) {
      if (!(err instanceof TrainingHistoryError)) throw err;
      logger.error({ err }, 'first model not trained: scoring rules-only');
    }
  }
  const served = await serveActiveModel(registry, { features, log: (message) => logger.warn(message) });
  if (served.metadata === null) logger.warn('no model available: scoring rules-only; decisions say degraded="rules_only"');
  return guarded(served.ladder, config, logger);
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
