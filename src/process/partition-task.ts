// State owned by one partition — its watermark, feature state and recent event ids — and the step that advances it.
import type { LabelledEvent, RtdsEvent } from '../contracts/index.ts';
import type { FeatureSet, FeatureState } from '../features/index.ts';
import { RecentEventIds } from './recent-event-ids.ts';
import { Watermark } from './watermark.ts';

export interface EventTimeOptions {
  /** Watermark = max event time seen − this bound. */
  maxOutOfOrdernessMs: number;
  /** How far behind the watermark an event may be and still join its windows (Flink's allowed lateness). */
  allowedLatenessMs: number;
  /**
   * How long (event time) state is kept past the allowed lateness, so that a later event still
   * reads complete windows as of its own time; default 0.
   */
  lateHistoryMs?: number;
  /**
   * How far behind the latest event a stage past the user's may see an on-time event: fed by every
   * user partition, which progress unevenly. Its watermark trails by this much more; default 0.
   */
  stageSkewMs?: number;
  /** How long (event time) ids are remembered to skip re-sent events. */
  dedupeWindowMs: number;
}

/** What a stage's step says of an event besides its features. */
export interface StageStep {
  /** Behind this partition's watermark by more than the allowed lateness: it joined none of the stage's windows. */
  late: boolean;
  /** How far (ms, event time) behind the watermark it was, when late; else 0. */
  behindMs: number;
  /** Some of the stage's features read history no longer held (NaN). */
  unknown: boolean;
}

/** Fold a stage's step into what an event has met so far: late or unknown in any stage is late or unknown for the decision. */
export function joinStep(into: StageStep, step: StageStep): void {
  into.late ||= step.late;
  into.behindMs = Math.max(into.behindMs, step.behindMs);
  into.unknown ||= step.unknown;
}

/**
 * The state of one partition of one stage of the topology (see FeatureSet.stages): its watermark,
 * its share of the keyed feature state, and the event ids it has counted recently. The user stage
 * skips re-sent ids; a later stage skips a record its input topic delivered twice (on Kafka, a
 * record of an aborted transaction that the client lets through, then the committed one: see
 * docs/features.md), so an event counts once in every stage's state. A later stage fed straight
 * by the user stage in the same process (`remembersIds` false) sees each record once, and keeps no ids.
 */
export class PartitionTask {
  readonly watermark: Watermark;
  private readonly state: FeatureState;
  private readonly recent: RecentEventIds | undefined;
  /** Handed to the feature step, which reads it at once: one object per task, not per event. */
  private readonly timing = { tooLate: false, earliest: 0 };
  /** What `step` returns: one object per task, overwritten by its next step. */
  private readonly met: StageStep = { late: false, behindMs: 0, unknown: false };
  /** Offset of the next record this state expects; any other means records were processed elsewhere. */
  nextOffset = 0;

  constructor(
    private readonly features: FeatureSet,
    private readonly options: EventTimeOptions,
    readonly stage = 0,
    remembersIds = true,
  ) {
    // A later stage's events come from every user partition, at their uneven paces.
    this.watermark = new Watermark(options.maxOutOfOrdernessMs + (stage === 0 ? 0 : (options.stageSkewMs ?? 0)));
    this.state = features.newState();
    this.recent = remembersIds ? new RecentEventIds(options.dedupeWindowMs) : undefined;
  }

  /**
   * Judge lateness against the watermark before the event moves it, then compute the stage's
   * features of the event into `v`. Null for an event id seen recently (a re-send, or a record delivered twice). `late`: behind the
   * watermark by more than the allowed lateness — the event reads the windows it would have had
   * at its own time (from the state kept for `lateHistoryMs` more; older history reads as
   * unknown, NaN), but joins none. The step returned is this task's own, valid until its next step.
   */
  step(event: RtdsEvent, v: Float64Array): StageStep | null {
    const t = event.event_time;
    const behindMs = this.watermark.current - t;
    const admitted = this.watermark.current - this.options.allowedLatenessMs;
    const late = t < admitted;
    // A late event's id is remembered from the time it arrives (in event time), not from its own
    // time: the window of its own time may be long gone, and a re-send must still be known.
    if (this.recent?.seen(event.event_id, late ? admitted : t) === true) return null;
    this.watermark.observe(t);
    const earliest = this.watermark.current - this.options.allowedLatenessMs;
    const timing = this.timing;
    timing.tooLate = late;
    timing.earliest = earliest - (this.options.lateHistoryMs ?? 0);
    const unknown = this.features.computeStage(this.stage, this.state, event, timing, v);
    this.recent?.evict(earliest);
    const met = this.met;
    met.late = late;
    met.behindMs = late ? behindMs : 0;
    met.unknown = unknown;
    return met;
  }

  /** A label of an event this partition has processed: label-driven features count it from its `labeled_at` on. */
  label(label: LabelledEvent): void {
    this.features.label(this.state, label);
  }

  /** Entities in the feature state, their approximate bytes (from a sample when given), and event ids remembered. */
  size(sample?: number): { entities: number; bytes: number; eventIds: number } {
    return { ...this.state.size(sample), eventIds: this.recent?.size ?? 0 };
  }
}
