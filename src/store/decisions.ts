// Repository of the `decisions` table: idempotent batched inserts and cursor-paginated reads.
import { decisionIdFor, type Decision, type Degradation, type Outcome, type RtdsEvent, type ShadowScore } from '../contracts/index.ts';
import { EVENT_SELECT, eventFromRow, type EventRow } from './events.ts';
import { FeatureSet } from '../features/index.ts';
import { BinaryCopyRows, float32Bytes } from './copy-binary.ts';
import { countDecisionsOf } from './decision-minutes.ts';
import type { Database } from './database.ts';
import { RowEncodingError, type CopyStatement, type Statement } from './statement.ts';

type Queryable = Pick<Database, 'query'>;

/** The event's fields a decision is searched by, kept on its row (migration 12). */
export type SearchedEventFields = Pick<RtdsEvent, 'event_type' | 'user_id' | 'channel' | 'merchant_id'>;

/** A decision with its event's searched fields, the feature vector it was made from, and the challenger's score when one ran. */
export interface DecisionRecord {
  decision: Decision;
  event: SearchedEventFields;
  features?: Float64Array;
  shadow?: ShadowScore | undefined;
  /** The OpenTelemetry trace it was decided in, when traced. */
  trace_id?: string | undefined;
}

/** A decision as read back: features by name when this build knows their layout. */
export interface StoredDecision extends Decision {
  features?: Record<string, number> | number[];
  /** The version of the feature set `features` come from. */
  feature_set?: string;
  shadow?: ShadowScore;
  /** The hash of the event body decided (contracts' bodyHash), where read with its claim. */
  body_hash?: string;
  event_type: string;
  user_id: string;
  channel: string | null;
  merchant_id: string | null;
  /** The verdict stored for its event: true fraud, false not fraud, null none yet. */
  is_fraud: boolean | null;
  /** The OpenTelemetry trace it was decided in; absent when it was not traced. */
  trace_id?: string;
}

/** A vector as bytea's hex text. */
function encodeFeatures(v: Float64Array): string {
  return `\\x${float32Bytes(v).toString('hex', 0, v.length * 4)}`;
}

/** A stored vector's float32 values (the bytes are copied: a view needs them aligned). */
function float32Values(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength >>> 2);
}

function decodeFeatures(bytes: Uint8Array, featureSet: string | null): Record<string, number> | number[] {
  const values = Array.from(float32Values(bytes), (x) => Number(x.toPrecision(7)));
  const names = featureSet === null ? undefined : FeatureSet.namesOf(featureSet);
  if (names === undefined || values.length !== names.length) return values;
  return Object.fromEntries(names.map((name, i) => [name, values[i]!]));
}

const DECISION_COLUMNS = ['decision_id', 'event_id', 'decision', 'risk_score', 'reason', 'reasons', 'features', 'feature_set', 'timestamp', 'processing_time_ms', 'model_version', 'rules_version', 'late', 'history', 'degraded', 'shadow_version', 'shadow_score', 'event_time_source', 'event_type', 'user_id', 'channel', 'merchant_id', 'trace_id'];

/**
 * Insert decisions; a decision id already stored is kept, so a re-sent event has one decision.
 * Those inserted are counted in the per-minute rollup in the same statement, by `writer`, and
 * only those: a replayed batch adds nothing. `featureSet` is the version of the feature vectors,
 * stored to read them back by name.
 */
export function insertDecisions(records: readonly DecisionRecord[], options: { writer: string; featureSet?: string | undefined }): Statement {
  const rows = records.map(({ decision, event, features, shadow, trace_id }) => ({
    ...decision,
    features: features === undefined ? null : encodeFeatures(features),
    feature_set: features === undefined ? null : (options.featureSet ?? null),
    shadow_version: shadow?.model_version ?? null,
    shadow_score: shadow?.score ?? null,
    event_type: event.event_type,
    user_id: event.user_id,
    channel: event.channel ?? null,
    merchant_id: event.merchant_id ?? null,
    trace_id: trace_id ?? null,
  }));
  const inserted = `inserted AS (
       INSERT INTO decisions (${DECISION_COLUMNS.join(', ')})
       SELECT ${DECISION_COLUMNS.join(', ')}
       FROM jsonb_to_recordset($1::jsonb) AS r(decision_id text, event_id text, decision text, risk_score double precision, reason text, reasons jsonb,
            features bytea, feature_set text, timestamp timestamptz, processing_time_ms double precision, model_version text, rules_version text, late boolean, history text, degraded text,
            shadow_version text, shadow_score double precision, event_time_source text, event_type text, user_id text, channel text, merchant_id text, trace_id text)
       ON CONFLICT DO NOTHING
       RETURNING event_id, timestamp, decision, late, degraded, processing_time_ms)`;
  return {
    // The event row is stored before its decision (in this transaction or an earlier one): its type and channel are read from there.
    sql: countDecisionsOf({
      ctes: [inserted],
      source: 'SELECT i.timestamp, e.event_type, e.channel, i.decision, i.late, i.degraded, i.processing_time_ms FROM inserted i LEFT JOIN events e ON e.event_id = i.event_id',
      writer: '$2',
    }),
    params: [JSON.stringify(rows), options.writer],
  };
}

/**
 * The same rows as `insertDecisions` by COPY: several times faster, but it fails whole if one
 * decision id is already stored. It leaves the rollup alone: `countNewDecisions` counts the rows
 * in the same transaction. In the binary format: the decision's own fields are RTDS's (its time
 * is the clock's), so none holds a value the text format would refuse and this one take.
 */
export function copyDecisions(records: readonly DecisionRecord[], featureSet?: string): CopyStatement {
  const rows = new BinaryCopyRows();
  // A micro-batch's decisions share their time: parsed once for each run of equal times.
  let parsed = '';
  let timeMs = NaN;
  for (const { decision: d, event: e, features, shadow, trace_id } of records) {
    if (d.timestamp !== parsed) {
      parsed = d.timestamp;
      timeMs = Date.parse(parsed);
    }
    if (Number.isNaN(timeMs)) throw new RowEncodingError(d.event_id, 'decision.timestamp', `${JSON.stringify(d.timestamp)} is not a time`);
    rows.row(DECISION_COLUMNS.length);
    rows.text(d.decision_id);
    rows.text(d.event_id);
    rows.text(d.decision);
    rows.float8(d.risk_score);
    rows.text(d.reason);
    rows.jsonb(JSON.stringify(d.reasons));
    rows.float32s(features);
    rows.text(features === undefined ? null : featureSet);
    rows.timestamptz(timeMs);
    rows.float8(d.processing_time_ms);
    rows.text(d.model_version);
    rows.text(d.rules_version);
    rows.bool(d.late);
    rows.text(d.history);
    rows.text(d.degraded);
    rows.text(shadow?.model_version);
    rows.float8(shadow?.score);
    rows.text(d.event_time_source);
    rows.text(e.event_type);
    rows.text(e.user_id);
    rows.text(e.channel);
    rows.text(e.merchant_id);
    rows.text(trace_id);
  }
  return { copyInto: 'decisions', columns: DECISION_COLUMNS, binary: rows.finish() };
}

interface DecisionRow extends Omit<Decision, 'timestamp'> {
  timestamp: Date;
  created_at: Date;
  features: Uint8Array | null;
  feature_set: string | null;
  shadow_version: string | null;
  shadow_score: number | null;
  event_type: string;
  user_id: string;
  channel: string | null;
  merchant_id: string | null;
  label: 'fraud' | 'legit' | null;
  body_hash?: string | null;
  trace_id: string | null;
}

function toStored(row: DecisionRow): StoredDecision {
  const { created_at: _created, features, feature_set, shadow_version, shadow_score, body_hash, label, trace_id, ...rest } = row;
  const out: StoredDecision = { ...rest, timestamp: row.timestamp.toISOString(), is_fraud: label === null ? null : label === 'fraud' };
  if (typeof body_hash === 'string') out.body_hash = body_hash;
  if (typeof trace_id === 'string') out.trace_id = trace_id;
  if (features !== null) out.features = decodeFeatures(features, feature_set);
  if (feature_set !== null) out.feature_set = feature_set;
  if (shadow_version !== null && shadow_score !== null) out.shadow = { model_version: shadow_version, score: shadow_score };
  return out;
}

/** The decision of `eventId`, with the hash of the body it was made for: from the claims, which may live in a database of their own (Database.claims). */
export async function findDecision(db: Pick<Database, 'query' | 'claims'>, eventId: string): Promise<StoredDecision | undefined> {
  const [[row], [claim]] = await Promise.all([
    db.query<DecisionRow>('SELECT * FROM decisions WHERE decision_id = $1', [decisionIdFor(eventId)]),
    db.claims.query<{ body_hash: string | null }>('SELECT body_hash FROM event_claims WHERE event_id = $1', [eventId]),
  ]);
  return row === undefined ? undefined : toStored({ ...row, body_hash: claim?.body_hash ?? null });
}

/** Decisions by their event's verdict: labelled fraud, labelled not fraud, or not labelled yet. */
export const LABEL_FILTERS = ['fraud', 'legit', 'unlabelled'] as const;
export type LabelFilter = (typeof LABEL_FILTERS)[number];

/** Filters of a search of decisions; each one absent matches every decision. */
export interface DecisionQuery {
  decision?: Outcome | undefined;
  event_type?: string | undefined;
  channel?: string | undefined;
  user_id?: string | undefined;
  merchant_id?: string | undefined;
  min_score?: number | undefined;
  max_score?: number | undefined;
  /** RFC 3339 bounds on the decision time: since inclusive, until exclusive. */
  since?: string | undefined;
  until?: string | undefined;
  /** A code among the decision's reasons: a rule's id, or a model's or fallback's reason code. */
  rule?: string | undefined;
  label?: LabelFilter | undefined;
  late?: boolean | undefined;
  /** Whether the decision came from a step down the degradation ladder (degraded is not 'none'). */
  degraded?: boolean | undefined;
  limit: number;
  /** Opaque cursor from a previous page: its next_cursor (older decisions) or prev_cursor (newer). */
  cursor?: string | undefined;
}

/** A page of decisions, newest first, with the cursors of the pages either side (null where there is none). */
export interface DecisionPage {
  items: StoredDecision[];
  next_cursor: string | null;
  prev_cursor: string | null;
}

export class CursorError extends Error {
  constructor(readonly cursor: string) {
    super(`invalid cursor "${cursor}"`);
    this.name = 'CursorError';
  }
}

/** A page boundary: the decisions older than a decision (the next page) or newer (the previous one). */
interface Cursor {
  direction: 'older' | 'newer';
  timestamp: string;
  decision_id: string;
}

// JSON inside base64url: an event id may hold any character, so the fields are not joined by a separator.
const encodeCursor = (direction: Cursor['direction'], at: StoredDecision): string => Buffer.from(JSON.stringify([direction, at.timestamp, at.decision_id])).toString('base64url');

function decodeCursor(cursor: string): Cursor {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw new CursorError(cursor);
  }
  if (!Array.isArray(fields) || fields.length !== 3) throw new CursorError(cursor);
  const [direction, timestamp, decisionId] = fields as unknown[];
  if ((direction !== 'older' && direction !== 'newer') || typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp)) || typeof decisionId !== 'string') throw new CursorError(cursor);
  return { direction, timestamp, decision_id: decisionId };
}

/**
 * The WHERE clauses of `q`'s filters over `decisions d`, with their parameters. Each is written
 * as its index expects (migration 12): an equality before the page order, or a partial index's
 * own predicate.
 */
function filterClauses(q: DecisionQuery): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown): void => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  for (const column of ['decision', 'event_type', 'channel', 'user_id', 'merchant_id'] as const) if (q[column] !== undefined) add(`d.${column} = ?`, q[column]);
  if (q.min_score !== undefined) add('d.risk_score >= ?', q.min_score);
  if (q.max_score !== undefined) add('d.risk_score <= ?', q.max_score);
  if (q.since !== undefined) add('d.timestamp >= ?::timestamptz', q.since);
  if (q.until !== undefined) add('d.timestamp < ?::timestamptz', q.until);
  if (q.rule !== undefined) add(`jsonb_path_query_array(d.reasons, '$[*].code') @> ?::jsonb`, JSON.stringify([q.rule]));
  if (q.label === 'unlabelled') where.push('d.label IS NULL');
  else if (q.label !== undefined) add('d.label = ?', q.label);
  if (q.late !== undefined) where.push(q.late ? 'd.late' : 'NOT d.late');
  if (q.degraded !== undefined) where.push(q.degraded ? "d.degraded <> 'none'" : "d.degraded = 'none'");
  return { where, params };
}

/** The SQL of one page of `q` and its parameters: what listDecisions runs, and what EXPLAIN is asked about. */
export function decisionPageQuery(q: DecisionQuery): { sql: string; params: unknown[]; cursor: Cursor | undefined } {
  const { where, params } = filterClauses(q);
  const at = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const direction = at?.direction ?? 'older';
  if (at !== undefined) {
    params.push(at.timestamp, at.decision_id);
    where.push(`(d.timestamp, d.decision_id) ${direction === 'older' ? '<' : '>'} ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  // One more row than the page says whether another page follows in the direction read.
  params.push(q.limit + 1);
  const order = direction === 'older' ? 'DESC' : 'ASC';
  const sql = `SELECT d.* FROM decisions d ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.timestamp ${order}, d.decision_id ${order} LIMIT $${params.length}`;
  return { sql, params, cursor: at };
}

/**
 * Decisions newest first, keyset-paginated on (timestamp, decision_id) — stable under inserts,
 * and as fast on the last page as on the first. A previous page is read backwards from its
 * first decision and shown newest first again.
 */
export async function listDecisions(db: Queryable, q: DecisionQuery): Promise<DecisionPage> {
  const { sql, params, cursor } = decisionPageQuery(q);
  const direction = cursor?.direction ?? 'older';
  const rows = await db.query<DecisionRow>(sql, params);
  const more = rows.length > q.limit;
  const read = rows.slice(0, q.limit).map(toStored);
  const items = direction === 'older' ? read : read.reverse();
  const newest = items[0];
  const oldest = items[items.length - 1];
  // Reading older: newer ones exist when a cursor led here. Reading newer: older ones exist, the page it came from.
  const olderExist = direction === 'older' ? more : cursor !== undefined;
  const newerExist = direction === 'newer' ? more : cursor !== undefined;
  return {
    items,
    next_cursor: olderExist && oldest !== undefined ? encodeCursor('older', oldest) : null,
    prev_cursor: newerExist && newest !== undefined ? encodeCursor('newer', newest) : null,
  };
}

/** A decision as a model's figures read it: when, what was decided and by which score, the score of the version read, and the verdict where one is stored. */
export interface ScoredDecision {
  /** Decision time, epoch milliseconds. */
  decided_at: number;
  decision: Outcome;
  /** The version that decided, and its score. */
  model_version: string | null;
  risk_score: number;
  /** The score of the version read: the decided one when served, its shadow score in shadow. */
  score: number;
  is_fraud: boolean | null;
}

/** Whose scores to read: the version that decided, or the one scoring beside it in shadow (a challenger). */
export type ScoredAs = 'served' | 'shadow';

/**
 * The latest `limit` decisions `version` scored as `as` says, newest first; with `labelled`, the
 * latest `limit` of those with a verdict. Both walk an index on decision time (the shadow one is
 * partial on shadow_version) and stop at `limit`. A shadow score is stored with its version, so
 * `score` is never null.
 */
export async function scoredDecisions(db: Queryable, version: string, options: { as: ScoredAs; limit: number; labelled?: boolean }): Promise<ScoredDecision[]> {
  return db.query<ScoredDecision>(
    `SELECT (extract(epoch FROM d.timestamp) * 1000)::float8 AS decided_at, d.decision, d.model_version, d.risk_score,
            ${options.as === 'served' ? 'd.risk_score' : 'd.shadow_score'} AS score, l.is_fraud
       FROM decisions d LEFT JOIN labels l ON l.event_id = d.event_id
      WHERE d.${options.as === 'served' ? 'model_version' : 'shadow_version'} = $1${options.labelled === true ? ' AND l.is_fraud IS NOT NULL' : ''}
      ORDER BY d.timestamp DESC LIMIT $2`,
    [version, options.limit],
  );
}

/** A stored decision with what made it: the event, its feature vector and set, and the verdict where one is stored. */
export interface DecidedHistory {
  event: RtdsEvent;
  /** The vector as stored (float32), in the order of `feature_set`. */
  features: Float64Array | undefined;
  feature_set: string | null;
  decision: Outcome;
  risk_score: number;
  degraded: Degradation;
  is_fraud: boolean | null;
}

/** The latest `limit` stored decisions with an event time at or after `since`, oldest first: what a backtest replays. */
export async function decidedHistory(db: Queryable, options: { since?: Date | undefined; limit: number }): Promise<DecidedHistory[]> {
  const rows = await db.query<EventRow & { decision: Outcome; risk_score: number; degraded: Degradation; features: Uint8Array | null; feature_set: string | null; is_fraud: boolean | null }>(
    `SELECT * FROM (
       SELECT ${EVENT_SELECT}, d.decision, d.risk_score, d.degraded, d.features, d.feature_set, l.is_fraud
         FROM decisions d JOIN events e ON e.event_id = d.event_id LEFT JOIN labels l ON l.event_id = d.event_id
        ${options.since === undefined ? '' : 'WHERE e.timestamp >= $2::timestamptz'}
        ORDER BY e.timestamp DESC, d.decision_id DESC LIMIT $1) recent
     ORDER BY event_time, event_id`,
    options.since === undefined ? [options.limit] : [options.limit, options.since.toISOString()],
  );
  return rows.map((r) => ({
    event: eventFromRow(r),
    features: r.features === null ? undefined : Float64Array.from(float32Values(r.features)),
    feature_set: r.feature_set,
    decision: r.decision,
    risk_score: r.risk_score,
    degraded: r.degraded,
    is_fraud: r.is_fraud,
  }));
}
