// The in-process traffic generator of `rtds start`: the demo's stream paced into ingest, its labels into the store.
import { pace } from '../ingest/generator/index.ts';
import type { EventIngest } from '../ingest/event-ingest.ts';
import type { TrafficTap } from '../ingest/traffic-tap.ts';
import type { Logger } from '../observe/index.ts';
import { upsertLabels, type Database } from '../store/index.ts';
import type { DemoTraffic } from './demo-traffic.ts';

export interface LiveTrafficOptions {
  ingest: EventIngest;
  db: Database;
  demo: DemoTraffic;
  logger: Logger;
  /** Where the generator's labels are recorded as they are stored (its events are, by the ingest's log). */
  tap: TrafficTap;
}

export class LiveTraffic {
  private running = false;
  private run: Promise<number> | undefined;

  constructor(private readonly options: LiveTrafficOptions) {}

  start(): void {
    const { ingest, db, demo, logger, tap } = this.options;
    this.running = true;
    // Paced at the rate event time advances: event time follows the clock.
    this.run = pace(demo.live(), {
      rate: demo.rate,
      clock: demo.clock,
      batch: 500,
      running: () => this.running,
      deliver: async (batch) => {
        if (batch.length === 0) return;
        await ingest.submit(
          batch.map((g) => g.event),
          'generator',
        );
        const labels = batch.map((g) => g.label);
        await db.batch([upsertLabels(labels)]);
        tap.labels(labels);
      },
    });
    this.run.catch((err: unknown) => logger.error({ err }, 'traffic generator stopped'));
  }

  /** Stop after delivering what is pending. */
  async stop(): Promise<void> {
    this.running = false;
    await this.run?.catch(() => undefined);
  }
}
