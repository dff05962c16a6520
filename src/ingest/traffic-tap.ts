// Live traffic for whoever records it (GET /api/v1/capture): each event once the log has it, each label as it is stored, as recorded lines.
import type { Label } from '../contracts/index.ts';
import type { EventLogProducer } from '../transport/log.ts';
import { labelLine } from './recording.ts';

/** Receives recorded lines (without their newline) as traffic is taken in. */
export type TapListener = (line: string) => void;

export class TrafficTap {
  private readonly listeners = new Map<TapListener, { labels: boolean }>();

  /** Whether anyone records: the ingest does no work for the tap otherwise. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  subscribe(listener: TapListener, options: { labels: boolean }): () => void {
    this.listeners.set(listener, options);
    return () => void this.listeners.delete(listener);
  }

  /**
   * `log`, with every event it appends also recorded once it is appended (for the durable log,
   * written and synced): a recording holds what was accepted, in the order the log took it.
   */
  recording(log: EventLogProducer): EventLogProducer {
    return {
      append: (key, value, trace, validated) => {
        const appended = log.append(key, value, trace, validated);
        if (!this.active) return appended;
        if (appended === undefined) return this.event(value);
        return appended.then(() => this.event(value));
      },
    };
  }

  labels(labels: readonly Label[]): void {
    if (!this.active) return;
    for (const label of labels) {
      const line = labelLine(JSON.stringify(label));
      for (const [listener, options] of this.listeners) if (options.labels) listener(line);
    }
  }

  private event(value: unknown): void {
    if (!this.active) return;
    const line = JSON.stringify(value);
    for (const listener of this.listeners.keys()) listener(line);
  }
}
