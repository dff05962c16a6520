// Replays a history through the processor's own partition step: the training matrix equals what runs online.
import type { Label, RtdsEvent } from '../contracts/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { partitionFor } from '../transport/log.ts';
import type { EventTimeOptions } from './partition-task.ts';
import { StageTasks } from './stage-tasks.ts';

export interface ReplayedEvent {
  event: RtdsEvent;
  vector: Float64Array;
  late: boolean;
}

/** Epoch ms of a label's `labeled_at`; a label without one is known from its event's time. */
export function labelKnownAt(label: Label, event: RtdsEvent): number {
  return label.labeled_at === undefined ? event.event_time : typeof label.labeled_at === 'number' ? label.labeled_at : Date.parse(label.labeled_at);
}

/** How often a replay reports progress: a call per this many events costs nothing next to their features. */
const REPLAY_PROGRESS_EVERY = 4096;
/** How often a yielding replay lets the event loop run: a few ms of feature steps on a quiet core. */
const YIELD_EVERY = 256;

/**
 * Features of a history in arrival order with the same watermarks and state as the processor,
 * so a model learns from exactly the values it will see online: events pass through every stage
 * of the feature set's topology (StageTasks), the user stage partitioned into `partitions` by user
 * as the log groups them and every other stage by its own entity, as online. Re-sent events are
 * skipped, as online. Each event's label (by event id) is handed over once the event is
 * processed, as online, and label-driven features count it from its `labeled_at` on: the label
 * delay is honoured. `onProgress` hears the count of events processed every few thousand events.
 * The stages' state starts from and is left in `tasks` (default: a fresh one), for a later replay
 * or a pipeline to continue.
 */
export function replayFeatures(
  events: Iterable<RtdsEvent>,
  features: FeatureSet,
  options: EventTimeOptions,
  partitions: number,
  labels?: ReadonlyMap<string, Label>,
  onProgress?: (processed: number) => void,
  tasks = new StageTasks(features, options, partitions),
): ReplayedEvent[] {
  const out: ReplayedEvent[] = [];
  for (const processed of replaySteps(events, tasks, partitions, labels, (row) => out.push(row), REPLAY_PROGRESS_EVERY)) onProgress?.(processed);
  return out;
}

/**
 * replayFeatures, letting the event loop run between every few thousand events: a process that
 * serves while it replays (the first start's HTTP port, while its model trains) keeps answering.
 */
export async function replayFeaturesYielding(
  ...[events, features, options, partitions, labels, onProgress, tasks = new StageTasks(features, options, partitions)]: Parameters<typeof replayFeatures>
): Promise<ReplayedEvent[]> {
  const out: ReplayedEvent[] = [];
  const pause = async (processed: number): Promise<void> => {
    if (processed % REPLAY_PROGRESS_EVERY === 0) onProgress?.(processed);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  await streamFeatures(events, features, options, partitions, labels, (row) => out.push(row), pause, tasks);
  return out;
}

/**
 * replayFeatures handing each row to `onRow` as it is computed and holding none: a matrix as
 * large as its history (44 numbers a row) need not fit in memory beside it. Every few hundred
 * events it awaits `pause` with the count processed (a write of the rows so far, which waits for
 * a slow reader). The stages' state starts from and is left in `tasks`, as replayFeatures'.
 */
export async function streamFeatures(
  events: Iterable<RtdsEvent>,
  features: FeatureSet,
  options: EventTimeOptions,
  partitions: number,
  labels: ReadonlyMap<string, Label> | undefined,
  onRow: (row: ReplayedEvent) => void,
  pause: (processed: number) => Promise<void>,
  tasks = new StageTasks(features, options, partitions),
): Promise<void> {
  for (const processed of replaySteps(events, tasks, partitions, labels, onRow, YIELD_EVERY)) await pause(processed);
}

/** The replay, each row to `onRow`, pausing with the count processed every `every` events. */
function* replaySteps(events: Iterable<RtdsEvent>, tasks: StageTasks, partitions: number, labels: ReadonlyMap<string, Label> | undefined, onRow: (row: ReplayedEvent) => void, every: number): Generator<number> {
  let processed = 0;
  for (const event of events) {
    if (processed > 0 && processed % every === 0) yield processed;
    processed++;
    const partition = partitions === 1 ? 0 : partitionFor(event.user_id, partitions);
    const step = tasks.step(event, partition);
    if (step === null) continue;
    onRow({ event, vector: step.vector, late: step.late });
    const label = labels?.get(event.event_id);
    if (label !== undefined) tasks.label({ event, is_fraud: label.is_fraud, labeled_at: labelKnownAt(label, event) }, partition);
  }
}
