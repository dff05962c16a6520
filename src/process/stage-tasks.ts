// Every stage's partitions in one process: an event passes through each stage in turn, its state keyed and partitioned by the stage's entity.
import type { LabelledEvent, RtdsEvent } from '../contracts/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { partitionFor } from '../transport/log.ts';
import { joinStep, PartitionTask, type EventTimeOptions, type StageStep } from './partition-task.ts';

/** An event's features from every stage, and how late it was where it was latest. */
export interface ComputedFeatures {
  vector: Float64Array;
  /** Too late to join the windows of at least one stage (the decision says `late`). */
  late: boolean;
  /** The most it was behind a watermark past the allowed lateness (ms, event time); 0 when on time everywhere. */
  behindMs: number;
}

/**
 * The topology's state held in one process: for each stage, its partitions' tasks. The user stage
 * is partitioned like the events log; every other stage by its own key (`partitionFor` of the
 * merchant, the device…), so an entity's state is whole in one partition whichever user partition
 * its events come from. The embedded processor and training replays run an event through every
 * stage at once here; on Kafka each stage runs in the processors that own its partitions, and the
 * event travels between them through repartition topics (docs/features.md).
 */
export class StageTasks {
  private readonly byStage: Map<number, PartitionTask>[];
  /** The key `keyedFrom` last found: a field, not a pair returned, since it runs per event and stage. */
  private foundKey = '';

  constructor(
    private readonly features: FeatureSet,
    private readonly options: EventTimeOptions,
    /** Partitions of each stage: the events log's count. */
    private readonly partitions: number,
    /**
     * Whether this process holds every partition of every stage (the embedded log, a replay), or
     * only those assigned to it (Kafka, stages apart): then a verdict reaches only tasks it holds.
     */
    private readonly holds: 'all' | 'assigned' = 'all',
  ) {
    this.byStage = features.stages.map(() => new Map());
  }

  /** The user stage's task of a log partition, when this process holds it. */
  source(partition: number): PartitionTask | undefined {
    return this.byStage[0]!.get(partition);
  }

  /**
   * One stage's step of an event in the partition that holds its entity (Kafka: the partition of
   * the stage's input topic). Null for a re-send (user stage).
   */
  stepStage(stage: number, partition: number, event: RtdsEvent, vector: Float64Array): StageStep | null {
    return this.task(stage, partition).step(event, vector);
  }

  /** Whether stage `stage`'s state of `partition` is missing or stale for a batch starting at `offset`. */
  needsRestore(stage: number, partition: number, offset: number): boolean {
    return this.byStage[stage]!.get(partition)?.nextOffset !== offset;
  }

  /** Record that stage `stage`'s `partition` has processed up to `offset` (exclusive). */
  processedTo(stage: number, partition: number, offset: number): void {
    this.task(stage, partition).nextOffset = offset;
  }

  /**
   * Rebuild stage `stage`'s state of `partition` from its history (its events in the order the
   * stage processed them, then their verdicts); it then expects `nextOffset`. Returns the events replayed.
   */
  restoreStage(stage: number, partition: number, events: Iterable<RtdsEvent>, verdicts: Iterable<LabelledEvent>, nextOffset: number): number {
    const task = this.newTask(stage);
    const scratch = new Float64Array(this.features.names.length);
    let n = 0;
    for (const event of events) {
      task.step(event, scratch);
      n++;
    }
    for (const verdict of verdicts) task.label(verdict);
    task.nextOffset = nextOffset;
    this.byStage[stage]!.set(partition, task);
    return n;
  }

  /** Partition of stage `stage` holding the event's entity; undefined when the event lacks the key. */
  private partitionOf(stage: number, event: RtdsEvent): number | undefined {
    const key = this.features.stageKey(stage, event);
    return key === undefined ? undefined : this.partitionOfKey(key);
  }

  private partitionOfKey(key: string): number {
    return this.partitions === 1 ? 0 : partitionFor(key, this.partitions);
  }

  /**
   * The stage after `after` that holds the event's entity, with its key and partition: the stages
   * between, whose key the event lacks (no device, say), take their defaults. Undefined when none
   * is left: the vector is then complete, derived features included (`unknown`: some feature so
   * far read history no longer held).
   */
  nextStage(after: number, event: RtdsEvent, vector: Float64Array, unknown: boolean): { stage: number; key: string; partition: number } | undefined {
    const stage = this.keyedFrom(after + 1, event, vector, unknown);
    if (stage === undefined) return undefined;
    const key = this.foundKey;
    return { stage, key, partition: this.partitionOfKey(key) };
  }

  /**
   * The first stage from `from` on whose key the event has, the key left in `foundKey`; those
   * skipped take their defaults, and past the last the vector is derived.
   */
  private keyedFrom(from: number, event: RtdsEvent, vector: Float64Array, unknown: boolean): number | undefined {
    for (let s = from; s < this.byStage.length; s++) {
      const key = this.features.stageKey(s, event);
      if (key !== undefined) {
        this.foundKey = key;
        return s;
      }
      this.features.stageDefaults(s, vector);
    }
    this.features.derive(event, vector, unknown);
    return undefined;
  }

  /**
   * The event through every stage: the user stage of its log `partition` first (null there for a
   * re-sent id, which then reaches no other stage), then each entity stage's partition of its
   * key. Each stage judges lateness by its own partition's watermark. The features are written
   * into `vector` when given (as long as the set's names), else into a new one.
   */
  step(event: RtdsEvent, partition: number, vector = new Float64Array(this.features.names.length)): ComputedFeatures | null {
    const met = { vector, late: false, behindMs: 0, unknown: false };
    return this.stepInto(event, partition, vector, met) ? met : null;
  }

  /**
   * `step` without an object of its own: the features into `vector`, how late the event was and
   * whether a feature is unknown into `met` (a carried event, say). False for a re-sent id.
   */
  stepInto(event: RtdsEvent, partition: number, vector: Float64Array, met: StageStep): boolean {
    const first = this.task(0, partition).step(event, vector);
    if (first === null) return false;
    met.late = first.late;
    met.behindMs = first.behindMs;
    met.unknown = first.unknown;
    // nextStage's walk, without its object per stage. Every record reaches a later stage once
    // here: only the user stage can see an id again.
    for (let s = this.keyedFrom(1, event, vector, met.unknown); s !== undefined; s = this.keyedFrom(s + 1, event, vector, met.unknown)) {
      joinStep(met, this.task(s, this.partitionOfKey(this.foundKey)).step(event, vector)!);
    }
    return true;
  }

  /**
   * A verdict on an event processed here, for every stage whose features count labels: the user
   * stage's task of its log `partition` (undefined: not known here), and each later stage's task of
   * the event's entity. False when no task held here took it: the instance that holds them reads
   * the verdict from the store when it restores them.
   */
  label(verdict: LabelledEvent, partition: number | undefined): boolean {
    const source = partition === undefined ? undefined : this.source(partition);
    source?.label(verdict);
    let taken = source !== undefined;
    for (let s = 1; s < this.byStage.length; s++) {
      if (!this.features.stages[s]!.usesLabels) continue;
      const p = this.partitionOf(s, verdict.event);
      if (p === undefined) continue;
      const task = this.holds === 'all' ? this.task(s, p) : this.byStage[s]!.get(p);
      task?.label(verdict);
      taken ||= task !== undefined;
    }
    return taken;
  }

  /** Entities, approximate bytes (sampled) and event ids over every stage's partitions. */
  size(sample?: number): { entities: number; bytes: number; eventIds: number } {
    const total = { entities: 0, bytes: 0, eventIds: 0 };
    for (const tasks of this.byStage)
      for (const task of tasks.values()) {
        const s = task.size(sample);
        total.entities += s.entities;
        total.bytes += s.bytes;
        total.eventIds += s.eventIds;
      }
    return total;
  }

  private task(stage: number, partition: number): PartitionTask {
    const tasks = this.byStage[stage]!;
    let task = tasks.get(partition);
    if (task === undefined) tasks.set(partition, (task = this.newTask(stage)));
    return task;
  }

  /**
   * A later stage of a process holding every stage is fed by the user stage's `step` here, which
   * lets each event id through once: it keeps no ids. Held apart (Kafka), every stage keeps them,
   * to skip a record its input topic delivers twice.
   */
  private newTask(stage: number): PartitionTask {
    return new PartitionTask(this.features, this.options, stage, stage === 0 || this.holds === 'assigned');
  }
}
