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
  /** How long (event time) ids are remembered to skip re-sent events. */
  dedupeWindowMs: number;
}

export class PartitionTask {
  readonly watermark: Watermark;
  private readonly state: FeatureState;
  private readonly recent: RecentEventIds;
  /** Offset of the next record this state expects; any other means records were processed elsewhere. */
  nextOffset = 0;

  constructor(
    private readonly features: FeatureSet,
    private readonly options: EventTimeOptions,
  ) {
    this.watermark = new Watermark(options.maxOutOfOrdernessMs);
    this.state = features.newState();
    this.recent = new RecentEventIds(options.dedupeWindowMs);
  }

  /**
   * Judge lateness against the watermark before the event moves it, then compute the event's
   * features. Null for a re-sent event id. `late`: behind the watermark by more than the allowed
   * lateness — the event is decided, but joins no window and goes to the late side output.
   */
  step(event: RtdsEvent): { vector: Float64Array; late: boolean } | null {
    const late = event.event_time < this.watermark.current - this.options.allowedLatenessMs;
    if (this.recent.seen(event.event_id, event.event_time)) return null;
    this.watermark.observe(event.event_time);
    const earliest = this.watermark.current - this.options.allowedLatenessMs;
    const vector = this.features.compute(this.state, event, { tooLate: late, earliest });
    this.recent.evict(earliest);
    return { vector, late };
  }

  /** A label of an event this partition has processed: label-driven features count it from its `labeled_at` on. */
  label(label: LabelledEvent): void {
    this.features.label(this.state, label);
  }

  /** Entities in the feature state, their approximate bytes (from a sample when given), and event ids remembered. */
  size(sample?: number): { entities: number; bytes: number; eventIds: number } {
    return { ...this.state.size(sample), eventIds: this.recent.size };
  }
}
