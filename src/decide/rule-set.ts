// Rule sets as data: their JSON shape, validation with readable errors, and the built-in default.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { Outcome } from '../contracts/index.ts';

/** What every rule has beside its kind. */
interface RuleBase {
  id: string;
  description?: string;
  /** Rules fire from the highest priority down (default 0); an approving rule stops the lower ones. */
  priority?: number;
}

export interface AmountLimitRule extends RuleBase {
  kind: 'amount_limit';
  /** Applies to this channel only; every channel when absent. */
  channel?: string;
  /** Applies to this currency only; every currency when absent. */
  currency?: string;
  max: number;
  outcome: Exclude<Outcome, 'approved'>;
}

export interface BlockedCountryRule extends RuleBase {
  kind: 'blocked_country';
  countries: string[];
  outcome: Exclude<Outcome, 'approved'>;
}

/** A condition in CEL over `event`, `features` and `score` (docs/rules.md). */
export interface ConditionRule extends RuleBase {
  kind: 'condition';
  when: string;
  /** Flag or reject; or approve, overriding the score and every rule of lower priority. Either this or `add_to_score`. */
  outcome?: Outcome;
  /** Added to the model's score before the thresholds apply (clamped to [0, 1]). */
  add_to_score?: number;
  /** The reason's message; `{event.amount}`, `{features.count_1h}` and `{score}` are filled in. Default: the description, else the condition. */
  message?: string;
}

export type Rule = AmountLimitRule | BlockedCountryRule | ConditionRule;

export interface RuleSetDefinition {
  version: string;
  /** Reject threshold t per event type; `default` for the rest. Flag from t − flag_margin. */
  thresholds: Record<string, number> & { default: number };
  flag_margin: number;
  /**
   * The outcome per event type (`default` for the rest) when no scorer could score at all, the
   * last step of the degradation ladder: say, approve logins but send transfers to review.
   */
  safe_default: Record<string, Outcome> & { default: Outcome };
  rules: Rule[];
}

/** Without a model, rules or features, an event goes to review: neither waved through nor refused unseen. */
const SAFE_DEFAULT: RuleSetDefinition['safe_default'] = { default: 'flagged' };

export class RuleSetError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid rule set (${source}): ${problems.join('; ')}`);
    this.name = 'RuleSetError';
  }
}

/**
 * Most rules in one rule set. Every event is decided against each of them, and a backtest replays
 * up to 100,000 events through them: a bound on both (docs/rules.md).
 */
export const MAX_RULES = 1000;

/** A rule set beyond a size bound (MAX_RULES): refused whole, before any rule is checked. */
export class RuleSetTooLargeError extends RuleSetError {
  constructor(source: string, problem: string) {
    super(source, [problem]);
    this.name = 'RuleSetTooLargeError';
  }
}

// Lengths bound the work of compiling a rule set, and what a log line or an error may quote from it.
const id = { type: 'string', minLength: 1, maxLength: 128 };
const prose = { type: 'string', maxLength: 1024 };
const outcome = { enum: ['flagged', 'rejected'] };
const priority = { type: 'integer', minimum: -1000, maximum: 1000 };
const ruleSetSchema = {
  type: 'object',
  required: ['version', 'thresholds', 'rules'],
  additionalProperties: false,
  properties: {
    version: id,
    thresholds: {
      type: 'object',
      required: ['default'],
      maxProperties: 256,
      additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
    },
    flag_margin: { type: 'number', minimum: 0, maximum: 1 },
    safe_default: {
      type: 'object',
      required: ['default'],
      maxProperties: 256,
      additionalProperties: { enum: ['approved', 'flagged', 'rejected'] },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'kind'],
        discriminator: { propertyName: 'kind' },
        oneOf: [
          {
            properties: {
              id,
              kind: { const: 'amount_limit' },
              description: prose,
              priority,
              channel: { type: 'string', maxLength: 64 },
              currency: { type: 'string', pattern: '^[A-Z]{3}$' },
              max: { type: 'number', minimum: 0 },
              outcome,
            },
            required: ['max', 'outcome'],
            additionalProperties: false,
          },
          {
            properties: {
              id,
              kind: { const: 'blocked_country' },
              description: prose,
              priority,
              countries: { type: 'array', minItems: 1, maxItems: 300, items: { type: 'string', pattern: '^[A-Z]{2}$' } },
              outcome,
            },
            required: ['countries', 'outcome'],
            additionalProperties: false,
          },
          {
            properties: {
              id,
              kind: { const: 'condition' },
              description: prose,
              priority,
              when: { type: 'string', minLength: 1, maxLength: 4096 },
              outcome: { enum: ['approved', 'flagged', 'rejected'] },
              add_to_score: { type: 'number', minimum: -1, maximum: 1 },
              message: { ...prose, minLength: 1 },
            },
            required: ['when'],
            oneOf: [{ required: ['outcome'], not: { required: ['add_to_score'] } }, { required: ['add_to_score'], not: { required: ['outcome'] } }],
            additionalProperties: false,
          },
        ],
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true });
const check = ajv.compile<RuleSetDefinition>(ruleSetSchema);

/** Validate a parsed rule set; every problem is reported with its path. */
export function parseRuleSet(input: unknown, source = 'inline'): RuleSetDefinition {
  // Counted before the schema runs: checking 20,000 rules only to refuse them is the work the bound avoids.
  const rules = (input as { rules?: unknown } | null)?.rules;
  if (Array.isArray(rules) && rules.length > MAX_RULES) throw new RuleSetTooLargeError(source, `/rules has ${rules.length} rules; a rule set holds at most ${MAX_RULES}`);
  if (!check(input)) {
    throw new RuleSetError(
      source,
      (check.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : ''}`),
    );
  }
  const ids = new Set<string>();
  for (const rule of input.rules) {
    if (ids.has(rule.id)) throw new RuleSetError(source, [`rule id "${rule.id}" is used twice`]);
    ids.add(rule.id);
  }
  return { ...input, flag_margin: input.flag_margin ?? 0.2, safe_default: input.safe_default ?? SAFE_DEFAULT };
}

/** A rule set written in YAML or JSON (YAML is a superset of JSON): a file, or a body sent as text. */
export function parseRuleSetText(text: string, source: string): RuleSetDefinition {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new RuleSetError(source, [(err as Error).message]);
  }
  return parseRuleSet(parsed, source);
}

/** A rule set file (RTDS_RULES_FILE, `rtds rules add`); unreadable is refused like invalid. */
/** A rule set file, parsed and checked; one that cannot be read fails with Node's own error (its path and code), not as an invalid rule set. */
export function loadRuleSetFile(file: string): RuleSetDefinition {
  return parseRuleSetText(readFileSync(file, 'utf8'), file);
}

/** The rules RTDS starts with: the seed's thresholds plus a few common business rules. */
export function defaultRuleSet(threshold = 0.7): RuleSetDefinition {
  return {
    version: 'builtin-1',
    thresholds: { default: threshold },
    flag_margin: 0.2,
    safe_default: SAFE_DEFAULT,
    rules: [
      { id: 'sanctioned_country', kind: 'blocked_country', description: 'Countries under sanctions', countries: ['KP', 'IR', 'SY', 'CU'], outcome: 'rejected' },
      { id: 'atm_limit', kind: 'amount_limit', description: 'ATM withdrawals above the daily cash limit', channel: 'atm', max: 1000, outcome: 'flagged' },
      { id: 'pos_limit', kind: 'amount_limit', description: 'Card-present payments above the terminal limit', channel: 'pos', max: 5000, outcome: 'flagged' },
      { id: 'hard_limit', kind: 'amount_limit', description: 'Any single movement above the hard limit', max: 50000, outcome: 'rejected' },
    ],
  };
}
