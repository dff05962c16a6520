// The pipeline core, free of I/O: validate → features (stage by stage) → score → decide for a micro-batch.
import { conflictError, payloadText, validateEvent, validateTimeAgain, type Decision, type LabelledEvent, type RtdsEvent, type ShadowScore, type ValidationOptions } from '../contracts/index.ts';
import { Watchlists, type DecisionEngine } from '../decide/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { DeadLetter } from '../store/index.ts';
import type { Scorer, Score } from '../score/scorer.ts';
import { SafeDefaultScorer } from '../score/safe-default-scorer.ts';
import { CircuitBreaker, type BreakerState } from '../score/circuit-breaker.ts';
import { epochMs, partitionFor, UndecodableRecord, type LogPosition, type LogRecord } from '../transport/log.ts';
import { joinStep, type EventTimeOptions } from './partition-task.ts';
import { StageTasks } from './stage-tasks.ts';
import { CarriedEventError, decodeCarried, type CarriedEvent } from './carried-event.ts';
import type { LocalSpan } from '../observe/tracing/index.ts';
import type { StepTimes } from './step-times.ts';

/** A result's processing span, set by a traced runtime after the pipeline made it. */
interface Traced {
  trace?: LocalSpan | undefined;
}

/** A decided event: its decision, the features it was made from, where it sits in the log, and the challenger's score if one runs. */
export interface Decided extends Traced {
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
  /** The stage whose batch decided it: past the first, its event row was stored by the first. */
  stage: number;
}

/** An event passed on to stage `stage` (on Kafka through its repartition topic, keyed by `key`, in partition `partition`). */
export interface Forwarded extends Traced {
  kind: 'forward';
  stage: number;
  key: string;
  partition: number;
  carried: CarriedEvent;
  /** The stage it comes from: the first stores its event row. */
  from: number;
}

/** A re-send of an event id with another body than the one holding it: dead-lettered with both hashes, never decided. */
export interface Conflict extends Traced {
  kind: 'conflict';
  event_id: string;
  letter: DeadLetter;
}

export type PipelineResult = Decided | Forwarded | Conflict | ({ kind: 'dead_letter'; letter: DeadLetter } & Traced) | ({ kind: 'duplicate'; event_id: string } & Traced);

/**
 * What the claim on its event id says of a valid record: decide it (it holds the id; its body
 * hashes to `body_hash`), skip it (a re-send of the body holding the id), or refuse it (a re-send
 * with another body).
 */
export type ClaimVerdict = { kind: 'decide'; body_hash: string } | { kind: 'duplicate' } | { kind: 'conflict'; decided_hash: string; body_hash: string };

/** A micro-batch validated, its state untouched: each record's event, or its dead letter already among the results. */
export interface AdmittedBatch {
  /** The stage whose input the records are: 0 the events log, past it a repartition topic. */
  readonly stage: number;
  readonly records: readonly LogRecord[];
  /** Per record: its event, when valid. */
  readonly events: readonly (RtdsEvent | undefined)[];
  /** Per record of a later stage: what it carries from the stages before. */
  readonly carried: readonly (CarriedEvent | undefined)[] | undefined;
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
  /**
   * Whether the topology's stages run apart (Kafka: each in the processors its partitions are
   * assigned to, an event passed on through repartition topics) rather than all at once here.
   */
  distributed?: boolean;
  /** Event types and live time bounds the log's records are validated against. */
  validation?: Omit<ValidationOptions, 'now'>;
  /** Called when a scorer fails and the ladder steps down. */
  onScorerError?: (scorer: Scorer, err: unknown) => void;
  /** Called when the challenger fails on a batch: its scores are missing there, the decisions stand. */
  onChallengerError?: (challenger: Scorer, err: unknown) => void;
}

const SAFE_DEFAULT = new SafeDefaultScorer();
const circuitOf = (scorer: Scorer | undefined): BreakerState | null => (scorer instanceof CircuitBreaker ? scorer.state : null);
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
    this.tasks = new StageTasks(options.features, options.eventTime, options.partitions ?? 1, options.distributed === true ? 'assigned' : 'all');
  }

  get modelVersion(): string | null {
    return this.scorers[0]?.version ?? null;
  }

  /** The served model's circuit; null when no model is served (rules only). */
  get modelCircuit(): BreakerState | null {
    return circuitOf(this.scorers[0]);
  }

  /** The challenger's circuit; null without a challenger. */
  get challengerCircuit(): BreakerState | null {
    return circuitOf(this.challenger ?? undefined);
  }

  /** How far behind a partition's latest event its history still changes a value: what a restore replays. */
  get restoreReachMs(): number {
    const { maxOutOfOrdernessMs, allowedLatenessMs, lateHistoryMs = 0, stageSkewMs = 0, dedupeWindowMs } = this.options.eventTime;
    const skew = this.options.features.stages.length > 1 ? stageSkewMs : 0;
    return maxOutOfOrdernessMs + skew + allowedLatenessMs + Math.max(lateHistoryMs + this.options.features.reachMs, dedupeWindowMs);
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

  /** Whether stage `stage`'s state of `partition` is missing or stale for a batch starting at `offset`. */
  needsRestore(partition: number, offset: number, stage = 0): boolean {
    return this.tasks.needsRestore(stage, partition, offset);
  }

  /**
   * Rebuild stage `stage`'s state of a partition from its history (every event it processed
   * before `nextOffset`, in that order, then their verdicts) — the same steps that built it
   * online, so features continue exactly. A verdict counts from its `labeled_at` on, so handing
   * them over after the events changes no value read after the restore.
   */
  restore(partition: number, history: PartitionHistory, nextOffset: number, stage = 0): number {
    return this.tasks.restoreStage(stage, partition, history.events, history.verdicts, nextOffset);
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
    // The vectors are not kept: one scratch for all, as restoreStage does.
    const scratch = new Float64Array(this.options.features.names.length);
    let n = 0;
    for (const event of history.events) {
      tasks.step(event, partitionOf(event), scratch);
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
   * A verdict on an event decided from log `partition` (undefined when not known here), for the
   * label-driven features of every stage held here. False when none holds the event's state: the
   * instance that restores it reads the verdict from the store.
   */
  label(partition: number | undefined, verdict: LabelledEvent): boolean {
    return this.tasks.label(verdict, partition);
  }

  /** Process records in offset order per partition; every record yields exactly one result. */
  processBatch(records: readonly LogRecord[], now: () => number = epochMs): PipelineResult[] {
    return this.decide(this.admit(records), undefined, now);
  }

  /**
   * Validate records of stage `stage`'s input: the first half of a micro-batch, before the runtime
   * claims its event ids. The events log's records are validated (they come from outside) — those
   * the embedded log carries validated by their edge only for their time, which is judged as of
   * their reading; a repartition topic's are only decoded (RTDS wrote them, from validated events).
   */
  admit(records: readonly LogRecord[], stage = 0): AdmittedBatch {
    const results: PipelineResult[] = new Array(records.length);
    const events: (RtdsEvent | undefined)[] = new Array(records.length);
    if (stage > 0) {
      const carried: (CarriedEvent | undefined)[] = new Array(records.length);
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        try {
          if (record.value instanceof UndecodableRecord) throw new CarriedEventError(record.value.reason);
          const c = (carried[i] = decodeCarried(record.value, this.options.features.names.length));
          events[i] = c.event;
        } catch (err) {
          if (!(err instanceof CarriedEventError)) throw err;
          const payload = record.value instanceof UndecodableRecord ? record.value.text : payloadText(record.value);
          results[i] = { kind: 'dead_letter', letter: { source: 'log', payload, errors: [{ field: '(repartition record)', reason: err.message }] } };
        }
      }
      return { stage, records, events, carried, results };
    }
    // An event without a timestamp takes the time its record was accepted: persisted with the record, so a re-read decides alike.
    const validation: ValidationOptions = { ...this.options.validation, receivedAt: undefined };
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.value instanceof UndecodableRecord) {
        results[i] = { kind: 'dead_letter', letter: { source: 'log', payload: record.value.text, errors: [{ field: '(record)', reason: record.value.reason }] } };
        continue;
      }
      validation.receivedAt = record.acceptedAt;
      const checked = record.validated === undefined ? validateEvent(record.value, validation) : validateTimeAgain(record.validated.event, validation);
      if (checked.ok) events[i] = checked.event;
      else results[i] = { kind: 'dead_letter', letter: { source: 'log', event_id: checked.event_id, payload: payloadText(record.value), errors: checked.errors } };
    }
    return { stage: 0, records, events, carried: undefined, results };
  }

  /**
   * Decide admitted records, each as its claim's verdict says (without verdicts, every valid one):
   * a duplicate or a conflict becomes its result without entering the state, so a re-send counts
   * in no feature whichever partition it reached. With the stages run here, each event passes
   * through all of them and is decided; with stages apart, through this batch's stage, then it is
   * passed on to the next stage that has its key, or decided when none is left. `times`, when
   * given, receives when each step ran (tracing).
   */
  decide(admitted: AdmittedBatch, verdicts?: readonly (ClaimVerdict | undefined)[], now: () => number = epochMs, times?: StepTimes): PipelineResult[] {
    const { records, results, stage } = admitted;
    const distributed = this.options.distributed === true;
    // The batch's vectors are views into one buffer (stages here), not an array allocated per event.
    const width = this.options.features.names.length;
    const slab = distributed ? undefined : new Float64Array(records.length * width);
    const ready: CarriedEvent[] = [];
    const slots: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      this.tasks.processedTo(stage, record.partition, record.offset + 1);
      const event = admitted.events[i];
      if (event === undefined) continue;
      const verdict = verdicts?.[i];
      if (verdict?.kind === 'conflict') {
        const letter = { source: 'log', event_id: event.event_id, payload: payloadText(record.value), errors: [conflictError(verdict.decided_hash, verdict.body_hash)] };
        results[i] = { kind: 'conflict', event_id: event.event_id, letter };
        continue;
      }
      if (verdict?.kind === 'duplicate') {
        results[i] = { kind: 'duplicate', event_id: event.event_id };
        continue;
      }
      const began = times === undefined ? 0 : epochMs();
      const carried = slab === undefined ? this.stepHere(stage, record, event, admitted.carried?.[i], verdict) : this.stepAll(record, event, verdict, slab.subarray(i * width, (i + 1) * width));
      if (times !== undefined) {
        times.features[2 * i] = began;
        times.features[2 * i + 1] = epochMs();
      }
      if (carried === null) {
        results[i] = { kind: 'duplicate', event_id: event.event_id };
        continue;
      }
      const next = distributed ? this.tasks.nextStage(stage, event, carried.vector, carried.unknown) : undefined;
      if (next !== undefined) {
        results[i] = { kind: 'forward', ...next, carried, from: stage };
        continue;
      }
      ready.push(carried);
      slots.push(i);
    }
    if (ready.length === 0) return results;

    const vectors = ready.map((c) => c.vector);
    const events = ready.map((c) => c.event);
    if (times !== undefined) times.scoreStart = epochMs();
    const { scores, scorer } = this.score(vectors, events);
    if (times !== undefined) times.scoreEnd = epochMs();
    const engine = this.engine;
    const lists = this.lists;
    const ms = now();
    const decidedAt = { ms, iso: new Date(ms).toISOString() };
    // Scored once the decision time is read: the challenger adds nothing to a decision's recorded latency, and changes none.
    const shadow = this.shadowScores(vectors, events);
    for (let j = 0; j < ready.length; j++) {
      const score = scores[j]!;
      const c = ready[j]!;
      const slot = slots[j]!;
      if (times !== undefined) times.decide[2 * slot] = epochMs();
      const decision = engine.decide(
        { event: c.event, features: c.vector, score: score.score, scoreReasons: score.reasons, modelVersion: scorer.version, degraded: scorer.degraded, late: c.late, acceptedAt: c.acceptedAt },
        decidedAt,
        lists,
      );
      if (times !== undefined) times.decide[2 * slot + 1] = epochMs();
      results[slot] = { kind: 'decided', event: c.event, decision, features: c.vector, position: c.position, shadow: shadow?.[j], behindMs: c.behindMs, body_hash: c.body_hash, stage };
    }
    return results;
  }

  /** Every stage of the event, here, its features into `vector`: null for a re-send. */
  private stepAll(record: LogRecord, event: RtdsEvent, verdict: ClaimVerdict | undefined, vector: Float64Array): CarriedEvent | null {
    const body_hash = verdict?.kind === 'decide' ? verdict.body_hash : undefined;
    const c: CarriedEvent = { event, vector, late: false, behindMs: 0, unknown: false, body_hash, position: { partition: record.partition, offset: record.offset }, acceptedAt: record.acceptedAt };
    return this.tasks.stepInto(event, record.partition, vector, c) ? c : null;
  }

  /** This batch's stage of the event (stages apart): null for a re-send. */
  private stepHere(stage: number, record: LogRecord, event: RtdsEvent, carried: CarriedEvent | undefined, verdict: ClaimVerdict | undefined): CarriedEvent | null {
    const c: CarriedEvent = carried ?? {
      event,
      vector: new Float64Array(this.options.features.names.length),
      late: false,
      behindMs: 0,
      unknown: false,
      body_hash: verdict?.kind === 'decide' ? verdict.body_hash : undefined,
      position: { partition: record.partition, offset: record.offset },
      acceptedAt: record.acceptedAt,
    };
    const step = this.tasks.stepStage(stage, record.partition, event, c.vector);
    if (step === null) return null;
    joinStep(c, step);
    return c;
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
