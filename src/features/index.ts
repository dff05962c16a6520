// Features stage: reads and updates per-user state to turn an event into its feature vector.
import type { RtdsEvent } from '../contracts/index.ts';
import { UserHistory } from './user-history.ts';
import { computeFeatures } from './vector.ts';

export { FEATURES, FEATURE_NAMES, FEATURE_SET_VERSION, featureIndex, type FeatureColumn, type Transform } from './vector.ts';
export { FeatureSet, FeatureState, type EventTiming } from './feature-set.ts';
export { AGGREGATIONS, FeatureSpecError, parseDuration, parseFeatureSpecs, parseFeatureSpecText, type AggregateFeatureSpec, type Aggregation, type DerivedFeatureSpec, type FeatureSpec, type WindowSpec } from './spec.ts';
export { UserHistory } from './user-history.ts';

/** Where the runtime keeps user histories; the features stage only gets and puts by key. */
export interface HistoryStore {
  get(userId: string): UserHistory | undefined;
  put(userId: string, history: UserHistory): void;
}

export class UserFeatures {
  constructor(
    private readonly store: HistoryStore,
    private readonly retentionMs: number,
  ) {}

  /**
   * The event's features, then the event joins its user's history. Returns null for an event id
   * already in the user's retained history, so a re-sent event neither counts twice nor gets
   * a second decision.
   */
  extract(event: RtdsEvent, watermark: number): Float64Array | null {
    let history = this.store.get(event.user_id);
    if (history === undefined) {
      history = new UserHistory();
      this.store.put(event.user_id, history);
    } else if (history.has(event.event_id)) {
      return null;
    }
    const vector = computeFeatures(history, event);
    history.add(event);
    history.evict(watermark - this.retentionMs);
    return vector;
  }
}
