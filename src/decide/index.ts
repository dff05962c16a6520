// Decide stage: rule sets as data and the engine that turns a scored event into a decision.
export { DecisionEngine, type ScoredEvent } from './decision-engine.ts';
export { defaultRuleSet, loadRuleSetFile, MAX_RULES, parseRuleSet, parseRuleSetText, RuleSetError, RuleSetTooLargeError, type Rule, type RuleSetDefinition } from './rule-set.ts';
export { LIST_FIELDS, LIST_KINDS, Watchlists, type ListEntry, type ListField, type ListKind } from './watchlists.ts';
export { backtest, BacktestDeadlineError, MAX_BACKTEST_EVENTS, type BacktestReport, type Catch, type HistoricDecision } from './backtest.ts';
