// Measures the decision stage: rule evaluations per second for sets of CEL conditions, and the cost of deciding one event.
import { validateEvent, type RtdsEvent } from '../src/contracts/index.ts';
import { DecisionEngine, defaultRuleSet, parseRuleSet, type ScoredEvent } from '../src/decide/index.ts';
import { DEFAULT_FEATURE_SET } from '../src/features/index.ts';
import { seededRandom } from '../src/score/mlp.ts';

/** Conditions of the forms risk teams write: thresholds on features, amounts per channel, lists, combinations. */
const TEMPLATES = [
  (k: number) => `features.count_1h > ${10 + k}.0 && score > 0.${k % 9}`,
  (k: number) => `event.channel == 'atm' && event.amount > ${500 + 10 * k}.0`,
  (k: number) => `event.country in ['KP', 'IR', 'SY', 'X${k}'] || features.amount_to_avg > ${3 + k}.0`,
  (k: number) => `has(event.amount) && event.amount > ${1000 * (k + 1)}.0 && features.new_device == 1.0`,
  (k: number) => `event.event_type == 'transfer' && (score > 0.${k % 9} || features.count_1m >= ${2 + k}.0)`,
];

export interface RuleBench {
  rules: number;
  /** Condition evaluations per second (events × rules). */
  evaluations_per_s: number;
  /** Time to decide one event with this rule set, µs. */
  decide_us: number;
}

function scoredEvents(n: number): ScoredEvent[] {
  const random = seededRandom(5);
  const d = DEFAULT_FEATURE_SET.names.length;
  return Array.from({ length: n }, (_, i) => {
    const checked = validateEvent({ event_id: `r${i}`, event_type: ['transaction', 'transfer', 'login'][i % 3], timestamp: i, user_id: 'u', amount: random() * 8000, channel: ['atm', 'web', 'pos'][i % 3], country: ['DE', 'KP', 'FR'][i % 3] });
    if (!checked.ok) throw new Error('bench: invalid event');
    return {
      event: checked.event as RtdsEvent,
      features: Float64Array.from({ length: d }, () => random() * 20),
      score: random(),
      scoreReasons: [],
      modelVersion: 'v1',
      degraded: 'none',
      late: false,
      acceptedAt: 0,
    };
  });
}

function timeDecisions(engine: DecisionEngine, events: ScoredEvent[], ms = 1000): number {
  const decidedAt = { ms: 0, iso: new Date(0).toISOString() };
  // Each decision appends reasons to its event's array: give each run fresh arrays.
  const round = (): void => {
    for (const e of events) engine.decide({ ...e, scoreReasons: [] }, decidedAt);
  };
  round();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    round();
    n += events.length;
  }
  return ((performance.now() - start) * 1000) / n;
}

export function benchRules(counts: readonly number[] = [20, 200]): { builtin_us: number; sets: RuleBench[] } {
  const events = scoredEvents(1000);
  const builtin = timeDecisions(new DecisionEngine(defaultRuleSet()), events);
  const empty = timeDecisions(new DecisionEngine(parseRuleSet({ version: 'empty', thresholds: { default: 0.7 }, rules: [] })), events);
  const sets = counts.map((count) => {
    const rules = Array.from({ length: count }, (_, k) => ({ id: `r${k}`, kind: 'condition', when: TEMPLATES[k % TEMPLATES.length]!(Math.floor(k / TEMPLATES.length)), outcome: 'flagged' }));
    const engine = new DecisionEngine(parseRuleSet({ version: `bench-${count}`, thresholds: { default: 0.7 }, rules }));
    const us = timeDecisions(engine, events);
    // The conditions' own share: the decision without any rule subtracted.
    return { rules: count, evaluations_per_s: (count * 1e6) / Math.max(us - empty, 1e-9), decide_us: us };
  });
  return { builtin_us: builtin, sets };
}
