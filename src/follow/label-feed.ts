// Verdicts as they reach the store — by API, labels topic or generator — handed to the partitions whose label-driven features count them.
import type { Logger } from '../observe/index.ts';
import type { DecisionPipeline } from '../process/index.ts';
import { databaseNow, labelsReceivedSince, type Database, type ReceivedLabel } from '../store/index.ts';
import { RecurringCheck } from './recurring-check.ts';

export interface LabelFeedOptions {
  db: Database;
  pipeline: DecisionPipeline;
  /** The partition whose state holds the labelled event; undefined when it is not this process's log. */
  route: (label: ReceivedLabel) => number | undefined;
  intervalMs: number;
  logger: Logger;
  onApplied?: (n: number) => void;
  /** Told of each failed read (for rtds_errors_total). */
  onFailure?: () => void;
}

/**
 * Each read looks this far behind the previous one's start (the database's clock), so a label
 * whose transaction committed after that start but is stamped before it is still seen.
 */
const OVERLAP_MS = 5000;

/**
 * Follows the `labels` table. Verdicts received before the process started reach the state by
 * the restore (with the events they judge); later ones by this feed, read every `intervalMs`.
 * A verdict whose event is not stored yet is not seen (labels arrive days after their events).
 */
export class LabelFeed {
  private since: Date | undefined;
  /** Verdicts read within the overlap, by event id, with their receipt time: a re-read is skipped. */
  private readonly seen = new Map<string, number>();
  private readonly reads: RecurringCheck<number>;
  /** Epoch ms when the latest read ended; undefined before the first. */
  private readAt: number | undefined;

  constructor(private readonly options: LabelFeedOptions) {
    this.reads = new RecurringCheck(() => this.readOnce(), 0, options.intervalMs, (err) => {
      options.onFailure?.();
      options.logger.error({ err }, 'reading new labels failed; retrying');
    });
  }

  async start(): Promise<void> {
    this.since = new Date((await databaseNow(this.options.db)).getTime() - OVERLAP_MS);
    this.reads.start();
  }

  /** Read the verdicts received since the last read, after any read under way; resolves to those handed to a partition. */
  read(): Promise<number> {
    return this.reads.run();
  }

  stop(): Promise<void> {
    return this.reads.stop();
  }

  /** When the latest read of new labels succeeded, and how often it reads: how far behind the feed may be. */
  lastRead(): { at: number | undefined; intervalMs: number } {
    return { at: this.readAt, intervalMs: this.options.intervalMs };
  }

  private async readOnce(): Promise<number> {
    const { db, pipeline, route } = this.options;
    const { now, labels } = await labelsReceivedSince(db, this.since!);
    let applied = 0;
    for (const received of labels) {
      const id = received.labelled.event.event_id;
      const at = received.received_at.getTime();
      if (this.seen.get(id) === at) continue;
      this.seen.set(id, at);
      const partition = route(received);
      if (pipeline.label(partition, received.labelled)) applied++;
    }
    this.since = new Date(now.getTime() - OVERLAP_MS);
    for (const [id, at] of this.seen) if (at <= this.since.getTime()) this.seen.delete(id);
    if (applied > 0) this.options.onApplied?.(applied);
    this.readAt = Date.now();
    return applied;
  }
}
