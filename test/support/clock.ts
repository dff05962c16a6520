// A clock that moves only as it is waited on: traffic paced on it runs as fast as it is taken, and stops at a set instant.
import type { Clock } from '../../src/ingest/generator/index.ts';

export class TestClock implements Clock {
  private time: number;
  private readonly waiting: (() => void)[] = [];
  private haltReached: () => void = () => undefined;
  /** Resolves once a wait would take the clock past the halt. */
  readonly halted = new Promise<void>((resolve) => (this.haltReached = resolve));

  /** Starts at `start` (epoch ms); a wait that would pass `haltAt` waits until `release`. */
  constructor(
    start: number,
    private haltAt = Infinity,
  ) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  async sleep(ms: number): Promise<void> {
    if (this.time + ms > this.haltAt) {
      this.haltReached();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.time += ms;
    // A turn of the event loop, as a real wait gives: I/O and timers run between two ticks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** The clock moves on past the halt, and keeps moving. */
  release(): void {
    this.haltAt = Infinity;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
