// Features stage: feature specs as data, compiled into the one function from an event and keyed state to a feature vector.
export { DEFAULT_FEATURE_SET, FEATURES, FEATURE_NAMES, FEATURE_SET_VERSION, featureIndex, loadFeatureSet } from './default-features.ts';
export { FeatureSet, FeatureState, type EventTiming, type FeatureColumn, type FeatureStage } from './feature-set.ts';
export type { FeatureEngine } from './derived-features.ts';
export {
  AGGREGATIONS,
  LABEL_AGGREGATIONS,
  FeatureSpecError,
  parseDuration,
  parseFeatureSpecs,
  parseFeatureSpecText,
  type AggregateFeatureSpec,
  type Aggregation,
  type DerivedFeatureSpec,
  type FeatureSpec,
  type Transform,
  type WindowSpec,
} from './spec.ts';
