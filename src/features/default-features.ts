// The default feature set: RTDS's fraud features, declared as data in default-features.yaml.
import { readFileSync } from 'node:fs';
import { FeatureSet, type FeatureColumn } from './feature-set.ts';
import { FeatureSpecError, parseFeatureSpecText } from './spec.ts';

export const DEFAULT_FEATURE_SET = new FeatureSet(parseFeatureSpecText(readFileSync(new URL('./default-features.yaml', import.meta.url), 'utf8')));

/** The default set's model inputs, names and version: what models trained on it record. */
export const FEATURES: readonly FeatureColumn[] = DEFAULT_FEATURE_SET.columns;
export const FEATURE_NAMES: readonly string[] = DEFAULT_FEATURE_SET.names;
export const FEATURE_SET_VERSION = DEFAULT_FEATURE_SET.version;
export const featureIndex = (name: string): number => DEFAULT_FEATURE_SET.indexOf(name);

/** The feature set of a specs file (RTDS_FEATURES_FILE), or the default set when there is none. */
export function loadFeatureSet(file: string | undefined): FeatureSet {
  if (file === undefined) return DEFAULT_FEATURE_SET;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FeatureSpecError(file, `cannot read the feature specs: ${(err as Error).message}`);
  }
  try {
    return new FeatureSet(parseFeatureSpecText(text));
  } catch (err) {
    if (err instanceof FeatureSpecError) throw new FeatureSpecError(`${file}: ${err.path}`, err.reason);
    throw err;
  }
}
