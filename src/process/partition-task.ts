// State owned by one partition — its watermark and its users' histories — and the step that advances it.
import type { RtdsEvent } from '../contracts/index.ts';
import { UserFeatures, type UserHistory } from '../features/index.ts';
import { InMemoryKeyValueStore } from './key-value-store.ts';
import { Watermark } from './watermark.ts';

export class PartitionTask {
  readonly watermark: Watermark;
  private readonly features: UserFeatures;
  /** Offset of the next record this state expects; any other means records were processed elsewhere. */
  nextOffset = 0;

  constructor(maxOutOfOrdernessMs: number, retentionMs: number) {
    this.watermark = new Watermark(maxOutOfOrdernessMs);
    this.features = new UserFeatures(new InMemoryKeyValueStore<UserHistory>(), retentionMs);
  }

  /**
   * Judge lateness against the watermark before the event moves it, then compute the event's
   * features. Null for a duplicate event id.
   */
  step(event: RtdsEvent): { vector: Float64Array; late: boolean } | null {
    const late = this.watermark.isLate(event.event_time);
    this.watermark.observe(event.event_time);
    const vector = this.features.extract(event, this.watermark.current);
    return vector === null ? null : { vector, late };
  }
}
