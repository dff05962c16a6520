import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TrafficGenerator } from '../../src/ingest/generator/index.ts';
import { openProcessorGroup, produceEvents, type ProcessorGroup } from '../support/kafka.ts';

const PARTITIONS = 4;
const WAVE = 1500;
const WAVES = 3;

/** The user and a merchant: two stages, the merchant's input a repartition topic written in transactions. */
const SPECS = `
features:
  - { name: user_count_1h, entity: user_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
  - { name: merchant_count_1h, entity: merchant_id, window: { kind: hopping, size: 1h, hop: 5m }, aggregate: count }
`;

// Each committed transaction leaves a marker in the repartition topic, so a later stage's next
// batch starts one offset past where its state stands although it missed nothing. Taking that gap
// for records processed elsewhere rebuilt the partition from its topic on every batch: work growing
// with the topic's length, for nothing.
describe('a later stage reading its transactional input keeps its state from batch to batch', () => {
  let skip: string | undefined;
  let group: ProcessorGroup;

  before(async () => {
    const opened = await openProcessorGroup(PARTITIONS, 0, 0, SPECS);
    if ('skip' in opened) return void (skip = opened.skip);
    group = opened;
  });
  after(async () => {
    if (skip === undefined) await group.close();
  });

  it('rebuilds each merchant partition once, when first seen and empty, however many transactions follow', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const { log } = await group.start('a');
    // One generator across the waves, so every wave continues the event time of the one before.
    const generator = new TrafficGenerator({ seed: 41, users: 400 });
    for (let wave = 1; wave <= WAVES; wave++) {
      // A wave is produced once the one before is decided: its records reach the merchant stage
      // in transactions of their own, past the markers of the earlier ones.
      await produceEvents(group.bed.prefix, generator, WAVE);
      await group.decisionsUntil((n) => n >= wave * WAVE, 120_000);
    }
    // Ids are evt_41_<n>, numbered across the waves: the last wave's merchant events passed the stage.
    const { rows } = await group.client.query<{ n: number }>("SELECT count(*)::int AS n FROM decisions WHERE merchant_id IS NOT NULL AND split_part(event_id, '_', 3)::int > $1", [(WAVES - 1) * WAVE]);
    const lastWave = rows[0]!.n;
    t.diagnostic(`${log.stageRestores} merchant partitions rebuilt, ${log.stageRestoredEvents} records replayed; the last wave's merchant stage decided ${lastWave}`);
    assert.ok(lastWave > 0, 'the merchant stage decided events of the last wave, after the markers of the earlier ones');
    assert.ok(log.stageRestores >= 1 && log.stageRestores <= PARTITIONS, `each merchant partition is rebuilt at most once (${log.stageRestores})`);
    assert.equal(log.stageRestoredEvents, 0, 'no rebuild replays records: the only one is when a partition is first seen');
    assert.equal(log.generations.length, 1, 'one generation throughout: no rebalance explains a rebuild');
  });
});
