// Replays a history through the processor's own partition step: the training matrix equals what runs online.
import type { RtdsEvent } from '../contracts/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { PartitionTask, type EventTimeOptions } from './partition-task.ts';

export interface ReplayedEvent {
  event: RtdsEvent;
  vector: Float64Array;
  late: boolean;
}

/**
 * Features of a history in arrival order with the same watermark and state as a partition task,
 * so a model learns from exactly the values it will see online. Re-sent events are skipped, as online.
 */
export function replayFeatures(events: Iterable<RtdsEvent>, features: FeatureSet, options: EventTimeOptions): ReplayedEvent[] {
  const task = new PartitionTask(features, options);
  const out: ReplayedEvent[] = [];
  for (const event of events) {
    const step = task.step(event);
    if (step !== null) out.push({ event, ...step });
  }
  return out;
}
