// Store stage: PostgreSQL or PGlite behind one interface, one repository per table, a batched sink.
export { DatabaseError, openDatabase, type ClaimsDatabase, type Database, type DatabaseOptions } from './database.ts';
export { classifyStoreError, isStoreUnavailable, type Statement, type StoreFailure } from './statement.ts';
export { migrate } from './migrations.ts';
export { DecisionSink, STORE_SOURCE, type DecidedEvent, type IsolatedRow, type SinkHealth, type SinkOptions } from './decision-sink.ts';
export { EMBEDDED_LOG, findEvent, insertEvents, loadEmbeddedHistory, loadPartitionHistory, storedHistory, storedOffsetsFrom, type History, type HistoryReach, type LoggedEvent, type StoredEvent, type StoredHistory } from './events.ts';
export { CursorError, decisionPageQuery, findDecision, insertDecisions, LABEL_FILTERS, listDecisions, scoredDecisions, decidedHistory, type DecidedHistory, type DecisionPage, type DecisionQuery, type DecisionRecord, type LabelFilter, type ScoredAs, type ScoredDecision, type StoredDecision } from './decisions.ts';
export { decisionHistory, HISTORY_RANGES, HISTORY_SPLITS, MAX_SPLIT_VALUES, NO_VALUE, OTHER_VALUES, USUAL_LEVEL_MS, usualLevel, type DecisionHistory, type HistoryRange, type HistorySplit, type UsualLevel } from './history.ts';
export { LATENCY_ABSOLUTE_BOUND_MS, LATENCY_EDGES_MS, LATENCY_RELATIVE_BOUND } from './latency-histogram.ts';
export { SharedRoundTrips } from './shared-round-trips.ts';
export { claimedBodies, claimEvents, releaseLostClaims, StoreClaims, type ClaimHolder, type ClaimRequest, type StoreClaimsOptions } from './event-claims.ts';
export { countDeadLetters, insertDeadLetters, listDeadLetters, type DeadLetter, type DeadLetterCount, type StoredDeadLetter } from './dead-letters.ts';
export { databaseNow, findLabel, fraudVerdictsOf, labelArrivals, labelsReceivedSince, upsertLabels, type LabelArrivals, type ReceivedLabel } from './labels.ts';
export { StoreRegistry } from './models.ts';
export { addListEntries, listsVersion, readLists, removeListEntries } from './lists.ts';
export { activateRuleSet, activeRuleSet, rollBackRuleSet, ruleSetActivations, ruleSetVersions, saveRuleSet, storedRuleSet, RuleSetVersionError } from './rule-sets.ts';
