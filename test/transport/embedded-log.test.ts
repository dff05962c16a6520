import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionedLog } from '../../src/transport/embedded/partitioned-log.ts';
import type { LogRecord } from '../../src/transport/log.ts';

describe('the embedded log consumer', () => {
  it('drains on stop while a batch is in flight, even one that yields to the event loop', { timeout: 10_000 }, async () => {
    const log = new PartitionedLog(1);
    const handled: unknown[] = [];
    let inFlight!: () => void;
    const firstInFlight = new Promise<void>((resolve) => (inFlight = resolve));
    const consumer = log.consumer('g', 4);
    await consumer.start(async (batch: LogRecord[]) => {
      inFlight();
      // A handler that gives the event loop turns mid-batch, as the processor does between micro-batches.
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      handled.push(...batch.map((r) => r.value));
      return { durable: Promise.resolve() };
    });
    for (let i = 0; i < 4; i++) log.append('k', i);
    await firstInFlight;
    await consumer.stop({ drain: true });
    assert.deepEqual(handled, [0, 1, 2, 3], 'the last batch was in flight when stop was called');
    assert.equal(consumer.lag(), 0);
  });
});
