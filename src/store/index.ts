// Store stage: PostgreSQL or PGlite behind one interface, one repository per table, a batched sink.
export { DatabaseError, openDatabase, type Database, type DatabaseOptions } from './database.ts';
export { classifyStoreError, isStoreUnavailable, type Statement, type StoreFailure } from './statement.ts';
export { migrate } from './migrations.ts';
export { DecisionSink, STORE_SOURCE, type DecidedEvent, type IsolatedRow, type SinkHealth, type SinkOptions } from './decision-sink.ts';
export { EMBEDDED_LOG, findEvent, insertEvents, loadEmbeddedHistory, loadPartitionHistory, storedHistory, storedOffsetsFrom, type History, type HistoryReach, type LoggedEvent, type StoredEvent, type StoredHistory } from './events.ts';
export { CursorError, decisionPageQuery, findDecision, insertDecisions, LABEL_FILTERS, listDecisions, recentScores, recentShadowScores, decidedHistory, type DecidedHistory, type DecisionPage, type DecisionQuery, type DecisionRecord, type LabelFilter, type PairedScore, type StoredDecision } from './decisions.ts';
export { claimedBodies, claimEvents, releaseLostClaims, StoreClaims, type ClaimHolder, type ClaimRequest, type StoreClaimsOptions } from './event-claims.ts';
export { insertDeadLetters, listDeadLetters, type DeadLetter, type StoredDeadLetter } from './dead-letters.ts';
export { databaseNow, findLabel, fraudVerdictsOf, labelsReceivedSince, upsertLabels, type ReceivedLabel } from './labels.ts';
export { StoreRegistry } from './models.ts';
export { addListEntries, listsVersion, readLists, removeListEntries } from './lists.ts';
export { activateRuleSet, activeRuleSet, rollBackRuleSet, ruleSetVersions, saveRuleSet, storedRuleSet, RuleSetVersionError } from './rule-sets.ts';
