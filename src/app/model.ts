// Which scorers the pipeline starts with: the active model (trained at first start if asked), then rules only.
import { deployedThresholds, eventTimeOptions, type Config } from '../config/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { Logger } from '../observe/index.ts';
import { serveActiveModel, type ModelRegistry, type Scorer } from '../score/index.ts';
import { guarded } from '../follow/active-model-follower.ts';
import { TrainingHistoryError } from './activation-guard.ts';
import type { DemoTraffic } from './demo-traffic.ts';
import { trainOnHistory, type TrainingOutcome, type TrainingSettings } from './training.ts';

/**
 * The first-start training run: the demo's last 240,000 events (80 minutes at 50/s), of which the
 * latest 60,000 are the rows trained and judged on; the earlier ones fill the 1-minute and 1-hour
 * windows and sessions first, as live traffic has them. Before them, the feature set's reach (38
 * days for the default set) of the same stream sampled down to about 50,000 events, so the
 * merchant's fraud rate of 30 days ending 7 days ago has the expectation it has live
 * (docs/features.md, "The first start's history"). About a quarter longer than without the
 * sparse past and the merchant, device and IP features (docs/benchmarks.md).
 */
export const FIRST_START_TRAINING = { events: 240_000, labelled: 60_000, sparsePastEvents: 50_000, epochs: 8, seed: 7 } as const;

/** A first model trained on the demo's history, as `rtds start` does when none is registered. */
export function trainFirstModel(demo: DemoTraffic, run: Pick<TrainingSettings, 'registry' | 'features' | 'onProgress'>, config: Config): Promise<TrainingOutcome> {
  const { events, labelled, sparsePastEvents, epochs, seed } = FIRST_START_TRAINING;
  const history = demo.history(events, labelled, { spanMs: run.features.reachMs, events: sparsePastEvents });
  return trainOnHistory(history, { ...run, seed, epochs, state: demo.state(run.features, eventTimeOptions(config), config.partitions), eventTime: eventTimeOptions(config), partitions: config.partitions, thresholds: deployedThresholds(config) });
}

export async function loadScorers(config: Config, logger: Logger, features: FeatureSet, registry: ModelRegistry, demo: DemoTraffic): Promise<Scorer[]> {
  if ((await registry.active()) === null && config.trainOnStart) {
    logger.info({ registry: registry.location, ...FIRST_START_TRAINING, rate: demo.rate }, "no model registered: training a first one on the demo's traffic");
    // The guard of `rtds train` holds here too: a model it refuses is not served, and start goes on rules-only.
    try {
      const outcome = await trainFirstModel(
        demo,
        {
          registry,
          features,
          onProgress: ({ phase, epoch: p }) => {
            if (phase === 'model' && p !== undefined) logger.info({ epoch: p.epoch, epochs: p.epochs, loss: round(p.loss), val_auc: round(p.val_auc) }, 'training');
          },
        },
        config,
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
