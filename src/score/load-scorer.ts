// Picks the scorer to serve: the registry's active model, or the rules-only fallback when there is none.
import type { ModelMetadata } from './artifact.ts';
import { FallbackModelError, fallbackOf } from './fallback-model.ts';
import type { ModelRegistry } from './model-registry.ts';
import { ModelScorer, type ModelScorerOptions } from './model-scorer.ts';
import { DEFAULT_FEATURE_SET, type FeatureSet } from '../features/index.ts';
import { MissingFeaturesError, RulesOnlyScorer } from './rules-only-scorer.ts';
import { SafeDefaultScorer } from './safe-default-scorer.ts';
import type { Scorer } from './scorer.ts';

export interface ServedScorer {
  scorer: Scorer;
  /** Scorers in order of preference for the pipeline's degradation ladder: the model, its fallback model (when trained with one), then rules-only. */
  ladder: Scorer[];
  /** The active model's metadata; null when the fallback serves. */
  metadata: ModelMetadata | null;
  /** Why the active model could not be served (e.g. a FeatureSetMismatchError); null otherwise. */
  problem: Error | null;
}

export interface ServeOptions extends ModelScorerOptions {
  /** Where a refused model is reported; default console.warn. */
  log?: (message: string) => void;
  /** The feature set the pipeline computes (the registry should refuse models of another); default the default set. */
  features?: FeatureSet;
}

/**
 * Load the active model into a ModelScorer (its tfjs copy is disposed once read). With no
 * active model, or one that cannot be served, the RulesOnlyScorer serves and `problem` says why.
 */
export async function serveActiveModel(registry: ModelRegistry, options: ServeOptions = {}): Promise<ServedScorer> {
  const { log = (m: string) => console.warn(m), features = DEFAULT_FEATURE_SET, ...scorerOptions } = options;
  const rules = rulesOnly(features, log);
  let version: string | null = null;
  try {
    version = await registry.active();
    if (version === null) return fallback(null, rules);
    const artifact = await registry.load(version);
    try {
      const scorer = ModelScorer.fromArtifact(artifact, scorerOptions);
      const ladder: Scorer[] = [scorer];
      try {
        const fallback = fallbackOf(artifact.metadata, scorerOptions);
        if (fallback !== undefined) ladder.push(fallback);
      } catch (e) {
        // A broken fallback must not keep a sound model from serving: the ladder skips that step.
        if (!(e instanceof FallbackModelError)) throw e;
        log(`rtds score: ${e.message}; serving model ${version} without its fallback`);
      }
      if (rules !== undefined) ladder.push(rules);
      return { scorer, ladder, metadata: artifact.metadata, problem: null };
    } finally {
      artifact.model.dispose();
    }
  } catch (e) {
    const problem = e instanceof Error ? e : new Error(String(e));
    log(`rtds score: cannot serve model ${version ?? '(unknown)'} from ${registry.location}: ${problem.message}; scoring rules-only`);
    return fallback(problem, rules);
  }
}

/** With no model the rules-only scorer serves; without the features it reads, the safe default does. */
function fallback(problem: Error | null, rules: RulesOnlyScorer | undefined): ServedScorer {
  const scorer = rules ?? new SafeDefaultScorer();
  return { scorer, ladder: [scorer], metadata: null, problem };
}

function rulesOnly(features: FeatureSet, log: (message: string) => void): RulesOnlyScorer | undefined {
  try {
    return new RulesOnlyScorer(features);
  } catch (err) {
    if (!(err instanceof MissingFeaturesError)) throw err;
    log(`rtds score: ${err.message}; without a model, events get the safe default`);
    return undefined;
  }
}
