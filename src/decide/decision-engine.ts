// The decision engine: score thresholds per event type plus business rules, compiled once per rule set.
import {
  decisionIdFor,
  SEVERITY,
  type Decision,
  type Degradation,
  type Outcome,
  type Reason,
  type RtdsEvent,
} from '../contracts/index.ts';
import { DEFAULT_FEATURE_SET } from '../features/index.ts';
import { formatValue } from '../score/format.ts';
import { Condition, ConditionError, type ConditionInput } from './condition.ts';
import { RuleSetError, type ConditionRule, type Rule, type RuleSetDefinition } from './rule-set.ts';
import { Watchlists } from './watchlists.ts';

/** A rule that fired: the outcome it calls for, or (a score rule) what it adds to the score. */
interface RuleHit {
  outcome: Outcome | undefined;
  add: number;
  reason: Reason;
}
type CompiledRule = (input: ConditionInput) => RuleHit | null;

// One formatter for all: toLocaleString builds a new one on every call (≈ 20 µs).
const MONEY = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const money = (n: number): string => MONEY.format(n);

/** The score as a decision's reason states it: the model's, and where rules moved it. Built only for the sentence that needs it. */
const scoreText = (model: number, adjusted: number): string =>
  adjusted === model ? `risk score ${model.toFixed(2)}` : `risk score ${model.toFixed(2)} adjusted by rules to ${adjusted.toFixed(2)}`;

/** `{event.x}`, `{features.x}` and `{score}` in a message, filled in from what the condition saw. */
function messageOf(template: string, input: ConditionInput, featureIndex: ReadonlyMap<string, number>): string {
  return template.replace(/\{(event\.\w+|features\.\w+|score)\}/g, (whole, path: string) => {
    const [root, field] = path.split('.') as [string, string | undefined];
    const value = root === 'score' ? input.score : root === 'event' ? input.event[field as keyof RtdsEvent] : input.features?.[featureIndex.get(field!) ?? -1];
    return value === undefined ? whole : typeof value === 'number' ? formatValue(value) : String(value);
  });
}

function compileCondition(rule: ConditionRule, featureIndex: ReadonlyMap<string, number>): CompiledRule {
  const condition = new Condition(rule.when, featureIndex);
  const { id, outcome } = rule;
  const add = rule.add_to_score ?? 0;
  const template = rule.message ?? rule.description ?? `condition ${rule.when} holds`;
  return (input) => (condition.test(input) === true ? { outcome, add, reason: { code: id, source: 'rule', message: messageOf(template, input, featureIndex) } } : null);
}

function compile(rule: Rule, featureIndex: ReadonlyMap<string, number>): CompiledRule {
  switch (rule.kind) {
    case 'condition':
      return compileCondition(rule, featureIndex);
    case 'amount_limit': {
      const { channel, currency, max, outcome, id } = rule;
      const scope = [channel, currency].filter((s) => s !== undefined).join(' ');
      return ({ event: e }) =>
        e.amount !== undefined && e.amount > max && (channel === undefined || e.channel === channel) && (currency === undefined || e.currency === currency)
          ? { outcome, add: 0, reason: { code: id, source: 'rule', message: `amount ${money(e.amount)} exceeds the ${scope === '' ? '' : `${scope} `}limit of ${money(max)}` } }
          : null;
    }
    case 'blocked_country': {
      const blocked = new Set(rule.countries);
      const { outcome, id } = rule;
      return ({ event: e }) =>
        e.country !== undefined && blocked.has(e.country)
          ? { outcome, add: 0, reason: { code: id, source: 'rule', message: `country ${e.country} is blocked` } }
          : null;
    }
  }
}

/** Features a too-late event could not have: NaN, never a guess. */
function unknownCount(features: Float64Array): number {
  let n = 0;
  for (let i = 0; i < features.length; i++) if (Number.isNaN(features[i]!)) n++;
  return n;
}

function partialHistory(unknown: number, of: number): Reason {
  return {
    code: 'partial_history',
    source: 'model',
    message: `${unknown} of ${of} features are unknown: the event is older than the history RTDS still holds for it, so they were scored as typical and no rule read them`,
  };
}

/** An event type's thresholds, and the text a reason states them in (formatted once per type, not per decision). */
interface TypeThresholds {
  reject: number;
  flag: number;
  rejectText: string;
  flagText: string;
}

export interface ScoredEvent {
  event: RtdsEvent;
  /** The feature vector the score came from (conditions read it as `features`). */
  features?: Float64Array;
  score: number;
  scoreReasons: Reason[];
  modelVersion: string | null;
  degraded: Degradation;
  late: boolean;
  /** When the event was accepted (epoch ms), for processing_time_ms. */
  acceptedAt: number;
}

/** One rule set, compiled: decides scored events. Immutable (it only memoises text); a new version is a new engine. */
export class DecisionEngine {
  /** Rules that call for an outcome, highest priority first. */
  private readonly rules: CompiledRule[];
  /** Rules that add to the score before the thresholds apply. */
  private readonly scoreRules: CompiledRule[];
  private readonly thresholds: Map<string, number>;
  private readonly defaultThreshold: number;
  /** Per event type seen: its thresholds and their text. */
  private readonly byType = new Map<string, TypeThresholds>();
  /** The rules version decisions record with the lists last decided with: one string per lists version, not per decision. */
  private listed: { lists: Watchlists; rulesVersion: string } | undefined;

  /**
   * Compile a rule set for the features a pipeline computes (`features`, in vector order; default
   * the default set). A condition that does not parse, or names what does not exist, is refused
   * (RuleSetError) here, before the rule set serves.
   */
  constructor(
    readonly ruleSet: RuleSetDefinition,
    options: { features?: readonly string[] } = {},
  ) {
    const featureIndex = new Map((options.features ?? DEFAULT_FEATURE_SET.names).map((name, i) => [name, i]));
    const problems: string[] = [];
    const compiled = ruleSet.rules.map((rule, i) => {
      try {
        return { rule, run: compile(rule, featureIndex) };
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        problems.push(`/rules/${i}/when (${rule.id}): ${err.message}`);
        return { rule, run: () => null };
      }
    });
    if (problems.length > 0) throw new RuleSetError(ruleSet.version, problems);
    const isScoreRule = (r: Rule): boolean => r.kind === 'condition' && r.add_to_score !== undefined;
    this.scoreRules = compiled.filter((c) => isScoreRule(c.rule)).map((c) => c.run);
    // Highest priority first; the sort is stable, so equal priorities keep the file's order.
    this.rules = compiled
      .filter((c) => !isScoreRule(c.rule))
      .sort((a, b) => (b.rule.priority ?? 0) - (a.rule.priority ?? 0))
      .map((c) => c.run);
    this.thresholds = new Map(Object.entries(ruleSet.thresholds));
    this.defaultThreshold = ruleSet.thresholds.default;
  }

  get version(): string {
    return this.ruleSet.version;
  }

  thresholdFor(eventType: string): number {
    return this.thresholds.get(eventType) ?? this.defaultThreshold;
  }

  private thresholdsOf(eventType: string): TypeThresholds {
    let t = this.byType.get(eventType);
    if (t === undefined) {
      const reject = this.thresholdFor(eventType);
      const flag = reject - this.ruleSet.flag_margin;
      this.byType.set(eventType, (t = { reject, flag, rejectText: reject.toFixed(2), flagText: flag.toFixed(2) }));
    }
    return t;
  }

  private rulesVersionWith(lists: Watchlists): string {
    if (lists.version === 0) return this.ruleSet.version;
    if (this.listed?.lists !== lists) this.listed = { lists, rulesVersion: `${this.ruleSet.version}+lists.${lists.version}` };
    return this.listed.rulesVersion;
  }

  /** The outcome of an event no scorer could score: the rule set's safe default for its type. */
  safeDefaultFor(eventType: string): Outcome {
    return this.ruleSet.safe_default[eventType] ?? this.ruleSet.safe_default.default;
  }

  /**
   * Decide one scored event. `decidedAt` is shared by a batch (one clock read and one date
   * format per batch, not per event). The score's reasons array becomes the decision's.
   */
  decide(s: ScoredEvent, decidedAt: { ms: number; iso: string }, lists: Watchlists = Watchlists.EMPTY): Decision {
    const { event } = s;
    const thresholds = this.thresholdsOf(event.event_type);
    const t = thresholds.reject;
    const flagAt = thresholds.flag;
    const reasons = s.scoreReasons;
    // Conditions read the model's score; score rules add to it before the thresholds. risk_score stays the model's.
    const input: ConditionInput = { event, features: s.features, score: s.score };
    let score = s.score;
    for (const rule of this.scoreRules) {
      const hit = rule(input);
      if (hit === null) continue;
      score += hit.add;
      reasons.push(hit.reason);
    }
    score = score < 0 ? 0 : score > 1 ? 1 : score;
    // With no score at all, the configured safe outcome stands in for the thresholds; rules may still make it stricter.
    const safe = s.degraded === 'safe_default';
    let outcome: Outcome = safe ? this.safeDefaultFor(event.event_type) : score >= t ? 'rejected' : score >= flagAt ? 'flagged' : 'approved';
    // The scorer's first reason states the score; the rest say what drove it (top features, signals).
    let drivers =
      outcome === 'approved'
        ? ''
        : safe
          ? `no scorer was available; the safe default for ${event.event_type} applies`
          : `${scoreText(s.score, score)} ≥ ${outcome === 'rejected' ? thresholds.rejectText : thresholds.flagText} for ${event.event_type}${reasons.length > 1 ? ` (${reasons.slice(1).map((r) => r.message).join(', ')})` : ''}`;
    // An allow-listed entity is not decided by its score (rules still apply); a block-listed one is rejected whatever else.
    const listed = lists.check(event);
    if (listed.allowed !== undefined) {
      outcome = 'approved';
      drivers = '';
      reasons.push(listed.allowed);
    }
    let escalated = false;
    let approvedBy: Reason | undefined;
    for (const rule of this.rules) {
      const hit = rule(input);
      if (hit === null) continue;
      reasons.push(hit.reason);
      if (hit.outcome === 'approved') {
        // An approving rule overrides the score and every rule below it, but not a stricter rule above it.
        if (!escalated) {
          outcome = 'approved';
          drivers = '';
          approvedBy = hit.reason;
        }
        break;
      }
      escalated = true;
      drivers = drivers === '' ? hit.reason.message : `${drivers}; ${hit.reason.message}`;
      if (SEVERITY[hit.outcome!] > SEVERITY[outcome]) outcome = hit.outcome!;
    }
    if (listed.blocked !== undefined) {
      reasons.push(listed.blocked);
      drivers = drivers === '' ? listed.blocked.message : `${drivers}; ${listed.blocked.message}`;
      outcome = 'rejected';
    }
    const reason =
      outcome === 'approved'
        ? approvedBy !== undefined
          ? `Approved: ${approvedBy.message} (rule ${approvedBy.code}), whatever the risk score.`
          : listed.allowed !== undefined
          ? `Approved: ${listed.allowed.message}, so its risk score ${score.toFixed(2)} does not decide, and no rule fired.`
          : safe
          ? `Approved: no scorer was available; the safe default for ${event.event_type} is to approve, and no rule fired.`
          : `Approved: ${scoreText(s.score, score)} is below ${thresholds.flagText} and no rule fired.`
        : `${outcome === 'rejected' ? 'Rejected' : 'Flagged'}: ${drivers}.`;
    const unknown = s.features === undefined ? 0 : unknownCount(s.features);
    const partial = unknown === 0 ? undefined : partialHistory(unknown, s.features!.length);
    if (partial !== undefined) reasons.push(partial);
    return {
      decision_id: decisionIdFor(event.event_id),
      event_id: event.event_id,
      decision: outcome,
      risk_score: s.score,
      reason: partial === undefined ? reason : `${reason} ${partial.message}.`,
      reasons,
      timestamp: decidedAt.iso,
      processing_time_ms: Math.max(0, decidedAt.ms - s.acceptedAt),
      model_version: s.modelVersion,
      rules_version: this.rulesVersionWith(lists),
      late: s.late,
      history: partial === undefined ? 'complete' : 'partial',
      degraded: s.degraded,
      event_time_source: event.event_time_source,
    };
  }
}
