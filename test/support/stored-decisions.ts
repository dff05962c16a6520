// What tests check of a store after faults: waiting for its decision count, and its features against one uninterrupted replay.
import assert from 'node:assert/strict';
import { eventTimeOptions, type Config } from '../../src/config/index.ts';
import { validateEvent, type RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET, type FeatureSet } from '../../src/features/index.ts';
import { replayFeatures } from '../../src/process/index.ts';

type Query = (sql: string) => Promise<{ n: number }[]>;

/** Poll the store until its decision count satisfies `done` (a condition, not a fixed sleep), failing after `ms`. */
export async function decisionsUntil(query: Query, done: (decisions: number) => boolean, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [row] = await query('SELECT count(*)::int AS n FROM decisions');
    if (done(row!.n)) return row!.n;
    if (Date.now() > deadline) throw new Error(`store has ${row!.n} decisions after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A stored decision's features and where its event sat in the log, in log order. */
export interface StoredFeatures {
  event_id: string;
  log_partition: number;
  features: Uint8Array;
}

/**
 * Positions of the features the user stage computes, and of the expressions reading only those:
 * what a replay of one log partition can reproduce. A merchant's, device's or address's features
 * see every partition's events, in the order their stages met them (docs/features.md, "Entities
 * and stages"); test/kafka/entity-stages.test.ts checks those against their stages' inputs.
 */
export function userStageIndices(set: FeatureSet): number[] {
  return set.names.flatMap((name, i) => (set.stageOf(name) === 0 ? [i] : []));
}

/**
 * Assert every stored feature vector equals what one fresh task computes replaying its
 * partition's events in offset order, in every feature of the user stage: the state a fault
 * interrupted came back exactly. Returns the partitions seen.
 */
export function assertFeaturesAsOneReplay(rows: readonly StoredFeatures[], inputs: ReadonlyMap<string, unknown>, config: Config): number {
  const partitions = new Map<number, RtdsEvent[]>();
  for (const r of rows) {
    const checked = validateEvent(inputs.get(r.event_id));
    assert.ok(checked.ok, r.event_id);
    const list = partitions.get(r.log_partition) ?? [];
    list.push(checked.event);
    partitions.set(r.log_partition, list);
  }
  const stored = new Map(rows.map((r) => [r.event_id, new Float32Array(new Uint8Array(r.features).buffer)]));
  const user = userStageIndices(DEFAULT_FEATURE_SET);
  let compared = 0;
  for (const events of partitions.values()) {
    for (const { event, vector } of replayFeatures(events, DEFAULT_FEATURE_SET, eventTimeOptions(config), 1)) {
      const got = stored.get(event.event_id)!;
      assert.deepEqual(
        user.map((i) => got[i]),
        user.map((i) => Math.fround(vector[i]!)),
        `user-stage features of ${event.event_id}`,
      );
      compared++;
    }
  }
  assert.equal(compared, rows.length, 'every stored decision compared');
  return partitions.size;
}
