// The in-process traffic generator of `rtds start`: paced synthetic events into ingest, their labels into the store.
import { pace, TrafficGenerator } from '../ingest/generator/index.ts';
import type { EventIngest } from '../ingest/event-ingest.ts';
import type { Logger } from '../observe/index.ts';
import { upsertLabels, type Database } from '../store/index.ts';

export interface LiveTrafficOptions {
  ingest: EventIngest;
  db: Database;
  rate: number;
  seed: number;
  logger: Logger;
}

export class LiveTraffic {
  private running = false;
  private run: Promise<number> | undefined;

  constructor(private readonly options: LiveTrafficOptions) {}

  start(): void {
    const { ingest, db, rate, seed, logger } = this.options;
    // Event time follows the wall clock, with attacks already under way as in a stream joined mid-flow.
    const generator = new TrafficGenerator({ seed, start: Date.now(), eventTimeRate: rate, dailyRhythm: false, warmStart: true, idPrefix: `gen_${seed}_${Date.now().toString(36)}_` });
    this.running = true;
    this.run = pace(generator, {
      rate,
      batch: 500,
      running: () => this.running,
      deliver: async (batch) => {
        if (batch.length === 0) return;
        await ingest.submit(
          batch.map((g) => g.event),
          'generator',
        );
        await db.batch([upsertLabels(batch.map((g) => g.label))]);
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
