// Test data: labelled raw feature vectors from a seeded generator, where fraud depends on the features.
import { FEATURES, featureIndex } from '../../src/features/index.ts';
import { seededRandom } from '../../src/score/mlp.ts';

/** The training code's own seeded generator, so tests and training share one PRNG. */
export const rng = seededRandom;

function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const TYPES = ['transaction', 'transfer', 'withdrawal', 'login', 'signup', 'password_change'] as const;
const CHANNELS = ['web', 'mobile', 'pos', 'atm', 'api'] as const;
const HOUR = 3600;

export interface Synthetic {
  x: Float64Array[];
  y: number[];
}

/**
 * Ordinary and fraudulent activity that overlap: fraud tends to move more money than the user's
 * average, from new devices and countries, in bursts, at night, after password changes.
 */
export function syntheticDataset(rows: number, seed: number, fraudRate = 0.03): Synthetic {
  const random = rng(seed);
  const x: Float64Array[] = [];
  const y: number[] = [];
  const pick = <T>(items: readonly T[], weights: readonly number[]): T => {
    let r = random() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < items.length; i++) if ((r -= weights[i]!) < 0) return items[i]!;
    return items[items.length - 1]!;
  };
  for (let n = 0; n < rows; n++) {
    const fraud = random() < fraudRate;
    // Each fraud shows only some of the tell-tale signs, so the classes overlap.
    const sign = (p: number): boolean => fraud && random() < p;
    const v = new Float64Array(FEATURES.length);
    const type = fraud ? pick(TYPES, [3, 4, 3, 1, 0.3, 0.5]) : pick(TYPES, [10, 2, 1, 5, 0.3, 0.3]);
    const moves = type === 'transaction' || type === 'transfer' || type === 'withdrawal';
    const avg = Math.exp(3.5 + normal(random));
    const ratio = moves ? Math.exp((sign(0.7) ? 1.5 : 0) + 0.5 * normal(random)) : 0;
    const amount = moves ? avg * ratio : 0;
    const c1m = 1 + Math.floor(sign(0.5) ? 2 + random() * 5 : random() * random() * 3);
    const c1h = c1m + Math.floor(random() * 5);
    const c24 = c1h + Math.floor(random() * 15);
    const first = random() < 0.02 ? 1 : 0;
    v[featureIndex('amount')] = amount;
    v[featureIndex('count_1m')] = c1m;
    v[featureIndex('count_1h')] = c1h;
    v[featureIndex('count_24h')] = c24;
    v[featureIndex('sum_1m')] = amount + (c1m - 1) * avg * random();
    v[featureIndex('sum_1h')] = amount + (c1h - 1) * avg * random();
    v[featureIndex('sum_24h')] = amount + (c24 - 1) * avg * random();
    v[featureIndex('amount_to_avg')] = first && moves ? 1 : ratio;
    v[featureIndex('new_country')] = !first && (sign(0.3) || random() < 0.03) ? 1 : 0;
    v[featureIndex('new_device')] = !first && (sign(0.35) || random() < 0.06) ? 1 : 0;
    v[featureIndex('secs_since_prev')] = first ? 0 : -Math.log(Math.max(random(), 1e-9)) * (sign(0.3) ? 60 : 3 * HOUR);
    v[featureIndex('first_event')] = first;
    v[featureIndex('password_change_24h')] = sign(0.2) || random() < 0.01 ? 1 : 0;
    const hour = sign(0.3) ? 1 + random() * 4 : random() * 24;
    v[featureIndex('hour_sin')] = Math.sin((2 * Math.PI * hour) / 24);
    v[featureIndex('hour_cos')] = Math.cos((2 * Math.PI * hour) / 24);
    v[featureIndex(`type_${type}`)] = 1;
    v[featureIndex(`channel_${fraud ? pick(CHANNELS, [3, 2, 0.5, 1, 2]) : pick(CHANNELS, [3, 4, 2, 1, 0.3])}`)] = 1;
    x.push(v);
    y.push(fraud ? 1 : 0);
  }
  return { x, y };
}
