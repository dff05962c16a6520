// The decision contract: exactly one per valid event, explained by its reasons.
import type { EventTimeSource } from './event.ts';
import { parseJsonOrUndefined } from './json.ts';
import { currentSchema } from './schemas.ts';

export const OUTCOMES = ['approved', 'flagged', 'rejected'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Which step of the degradation ladder produced the score. */
export const DEGRADATIONS = ['none', 'fallback_model', 'rules_only', 'safe_default'] as const;
export type Degradation = (typeof DEGRADATIONS)[number];

/**
 * Whether every feature was computed from history the state holds: `partial` when the event is so
 * late that some of its windows reach back before it (those features are unknown and the model
 * scored them as typical; see docs/features.md).
 */
export const HISTORIES = ['complete', 'partial'] as const;
export type History = (typeof HISTORIES)[number];

export type ReasonSource = 'model' | 'rule' | 'fallback';

/** JSON Schema of the decision at its current version (schemas/decision.v<n>.json): a published decision, and the answer of the API's decision routes. */
export const decisionJsonSchema = currentSchema('decision');

export interface Reason {
  code: string;
  source: ReasonSource;
  message: string;
  /** The feature a model's explanation names (code `model_feature`). */
  feature?: string;
  /**
   * What this reason added to the risk score, where a scorer measured it: the rise a feature
   * caused (the model's occlusion), or a signal's share (the rules-only fallback).
   */
  contribution?: number;
}

export interface Decision {
  decision_id: string;
  event_id: string;
  decision: Outcome;
  risk_score: number;
  reason: string;
  reasons: Reason[];
  /** When the decision was made (RFC 3339). */
  timestamp: string;
  processing_time_ms: number;
  model_version: string | null;
  rules_version: string;
  late: boolean;
  history: History;
  degraded: Degradation;
  /** Whether the event time decided on was the event's `timestamp` or, without one, the time RTDS received it. */
  event_time_source: EventTimeSource;
}

/**
 * A challenger model's score for the same event (champion / challenger): stored beside the
 * decision to compare the two on the verdicts as they arrive, never part of the decision.
 */
export interface ShadowScore {
  model_version: string;
  score: number;
}

/**
 * A decision as published — on the decisions topic and the live feed — with the event fields a
 * reader routes and displays it by, so it needs no join with the events, and the hash of the body
 * decided (`bodyHash`): of two bodies sent with one event id, the one this decision is for.
 */
export interface PublishedDecision extends Decision {
  event_type: string;
  user_id: string;
  amount: number | null;
  country: string | null;
  channel: string | null;
  /** Absent where no claim was made (a pipeline run without a store). */
  body_hash?: string;
  /** The OpenTelemetry trace the event was decided in; absent when tracing is off. */
  trace_id?: string;
}

export function publishDecision(event: { event_type: string; user_id: string; amount?: number; country?: string; channel?: string }, decision: Decision, bodyHash?: string, traceId?: string): PublishedDecision {
  // Field by field, in the decision's order, rather than spread: one object of a fixed shape, about 10× faster (docs/benchmarks.md, issue 18).
  const d = decision;
  const published: PublishedDecision = {
    decision_id: d.decision_id,
    event_id: d.event_id,
    decision: d.decision,
    risk_score: d.risk_score,
    reason: d.reason,
    reasons: d.reasons,
    timestamp: d.timestamp,
    processing_time_ms: d.processing_time_ms,
    model_version: d.model_version,
    rules_version: d.rules_version,
    late: d.late,
    history: d.history,
    degraded: d.degraded,
    event_time_source: d.event_time_source,
    event_type: event.event_type,
    user_id: event.user_id,
    amount: event.amount ?? null,
    country: event.country ?? null,
    channel: event.channel ?? null,
  };
  if (bodyHash !== undefined) published.body_hash = bodyHash;
  if (traceId !== undefined) published.trace_id = traceId;
  return published;
}

/** A published decision read back from its JSON, or undefined when the text is not one. */
export function parsePublishedDecision(text: string): PublishedDecision | undefined {
  const d = parseJsonOrUndefined(text) as Partial<PublishedDecision> | null | undefined;
  const ok = typeof d === 'object' && d !== null && typeof d.decision_id === 'string' && typeof d.event_id === 'string' && typeof d.event_type === 'string' && OUTCOMES.includes(d.decision as Outcome);
  return ok ? (d as PublishedDecision) : undefined;
}

/** Severity order: a rule can only make an outcome stricter. */
export const SEVERITY: Record<Outcome, number> = { approved: 0, flagged: 1, rejected: 2 };

/**
 * Deterministic from the event id, so a re-sent or re-processed event maps to the same decision
 * row and the store's primary key makes the write idempotent. A prefix rather than a hash: it is
 * unique by construction (no collision can ever drop a decision) and costs nothing per event.
 */
export function decisionIdFor(eventId: string): string {
  return `dec_${eventId}`;
}
