// Feature sets for measuring what the stages cost: the default set's user features alone, with a merchant, and the default set itself.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_FEATURE_SET, FeatureSet, type FeatureSpec } from '../src/features/index.ts';

export interface StageVariant {
  label: string;
  file: string;
  stages: number;
}

/** The default set's features the user stage completes alone: its user features and the expressions over them. */
function userOnly(): FeatureSpec[] {
  return DEFAULT_FEATURE_SET.specs.filter((s) => DEFAULT_FEATURE_SET.stageOf(s.name) === 0);
}

/** One merchant feature: a second stage, one repartition hop. */
const MERCHANT: FeatureSpec = { name: 'bench_merchant_count_1h', entity: ['merchant_id'], window: { kind: 'hopping', size: 3_600_000, hop: 300_000 }, aggregate: 'count', default: 0 };

/**
 * Three feature sets written under `dir`: the default set's user features alone (1 stage, no hop:
 * the default set before issue 15 had only those), with one merchant feature (2 stages, 1 hop),
 * and the default set (its user, merchant, device and IP stages: 3 hops).
 */
export function stageVariants(dir: string): StageVariant[] {
  const base = userOnly();
  return [
    { label: "the default set's user features", specs: base },
    { label: '+ a merchant count', specs: [...base, MERCHANT] },
    { label: 'the default set', specs: [...DEFAULT_FEATURE_SET.specs] },
  ].map(({ label, specs }, i) => {
    const file = path.join(dir, `stages-${i}.json`);
    writeFileSync(file, JSON.stringify({ features: specs }));
    return { label, file, stages: new FeatureSet(specs).stages.length };
  });
}
