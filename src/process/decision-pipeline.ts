// The pipeline core, free of I/O: validate → features → score → decide for a batch of one partition.
import { conflictError, payloadText, validateEvent, type Decision, type LabelledEvent, type RtdsEvent, type ShadowScore, type ValidationOptions } from '../contracts/index.ts';
import { Watchlists, type DecisionEngine } from '../decide/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { DeadLetter } from '../store/index.ts';
import type { Scorer, Score } from '../score/scorer.ts';
import { SafeDefaultScorer } from '../score/safe-default-scorer.ts';
import { epochMs, partitionFor, UndecodableRecord, type LogPosition, type LogRecord } from '../transport/log.ts';
import type { EventTimeOptions } from './partition-task.ts';
import { StageTasks } from './stage-tasks.ts';

/** A decided event: its decision, the features it was made from, where it sits in the log, and the challenger's score if one runs. */
export interface Decided {
  kind: 'decided';
  event: RtdsEvent;
  decision: Decision;
  features: Float64Array;
  position: LogPosition;
  shadow: ShadowScore | undefined;
  /** How far (ms, event time) behind its partition's watermark a late event was; 0 when on time. */
  behindMs: number;
  /** The hash of the body decided, as claimed; undefined when decided without a claim. */
  body_hash: string | undefined;
}

/** A re-send of an event id with another body than the one holding it: dead-lettered with both hashes, never decided. */
export interface Conflict {
  kind: 'conflict';
  event_id: string;
  letter: DeadLetter;
}

export type PipelineResult = Decided | Conflict | { kind: 'dead_letter'; letter: DeadLetter } | { kind: 'duplicate'; event_id: string };

/**
 * What the claim on its event id says of a valid record: decide it (it holds the id; its body
 * hashes to `body_hash`), skip it (a re-send of the body holding the id), or refuse it (a re-send
 * with another body).
 */
export type ClaimVerdict = { kind: 'decide'; body_hash: string } | { kind: 'duplicate' } | { kind: 'conflict'; decided_hash: string; body_hash: string };

/** A micro-batch validated, its state untouched: each record's event, or its dead letter already among the results. */
export interface AdmittedBatch {
  readonly records: readonly LogRecord[];
  /** Per record: its event, when valid. */
  readonly events: readonly (RtdsEvent | undefined)[];
  readonly results: PipelineResult[];
}

/** A partition's recent history: its events in log order and the fraud verdicts known for them. */
export interface PartitionHistory {
  events: Iterable<RtdsEvent>;
  verdicts: Iterable<LabelledEvent>;
}

export interface PipelineOptions {
  /** Scorers in order of preference; the next one is used when one throws (the degradation ladder). */
  scorers: Scorer[];
  engine: DecisionEngine;
  features: FeatureSet;
  eventTime: EventTimeOptions;
  /** Partitions of the events log, and of every stage's state (in one process only how the state is sharded); default 1. */
  partitions?: number;
  /** Event types and live time bounds the log's records are validated against. */
  validation?: Omit<ValidationOptions, 'now'>;
  /** Called when a scorer fails and the ladder steps down. */
  onScorerError?: (scorer: Scorer, err: unknown) => void;
  /** Called when the challenger fails on a batch: its scores are missing there, the decisions stand. */
  onChallengerError?: (challenger: Scorer, err: unknown) => void;
}

const SAFE_DEFAULT = new SafeDefaultScorer();
/** Entities per kind and partition whose bytes are counted to estimate the state's size. */
const STATE_SAMPLE = 200;

export class DecisionPipeline {
  private tasks: StageTasks;
  private scorers: Scorer[];
  private challenger: Scorer | null = null;
  private engine: DecisionEngine;
  private lists = Watchlists.EMPTY;

  constructor(private readonly options: PipelineOptions) {
    this.scorers = options.scorers;
    this.engine = options.engine;
    this.tasks = new StageTasks(options.features, options.eventTime, options.partitions ?? 1);
  }

  get modelVersion(): string | null {
    return this.scorers[0]?.version ?? null;
  }

  /** How far behind a partition's latest event its history still changes a value: what a restore replays. */
  get restoreReachMs(): number {
    const { maxOutOfOrdernessMs, allowedLatenessMs, lateHistoryMs = 0, dedupeWindowMs } = this.options.eventTime;
    return maxOutOfOrdernessMs + allowedLatenessMs + Math.max(lateHistoryMs + this.options.features.reachMs, dedupeWindowMs);
  }

  /** Whether features count fraud labels: only then are verdicts routed to the partitions. */
  get usesLabels(): boolean {
    return this.options.features.usesLabels;
  }

  get rulesVersion(): string {
    return this.engine.version;
  }

  /** Swap the scorers between batches; no event is scored by a half-installed model. */
  useScorers(scorers: Scorer[]): void {
    this.scorers = scorers;
  }

  /** The model scored beside the served one, in shadow: its scores are kept, never decided on. */
  get challengerVersion(): string | null {
    return this.challenger?.version ?? null;
  }

  /** Start (or, with null, stop) scoring every decided event with a challenger too; between batches, like useScorers. */
  useChallenger(challenger: Scorer | null): void {
    this.challenger = challenger;
  }

  /** The block and allow lists from the next batch on. */
  useLists(lists: Watchlists): void {
    this.lists = lists;
  }

  get listsVersion(): number {
    return this.lists.version;
  }

  useEngine(engine: DecisionEngine): void {
    this.engine = engine;
  }

  /** The keyed state over all partitions: entities, approximate bytes (sampled), event ids remembered. */
  stateSize(): { entities: number; bytes: number; eventIds: number } {
    return this.tasks.size(STATE_SAMPLE);
  }

  /** Whether the state of `partition` is missing or stale for a batch starting at `offset`. */
  needsRestore(partition: number, offset: number): boolean {
    return this.tasks.source(partition)?.nextOffset !== offset;
  }

  /**
   * Rebuild a partition's state from its history (every event decided before `nextOffset`, in
   * offset order, then their verdicts) — the same steps that built it online, so features
   * continue exactly. A verdict counts from its `labeled_at` on, so handing them over after the
   * events changes no value read after the restore.
   */
  restore(partition: number, history: PartitionHistory, nextOffset: number): number {
    const task = this.tasks.newSource();
    const scratch = new Float64Array(this.options.features.names.length);
    let n = 0;
    for (const event of history.events) {
      task.step(event, scratch);
      n++;
    }
    for (const verdict of history.verdicts) task.label(verdict);
    task.nextOffset = nextOffset;
    this.tasks.setSource(partition, task);
    return n;
  }

  /**
   * Rebuild every stage's state from the whole history (the embedded log's restart): its events in
   * the order they were processed, each through every stage as online, then their verdicts. The
   * user stage's partitions then expect their log's first offset.
   */
  restoreAll(history: PartitionHistory): number {
    const partitions = this.options.partitions ?? 1;
    const tasks = new StageTasks(this.options.features, this.options.eventTime, partitions);
    const partitionOf = (e: RtdsEvent): number => (partitions === 1 ? 0 : partitionFor(e.user_id, partitions));
    let n = 0;
    for (const event of history.events) {
      tasks.step(event, partitionOf(event));
      n++;
    }
    for (const verdict of history.verdicts) tasks.label(verdict, partitionOf(verdict.event));
    this.tasks = tasks;
    return n;
  }

  /**
   * Continue the stages' state built by the same steps elsewhere (replayFeatures over history that
   * came before the log's first record, with this pipeline's feature set, event-time options and partitions).
   */
  adopt(tasks: StageTasks): void {
    this.tasks = tasks;
  }

  /**
   * A verdict on an event of `partition`, for its label-driven features. False when this process
   * holds no state for the partition: the instance that restores it reads the verdict from the store.
   */
  label(partition: number, verdict: LabelledEvent): boolean {
    return this.tasks.label(verdict, partition);
  }

  /** Process records of one partition in offset order; every record yields exactly one result. */
  processBatch(records: readonly LogRecord[], now: () => number = epochMs): PipelineResult[] {
    return this.decide(this.admit(records), undefined, now);
  }

  /** Validate records: the first half of a micro-batch, before the runtime claims its event ids. */
  admit(records: readonly LogRecord[]): AdmittedBatch {
    const results: PipelineResult[] = new Array(records.length);
    const events: (RtdsEvent | undefined)[] = new Array(records.length);
    // An event without a timestamp takes the time its record was accepted: persisted with the record, so a re-read decides alike.
    const validation: ValidationOptions = { ...this.options.validation, receivedAt: undefined };
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.value instanceof UndecodableRecord) {
        results[i] = { kind: 'dead_letter', letter: { source: 'log', payload: record.value.text, errors: [{ field: '(record)', reason: record.value.reason }] } };
        continue;
      }
      validation.receivedAt = record.acceptedAt;
      const checked = validateEvent(record.value, validation);
      if (checked.ok) events[i] = checked.event;
      else results[i] = { kind: 'dead_letter', letter: { source: 'log', event_id: checked.event_id, payload: payloadText(record.value), errors: checked.errors } };
    }
    return { records, events, results };
  }

  /**
   * Decide admitted records, each as its claim's verdict says (without verdicts, every valid one):
   * a duplicate or a conflict becomes its result without entering the state, so a re-send counts
   * in no feature whichever partition it reached.
   */
  decide(admitted: AdmittedBatch, verdicts?: readonly (ClaimVerdict | undefined)[], now: () => number = epochMs): PipelineResult[] {
    const { records, results } = admitted;
    const events: RtdsEvent[] = [];
    const vectors: Float64Array[] = [];
    const lateness: { late: boolean; behindMs: number }[] = [];
    const slots: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      this.tasks.sourceTask(record.partition).nextOffset = record.offset + 1;
      const event = admitted.events[i];
      if (event === undefined) continue;
      const verdict = verdicts?.[i];
      if (verdict?.kind === 'conflict') {
        const letter = { source: 'log', event_id: event.event_id, payload: payloadText(record.value), errors: [conflictError(verdict.decided_hash, verdict.body_hash)] };
        results[i] = { kind: 'conflict', event_id: event.event_id, letter };
        continue;
      }
      const step = verdict?.kind === 'duplicate' ? null : this.tasks.step(event, record.partition);
      if (step === null) {
        results[i] = { kind: 'duplicate', event_id: event.event_id };
        continue;
      }
      events.push(event);
      vectors.push(step.vector);
      lateness.push(step);
      slots.push(i);
    }
    if (events.length === 0) return results;

    const { scores, scorer } = this.score(vectors, events);
    const engine = this.engine;
    const lists = this.lists;
    const ms = now();
    const decidedAt = { ms, iso: new Date(ms).toISOString() };
    // Scored once the decision time is read: the challenger adds nothing to a decision's recorded latency, and changes none.
    const shadow = this.shadowScores(vectors, events);
    for (let j = 0; j < events.length; j++) {
      const score = scores[j]!;
      const record = records[slots[j]!]!;
      const decision = engine.decide(
        { event: events[j]!, features: vectors[j]!, score: score.score, scoreReasons: score.reasons, modelVersion: scorer.version, degraded: scorer.degraded, late: lateness[j]!.late, acceptedAt: record.acceptedAt },
        decidedAt,
        lists,
      );
      const verdict = verdicts?.[slots[j]!];
      const body_hash = verdict?.kind === 'decide' ? verdict.body_hash : undefined;
      results[slots[j]!] = { kind: 'decided', event: events[j]!, decision, features: vectors[j]!, position: { partition: record.partition, offset: record.offset }, shadow: shadow?.[j], behindMs: lateness[j]!.behindMs, body_hash };
    }
    return results;
  }

  /** The challenger's scores for the batch; none without a challenger, or when it fails (reported). */
  private shadowScores(vectors: Float64Array[], events: RtdsEvent[]): ShadowScore[] | undefined {
    const challenger = this.challenger;
    if (challenger === null) return undefined;
    try {
      const version = challenger.version ?? 'rules';
      return challenger.scoreBatch(vectors, events).map((s) => ({ model_version: version, score: s.score }));
    } catch (err) {
      this.options.onChallengerError?.(challenger, err);
      return undefined;
    }
  }

  private score(vectors: Float64Array[], events: RtdsEvent[]): { scores: Score[]; scorer: Scorer } {
    for (const scorer of this.scorers) {
      try {
        return { scores: scorer.scoreBatch(vectors, events), scorer };
      } catch (err) {
        this.options.onScorerError?.(scorer, err);
      }
    }
    return { scores: SAFE_DEFAULT.scoreBatch(vectors), scorer: SAFE_DEFAULT };
  }
}
