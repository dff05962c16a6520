// The no-model fallback: a transparent, hand-weighted risk score from the raw features, every signal explained.
import type { Reason, RtdsEvent } from '../contracts/index.ts';
import { FEATURES, featureIndex } from '../features/index.ts';
import { formatValue } from './format.ts';
import type { Score, Scorer } from './scorer.ts';

const AMOUNT = featureIndex('amount');
const COUNT_1M = featureIndex('count_1m');
const COUNT_1H = featureIndex('count_1h');
const AMOUNT_TO_AVG = featureIndex('amount_to_avg');
const NEW_COUNTRY = featureIndex('new_country');
const NEW_DEVICE = featureIndex('new_device');
const FIRST_EVENT = featureIndex('first_event');
const PASSWORD_CHANGE_24H = featureIndex('password_change_24h');
const MONEY_TYPES = [featureIndex('type_transaction'), featureIndex('type_transfer'), featureIndex('type_withdrawal')];

/**
 * One risk signal: `strength` in [0, 1] from the raw vector, scaled by `weight`. Signals combine
 * as independent pieces of evidence (noisy-OR): score = 1 − Π (1 − weight · strength), so each
 * adds risk, none alone exceeds its weight, and the score stays in [0, 1].
 */
export interface FallbackSignal {
  code: string;
  weight: number;
  doc: string;
  strength(v: Float64Array): number;
  describe(v: Float64Array): string;
}

const clamp01 = (x: number): number => (x > 1 ? 1 : x > 0 ? x : 0);
/** 0 at `from`, 1 at `to`, on a log scale between. */
const logRamp = (x: number, from: number, to: number): number => (x > from ? clamp01(Math.log(x / from) / Math.log(to / from)) : 0);
const movesMoney = (v: Float64Array): boolean => v[MONEY_TYPES[0]!] === 1 || v[MONEY_TYPES[1]!] === 1 || v[MONEY_TYPES[2]!] === 1;

export const FALLBACK_SIGNALS: readonly FallbackSignal[] = [
  {
    code: 'amount_far_above_average',
    weight: 0.6,
    doc: "Amount from 3× to 20× the user's average amount (log scale).",
    strength: (v) => (v[FIRST_EVENT] === 1 ? 0 : logRamp(v[AMOUNT_TO_AVG]!, 3, 20)),
    describe: (v) => `amount ${formatValue(v[AMOUNT]!)} is ${formatValue(v[AMOUNT_TO_AVG]!)}× the user's average`,
  },
  {
    code: 'new_device_and_country',
    weight: 0.55,
    doc: 'A device and a country never seen for this user, together.',
    strength: (v) => (v[NEW_DEVICE] === 1 && v[NEW_COUNTRY] === 1 ? 1 : 0),
    describe: () => 'new device and new country for this user',
  },
  {
    code: 'new_device',
    weight: 0.12,
    doc: 'A device never seen for this user (alone).',
    strength: (v) => (v[NEW_DEVICE] === 1 && v[NEW_COUNTRY] !== 1 ? 1 : 0),
    describe: () => 'new device for this user',
  },
  {
    code: 'new_country',
    weight: 0.12,
    doc: 'A country never seen for this user (alone).',
    strength: (v) => (v[NEW_COUNTRY] === 1 && v[NEW_DEVICE] !== 1 ? 1 : 0),
    describe: () => 'new country for this user',
  },
  {
    code: 'burst_1m',
    weight: 0.5,
    doc: 'From 4 to 10 events of the user within one minute.',
    strength: (v) => clamp01((v[COUNT_1M]! - 3) / 7),
    describe: (v) => `${formatValue(v[COUNT_1M]!)} events from this user in one minute`,
  },
  {
    code: 'velocity_1h',
    weight: 0.3,
    doc: 'From 20 to 60 events of the user within one hour.',
    strength: (v) => clamp01((v[COUNT_1H]! - 19) / 41),
    describe: (v) => `${formatValue(v[COUNT_1H]!)} events from this user in one hour`,
  },
  {
    code: 'password_change_then_money',
    weight: 0.6,
    doc: 'Money moved within 24 h after a password change: fully when 2× the average or more, else partly.',
    strength: (v) => (v[PASSWORD_CHANGE_24H] === 1 && movesMoney(v) ? (v[AMOUNT_TO_AVG]! >= 2 ? 1 : 0.35) : 0),
    describe: (v) => `money moved within 24 h of a password change (${formatValue(v[AMOUNT_TO_AVG]!)}× the average amount)`,
  },
  {
    code: 'large_first_payment',
    weight: 0.4,
    doc: "A user's first event moves 1,000 or more (full strength at 10,000).",
    strength: (v) => (v[FIRST_EVENT] === 1 && v[AMOUNT]! >= 1000 ? 0.5 + 0.5 * logRamp(v[AMOUNT]!, 1000, 10_000) : 0),
    describe: (v) => `first event of this user moves ${formatValue(v[AMOUNT]!)}`,
  },
  {
    code: 'large_amount',
    weight: 0.2,
    doc: 'An amount from 10,000 to 100,000 (log scale), whatever the history.',
    strength: (v) => logRamp(v[AMOUNT]!, 10_000, 100_000),
    describe: (v) => `large amount ${formatValue(v[AMOUNT]!)}`,
  },
];

/**
 * Scores when no model is available (degraded: 'rules_only'). Every signal that contributes is a
 * `fallback` reason with its share, after one reason stating the score.
 */
export class RulesOnlyScorer implements Scorer {
  readonly version = null;
  readonly degraded = 'rules_only' as const;
  private readonly strengths: Float64Array;

  constructor(private readonly signals: readonly FallbackSignal[] = FALLBACK_SIGNALS) {
    this.strengths = new Float64Array(signals.length);
  }

  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[] {
    if (events.length !== vectors.length) throw new RangeError(`${vectors.length} vectors for ${events.length} events`);
    const out: Score[] = new Array<Score>(vectors.length);
    for (let i = 0; i < vectors.length; i++) out[i] = this.scoreOne(vectors[i]!);
    return out;
  }

  scoreOne(v: Float64Array): Score {
    if (v.length !== FEATURES.length) throw new RangeError(`vector has ${v.length} features; expected ${FEATURES.length}`);
    const signals = this.signals;
    let keep = 1;
    let contributing = 0;
    for (let k = 0; k < signals.length; k++) {
      const s = signals[k]!;
      const strength = s.strength(v);
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
      if (share > 0) reasons.push({ code: signals[k]!.code, source: 'fallback', message: `${signals[k]!.describe(v)} (+${share.toFixed(2)})` });
    }
    return { score, reasons };
  }
}
