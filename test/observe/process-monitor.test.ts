import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProcessMonitor, type ProcessSample } from '../../src/observe/index.ts';
import { waitFor } from '../support/wait.ts';

describe('the process monitor', () => {
  it('reads a blocked event loop as delay beyond the timer resolution, and the busy time as CPU', async () => {
    const monitor = new ProcessMonitor({ intervalMs: 200, keep: 5 });
    monitor.start();
    try {
      setTimeout(() => {
        const until = performance.now() + 80;
        while (performance.now() < until);
      }, 20);
      const sample: ProcessSample = await waitFor('the first sample', 5000, () => monitor.history()[0]);
      assert.ok(sample.event_loop_delay_ms.max >= 60, `an 80 ms block shows: max ${sample.event_loop_delay_ms.max} ms`);
      assert.ok(sample.event_loop_delay_ms.p50 < sample.event_loop_delay_ms.max, 'most timer runs were not blocked');
      assert.ok(sample.cpu_percent >= 20, `80 ms busy in about 200 ms: ${sample.cpu_percent} %`);
      assert.ok(sample.rss_bytes > 0 && sample.heap_used_bytes > 0);
    } finally {
      monitor.stop();
    }
  });

  it('counts every collection, also when the observer gets several at once', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const monitor = new ProcessMonitor({ intervalMs: 50, keep: 5 });
    monitor.start();
    try {
      const before = monitor.gcTotals().count;
      // Five in one turn: their entries reach the observer together.
      for (let i = 0; i < 5; i++) gc();
      const after = await waitFor('the collections counted', 5000, () => (monitor.gcTotals().count >= before + 5 ? monitor.gcTotals() : undefined));
      assert.ok(after.ms > 0, 'their pause is added up');
    } finally {
      monitor.stop();
    }
  });
});
