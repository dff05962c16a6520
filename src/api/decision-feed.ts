// Fan-out of fresh decisions to whoever waits for them: synchronous decide calls and live viewers.
import type { Decision, RtdsEvent } from '../contracts/index.ts';

export interface FeedItem {
  event: RtdsEvent;
  decision: Decision;
}

type Waiter = { resolve: (d: Decision | 'duplicate') => void };

export class DecisionFeed {
  private readonly waiters = new Map<string, Waiter>();
  private readonly subscribers = new Set<(item: FeedItem) => void>();

  publish(item: FeedItem): void {
    const waiter = this.waiters.get(item.event.event_id);
    if (waiter !== undefined) {
      this.waiters.delete(item.event.event_id);
      waiter.resolve(item.decision);
    }
    for (const s of this.subscribers) s(item);
  }

  /** A re-sent event gets no new decision; its waiter learns so and reads the stored one. */
  duplicate(eventId: string): void {
    const waiter = this.waiters.get(eventId);
    if (waiter !== undefined) {
      this.waiters.delete(eventId);
      waiter.resolve('duplicate');
    }
  }

  /** Register before the event is appended, so a fast decision cannot be missed. */
  waitFor(eventId: string, timeoutMs: number): { promise: Promise<Decision | 'duplicate' | 'timeout'>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<Decision | 'duplicate' | 'timeout'>((resolve) => {
      this.waiters.set(eventId, {
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
      timer = setTimeout(() => {
        this.waiters.delete(eventId);
        resolve('timeout');
      }, timeoutMs);
    });
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.waiters.delete(eventId);
      },
    };
  }

  subscribe(listener: (item: FeedItem) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }
}
