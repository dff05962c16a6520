// The no-model fallback: a transparent, hand-weighted risk score from the raw features, every signal explained.
import type { Reason, RtdsEvent } from '../contracts/index.ts';
import { DEFAULT_FEATURE_SET, type FeatureSet } from '../features/index.ts';
import { formatValue } from './format.ts';
import type { Score, Scorer } from './scorer.ts';

/** The features the signals read, by name: a feature set without all of them cannot be scored by rules only. */
const READS = ['amount', 'count_1m', 'count_1h', 'amount_to_avg', 'new_country', 'new_device', 'first_event', 'password_change_24h', 'type_transaction', 'type_transfer', 'type_withdrawal'] as const;
/** Where each feature the signals read sits in the vector. */
export type SignalInputs = Record<(typeof READS)[number], number>;

/**
 * One risk signal: `strength` in [0, 1] from the raw vector, scaled by `weight`. Signals combine
 * as independent pieces of evidence (noisy-OR): score = 1 − Π (1 − weight · strength), so each
 * adds risk, none alone exceeds its weight, and the score stays in [0, 1].
 */
export interface FallbackSignal {
  code: string;
  weight: number;
  doc: string;
  strength(v: Float64Array, f: SignalInputs): number;
  describe(v: Float64Array, f: SignalInputs): string;
}

const clamp01 = (x: number): number => (x > 1 ? 1 : x > 0 ? x : 0);
/** 0 at `from`, 1 at `to`, on a log scale between. */
const logRamp = (x: number, from: number, to: number): number => (x > from ? clamp01(Math.log(x / from) / Math.log(to / from)) : 0);
const movesMoney = (v: Float64Array, f: SignalInputs): boolean => v[f.type_transaction] === 1 || v[f.type_transfer] === 1 || v[f.type_withdrawal] === 1;

export const FALLBACK_SIGNALS: readonly FallbackSignal[] = [
  {
    code: 'amount_far_above_average',
    weight: 0.6,
    doc: "Amount from 3× to 20× the user's average amount (log scale).",
    strength: (v, f) => (v[f.first_event] === 1 ? 0 : logRamp(v[f.amount_to_avg]!, 3, 20)),
    describe: (v, f) => `amount ${formatValue(v[f.amount]!)} is ${formatValue(v[f.amount_to_avg]!)}× the user's average`,
  },
  {
    code: 'new_device_and_country',
    weight: 0.55,
    doc: 'A device and a country never seen for this user, together.',
    strength: (v, f) => (v[f.new_device] === 1 && v[f.new_country] === 1 ? 1 : 0),
    describe: () => 'new device and new country for this user',
  },
  {
    code: 'new_device',
    weight: 0.12,
    doc: 'A device never seen for this user (alone).',
    strength: (v, f) => (v[f.new_device] === 1 && v[f.new_country] !== 1 ? 1 : 0),
    describe: () => 'new device for this user',
  },
  {
    code: 'new_country',
    weight: 0.12,
    doc: 'A country never seen for this user (alone).',
    strength: (v, f) => (v[f.new_country] === 1 && v[f.new_device] !== 1 ? 1 : 0),
    describe: () => 'new country for this user',
  },
  {
    code: 'burst_1m',
    weight: 0.5,
    doc: 'From 4 to 10 events of the user within one minute.',
    strength: (v, f) => clamp01((v[f.count_1m]! - 3) / 7),
    describe: (v, f) => `${formatValue(v[f.count_1m]!)} events from this user in one minute`,
  },
  {
    code: 'velocity_1h',
    weight: 0.3,
    doc: 'From 20 to 60 events of the user within one hour.',
    strength: (v, f) => clamp01((v[f.count_1h]! - 19) / 41),
    describe: (v, f) => `${formatValue(v[f.count_1h]!)} events from this user in one hour`,
  },
  {
    code: 'password_change_then_money',
    weight: 0.6,
    doc: 'Money moved within 24 h after a password change: fully when 2× the average or more, else partly.',
    strength: (v, f) => (v[f.password_change_24h] === 1 && movesMoney(v, f) ? (v[f.amount_to_avg]! >= 2 ? 1 : 0.35) : 0),
    describe: (v, f) => `money moved within 24 h of a password change (${formatValue(v[f.amount_to_avg]!)}× the average amount)`,
  },
  {
    code: 'large_first_payment',
    weight: 0.4,
    doc: "A user's first event moves 1,000 or more (full strength at 10,000).",
    strength: (v, f) => (v[f.first_event] === 1 && v[f.amount]! >= 1000 ? 0.5 + 0.5 * logRamp(v[f.amount]!, 1000, 10_000) : 0),
    describe: (v, f) => `first event of this user moves ${formatValue(v[f.amount]!)}`,
  },
  {
    code: 'large_amount',
    weight: 0.2,
    doc: 'An amount from 10,000 to 100,000 (log scale), whatever the history.',
    strength: (v, f) => logRamp(v[f.amount]!, 10_000, 100_000),
    describe: (v, f) => `large amount ${formatValue(v[f.amount]!)}`,
  },
];

/** A feature set without the features the rules-only signals read. */
export class MissingFeaturesError extends Error {
  override readonly name = 'MissingFeaturesError';
  constructor(
    readonly featureSet: string,
    readonly missing: readonly string[],
  ) {
    super(`feature set ${featureSet} lacks ${missing.join(', ')}, which the rules-only scorer reads`);
  }
}

/**
 * Scores when no model is available (degraded: 'rules_only'). Every signal that contributes is a
 * `fallback` reason with its share, after one reason stating the score.
 */
export class RulesOnlyScorer implements Scorer {
  readonly version = null;
  readonly degraded = 'rules_only' as const;
  private readonly strengths: Float64Array;

  private readonly inputs: SignalInputs;
  private readonly width: number;

  /** Throws a MissingFeaturesError when `features` lacks one the signals read. */
  constructor(
    features: FeatureSet = DEFAULT_FEATURE_SET,
    private readonly signals: readonly FallbackSignal[] = FALLBACK_SIGNALS,
  ) {
    const missing = READS.filter((name) => !features.names.includes(name));
    if (missing.length > 0) throw new MissingFeaturesError(features.version, missing);
    this.inputs = Object.fromEntries(READS.map((name) => [name, features.indexOf(name)])) as SignalInputs;
    this.width = features.names.length;
    this.strengths = new Float64Array(signals.length);
  }

  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[] {
    if (events.length !== vectors.length) throw new RangeError(`${vectors.length} vectors for ${events.length} events`);
    const out: Score[] = new Array<Score>(vectors.length);
    for (let i = 0; i < vectors.length; i++) out[i] = this.scoreOne(vectors[i]!);
    return out;
  }

  scoreOne(v: Float64Array): Score {
    if (v.length !== this.width) throw new RangeError(`vector has ${v.length} features; expected ${this.width}`);
    const signals = this.signals;
    let keep = 1;
    let contributing = 0;
    for (let k = 0; k < signals.length; k++) {
      const s = signals[k]!;
      const strength = s.strength(v, this.inputs);
      // NaN strength (a NaN feature) contributes nothing rather than poisoning the score.
      const share = strength > 0 ? s.weight * strength : 0;
      this.strengths[k] = share;
      if (share > 0) {
        keep *= 1 - share;
        contributing++;
      }
    }
    const score = 1 - keep;
    const reasons: Reason[] = [
      {
        code: 'rules_only_score',
        source: 'fallback',
        message:
          contributing === 0
            ? 'no model available: rules-only fallback found no risk signal'
            : `no model available: rules-only fallback scored ${score.toFixed(2)} from ${contributing} signal${contributing === 1 ? '' : 's'}`,
      },
    ];
    for (let k = 0; k < signals.length; k++) {
      const share = this.strengths[k]!;
      if (share > 0) reasons.push({ code: signals[k]!.code, source: 'fallback', message: `${signals[k]!.describe(v, this.inputs)} (+${share.toFixed(2)})`, contribution: share });
    }
    return { score, reasons };
  }
}
