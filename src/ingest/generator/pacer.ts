// Paces generated traffic to a rate on a clock, delivering it in batches; shared by `rtds generate` and `rtds start`.
import { setTimeout as sleep } from 'node:timers/promises';
import type { GeneratedEvent } from './generated-event.ts';
import type { TrafficGenerator } from './traffic-generator.ts';

const TICK_MS = 20;
const FLUSH_MS = 100;

/** What pacing reads and waits on: the wall clock, or a test's clock that moves only as it is waited on. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves once `ms` have passed on this clock. */
  sleep(ms: number): Promise<void>;
}

/** Epoch milliseconds that never go back (performance.now from its origin), and real waits. */
export const WALL_CLOCK: Clock = { now: () => performance.timeOrigin + performance.now(), sleep: (ms) => sleep(ms) };

export interface PaceOptions {
  /** Events per second of `clock`. */
  rate: number;
  /** Stop after this many events (default: no limit). */
  count?: number;
  /** Stop after this long on `clock`, ms (default: no limit). */
  durationMs?: number;
  /** Deliver when this many events are pending, or every 100 ms. */
  batch: number;
  /** Checked every tick; false stops the run after delivering what is pending. */
  running: () => boolean;
  deliver: (batch: GeneratedEvent[]) => Promise<void>;
  /** Default the wall clock. */
  clock?: Clock;
}

/** Runs until stopped; returns how many events were delivered. */
export async function pace(generator: TrafficGenerator, options: PaceOptions): Promise<number> {
  const { rate, batch, running, deliver, clock = WALL_CLOCK } = options;
  const count = options.count ?? Infinity;
  const began = clock.now();
  const deadline = began + (options.durationMs ?? Infinity);
  // After a stall (a slow receiver) the schedule moves on instead of bursting the backlog out at once.
  const maxBurst = Math.max(1, Math.ceil(rate));
  let emitted = 0;
  let skipped = 0;
  let pending: GeneratedEvent[] = [];
  let lastFlush = began;
  while (running() && emitted < count && clock.now() < deadline) {
    await clock.sleep(TICK_MS);
    const now = clock.now();
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
