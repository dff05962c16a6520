// Feature sets for measuring what each stage costs: the default set's user features, then one and three more entities.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_FEATURE_SET, FeatureSet, isDerived, type FeatureSpec } from '../src/features/index.ts';

export interface StageVariant {
  label: string;
  file: string;
  stages: number;
}

/** The default set's features keyed by the user only, with the expressions that read nothing else. */
function userOnly(): FeatureSpec[] {
  const specs = DEFAULT_FEATURE_SET.specs.filter((s) => isDerived(s) || s.entity[0] === 'user_id');
  const dropped = new Set(DEFAULT_FEATURE_SET.names.filter((n) => !specs.some((s) => s.name === n)));
  // An expression reading a dropped feature goes too (and, in turn, one reading it).
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of specs) {
      if (!isDerived(s) || dropped.has(s.name)) continue;
      if ([...dropped].some((name) => new RegExp(`\\b${name}\\b`).test(s.expression))) {
        dropped.add(s.name);
        changed = true;
      }
    }
  }
  return specs.filter((s) => !dropped.has(s.name));
}

const MERCHANT: FeatureSpec[] = [
  { name: 'bench_merchant_count_1h', entity: ['merchant_id'], window: { kind: 'hopping', size: 3_600_000, hop: 300_000 }, aggregate: 'count', default: 0 },
  { name: 'bench_merchant_amount_1h', entity: ['merchant_id'], window: { kind: 'hopping', size: 3_600_000, hop: 300_000 }, aggregate: 'sum', field: 'amount', default: 0 },
];
const DEVICE_AND_IP: FeatureSpec[] = [
  { name: 'bench_device_users_24h', entity: ['device_id'], window: { kind: 'hopping', size: 86_400_000, hop: 3_600_000 }, aggregate: 'distinct', field: 'user_id', default: 0 },
  { name: 'bench_ip_count_1h', entity: ['ip_address'], window: { kind: 'hopping', size: 3_600_000, hop: 300_000 }, aggregate: 'count', default: 0 },
];

/** Three feature sets written under `dir`: 1 stage (no hop), 2 stages (1 hop), 4 stages (3 hops). */
export function stageVariants(dir: string): StageVariant[] {
  const base = userOnly();
  return [
    { label: 'user features only', specs: base },
    { label: '+ merchant', specs: [...base, ...MERCHANT] },
    { label: '+ merchant, device, IP', specs: [...base, ...MERCHANT, ...DEVICE_AND_IP] },
  ].map(({ label, specs }, i) => {
    const file = path.join(dir, `stages-${i}.json`);
    writeFileSync(file, JSON.stringify({ features: specs }));
    return { label, file, stages: new FeatureSet(specs).stages.length };
  });
}
