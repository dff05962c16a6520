// Fan-out of fresh decisions to whoever waits for them: synchronous decide calls and live viewers.
import type { Decision, PublishedDecision } from '../contracts/index.ts';

type Waiter = { resolve: (d: Decision | 'duplicate') => void };

export class DecisionFeed {
  private readonly waiters = new Map<string, Waiter>();
  private readonly subscribers = new Set<(decision: PublishedDecision) => void>();

  publish(decision: PublishedDecision): void {
    const waiter = this.waiters.get(decision.event_id);
    if (waiter !== undefined) {
      this.waiters.delete(decision.event_id);
      waiter.resolve(decision);
    }
    for (const s of this.subscribers) s(decision);
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

  subscribe(listener: (decision: PublishedDecision) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }
}
