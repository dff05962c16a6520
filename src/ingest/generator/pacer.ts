// Paces generated traffic to a wall-clock rate, delivering it in batches; shared by `rtds generate` and `rtds start`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { GeneratedEvent } from './generated-event.ts';
import type { TrafficGenerator } from './traffic-generator.ts';

const TICK_MS = 20;
const FLUSH_MS = 100;

export interface PaceOptions {
  /** Events per wall-clock second. */
  rate: number;
  /** Stop after this many events (default: no limit). */
  count?: number;
  /** Stop at this performance.now() instant (default: no limit). */
  deadline?: number;
  /** Deliver when this many events are pending, or every 100 ms. */
  batch: number;
  /** Checked every tick; false stops the run after delivering what is pending. */
  running: () => boolean;
  deliver: (batch: GeneratedEvent[]) => Promise<void>;
}

/** Runs until stopped; returns how many events were delivered. */
export async function pace(generator: TrafficGenerator, options: PaceOptions): Promise<number> {
  const { rate, batch, running, deliver } = options;
  const count = options.count ?? Infinity;
  const deadline = options.deadline ?? Infinity;
  const began = performance.now();
  // After a stall (a slow receiver) the schedule moves on instead of bursting the backlog out at once.
  const maxBurst = Math.max(1, Math.ceil(rate));
  let emitted = 0;
  let skipped = 0;
  let pending: GeneratedEvent[] = [];
  let lastFlush = began;
  while (running() && emitted < count && performance.now() < deadline) {
    await sleep(TICK_MS);
    const now = performance.now();
    let due = Math.floor((rate * (Math.min(now, deadline) - began)) / 1000) - skipped - emitted;
    if (due > maxBurst) {
      skipped += due - maxBurst;
      due = maxBurst;
    }
    due = Math.min(due, count - emitted);
    for (let i = 0; i < due; i++) pending.push(generator.next());
    emitted += Math.max(0, due);
    if (pending.length >= batch || now - lastFlush >= FLUSH_MS) {
      await deliver(pending);
      pending = [];
      lastFlush = now;
    }
  }
  await deliver(pending);
  return emitted;
}
