// Which scorers the pipeline starts with: the active model (trained at first start if asked), then rules only.
import { deployedThresholds, eventTimeOptions, type Config } from '../config/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { Logger } from '../observe/index.ts';
import { ModelRegistry, serveActiveModel, type Scorer } from '../score/index.ts';
import { trainOnGeneratedHistory } from './training.ts';

/** Size of the first-start training run: about 10 s on two cores; ROC-AUC ≈ 0.99 on the held-out period. */
export const FIRST_START_TRAINING = { events: 60_000, epochs: 8, seed: 7 } as const;

export async function loadScorers(config: Config, logger: Logger, features: FeatureSet): Promise<Scorer[]> {
  const registry = new ModelRegistry(config.modelDir, { featureSetVersion: features.version });
  if ((await registry.active()) === null && config.trainOnStart) {
    logger.info({ modelDir: config.modelDir, ...FIRST_START_TRAINING }, 'no model registered: training a first one on generated traffic');
    const outcome = await trainOnGeneratedHistory({
      modelDir: config.modelDir,
      ...FIRST_START_TRAINING,
      features,
      eventTime: eventTimeOptions(config),
      partitions: config.partitions,
      thresholds: deployedThresholds(config),
      onEpoch: (p) => logger.info({ epoch: p.epoch, epochs: p.epochs, loss: round(p.loss), val_auc: round(p.val_auc) }, 'training'),
    });
    logger.info({ model_version: outcome.version, roc_auc: round(outcome.test.roc_auc), average_precision: round(outcome.test.average_precision), seconds: round(outcome.durationMs / 1000) }, 'model trained and activated');
  }
  const served = await serveActiveModel(registry, { features, log: (message) => logger.warn(message) });
  if (served.metadata === null) logger.warn('no model available: scoring rules-only; decisions say degraded="rules_only"');
  return served.ladder;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
