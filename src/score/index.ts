// The scoring stage's public face: scorers, training, evaluation, artifacts and the model registry.
export type { Score, Scorer } from './scorer.ts';
export { SafeDefaultScorer } from './safe-default-scorer.ts';
export { CircuitBreaker, CircuitOpenError, type BreakerOptions, type BreakerState } from './circuit-breaker.ts';
export { Standardiser, StandardiserFormatError, DEFAULT_STD_FLOOR, type StandardiserJson } from './preprocess.ts';
export {
  buildMlp,
  trainModel,
  predictRows,
  seededRandom,
  SEED_HIDDEN_LAYERS,
  TrainingDataError,
  type ClassWeighting,
  type EpochProgress,
  type MlpShape,
  type TrainOptions,
  type TrainedModel,
  type TrainingInfo,
} from './mlp.ts';
export {
  averagePrecision,
  calibration,
  confusionMatrix,
  evaluateScores,
  metricsOf,
  populationStability,
  precisionRecallCurve,
  rocAuc,
  rocCurve,
  scoreDistribution,
  scoreHistogram,
  thresholdMetrics,
  thresholdSweep,
  type CalibrationBin,
  type ConfusionMatrix,
  type ModelMetrics,
  type PrecisionRecallCurve,
  type RocCurve,
  type ScoreDistribution,
  type ThresholdMetrics,
  type ThresholdSweep,
} from './evaluation.ts';
export { DenseNetwork, UnsupportedModelError, ACTIVATIONS, type Activation, type DenseLayerWeights } from './dense-network.ts';
export {
  draftFromTraining,
  serialiseModel,
  buildArtifact,
  checkMetadata,
  ownArrayBuffer,
  ArtifactError,
  FeatureSetMismatchError,
  ModelVersionNotFoundError,
  ARTIFACT_FORMAT,
  WEIGHTS_FILE,
  type LoadOptions,
  type ModelArtifact,
  type ModelDraft,
  type ModelMetadata,
  type SerialisedModel,
  type StoredArtifact,
} from './artifact.ts';
export { saveArtifact, loadArtifact, readMetadata } from './artifact-folder.ts';
export {
  metadataFor,
  rollBack,
  versionName,
  versionNumber,
  NothingToRollBackError,
  type ModelActivation,
  type ModelListing,
  type ModelRegistry,
  type RegistryChange,
  type RegistryOptions,
} from './model-registry.ts';
export { FolderRegistry } from './folder-registry.ts';
export { ModelScorer, ScoringInputError, type ModelScorerOptions } from './model-scorer.ts';
export { fallbackFromNetwork, fallbackOf, fallbackScorer, FallbackModelError, type FallbackModelJson } from './fallback-model.ts';
export { RulesOnlyScorer, FALLBACK_SIGNALS, type FallbackSignal } from './rules-only-scorer.ts';
export { serveActiveModel, type ServeOptions, type ServedScorer } from './load-scorer.ts';
export { tensorflow, type Tf, type TfBackend, type TensorFlowOptions } from './tfjs.ts';
export { formatValue } from './format.ts';
