// Fan-out of fresh decisions to whoever waits for them: synchronous decide calls and live viewers.
import type { PublishedDecision } from '../contracts/index.ts';

type Waiter = (decision: PublishedDecision) => void;

export class DecisionFeed {
  /** Several calls may wait on one event id: a re-send racing the first send, with its body or another. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly subscribers = new Set<(decision: PublishedDecision) => void>();

  publish(decision: PublishedDecision): void {
    const waiting = this.waiters.get(decision.event_id);
    if (waiting !== undefined) {
      this.waiters.delete(decision.event_id);
      for (const resolve of waiting) resolve(decision);
    }
    for (const s of this.subscribers) s(decision);
  }

  /**
   * The decision of `eventId`, whichever body it was made for (its `body_hash` says). Register
   * before the event's claim is looked up and the event appended, so a fast decision cannot be missed.
   */
  waitFor(eventId: string, timeoutMs: number): { promise: Promise<PublishedDecision | 'timeout'>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const promise = new Promise<PublishedDecision | 'timeout'>((resolve) => {
      waiter = (d) => {
        clearTimeout(timer);
        resolve(d);
      };
      this.add(eventId, waiter);
      timer = setTimeout(() => {
        this.remove(eventId, waiter!);
        resolve('timeout');
      }, timeoutMs);
    });
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.remove(eventId, waiter!);
      },
    };
  }

  subscribe(listener: (decision: PublishedDecision) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  private add(eventId: string, waiter: Waiter): void {
    let waiting = this.waiters.get(eventId);
    if (waiting === undefined) this.waiters.set(eventId, (waiting = new Set()));
    waiting.add(waiter);
  }

  private remove(eventId: string, waiter: Waiter): void {
    const waiting = this.waiters.get(eventId);
    if (waiting?.delete(waiter) === true && waiting.size === 0) this.waiters.delete(eventId);
  }
}
