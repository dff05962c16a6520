// Decide stage: rule sets as data and the engine that turns a scored event into a decision.
export { DecisionEngine, type ScoredEvent } from './decision-engine.ts';
export { defaultRuleSet, loadRuleSetFile, parseRuleSet, RuleSetError, type Rule, type RuleSetDefinition } from './rule-set.ts';
export { LIST_FIELDS, LIST_KINDS, Watchlists, type ListEntry, type ListField, type ListKind } from './watchlists.ts';
export { backtest, type BacktestReport, type Catch, type HistoricDecision } from './backtest.ts';
