// Per-user state the features read: the user's recent events in event-time order plus long-run habits.
import type { RtdsEvent } from '../contracts/index.ts';

/**
 * The keyed state of one user. Recent events are kept sorted by event time (out-of-order
 * arrivals are inserted in place) so windows ending at any event time can be read exactly.
 */
export class UserHistory {
  readonly times: number[] = [];
  readonly amounts: number[] = [];
  readonly types: string[] = [];
  readonly ids: string[] = [];
  /** Running mean of money amounts over the user's whole history. */
  moneyCount = 0;
  moneySum = 0;
  readonly countries = new Set<string>();
  readonly devices = new Set<string>();
  /** Event time of the newest entry evicted so far (-Infinity when none): bounds the gap to a forgotten event. */
  evictedUpTo = -Infinity;

  get size(): number {
    return this.times.length;
  }

  has(eventId: string): boolean {
    return this.ids.includes(eventId);
  }

  /** Index of the first entry with time ≥ t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first entry with time > t. */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Add an event after its features were read. Ties keep arrival order. */
  add(event: RtdsEvent): void {
    const t = event.event_time;
    const amount = event.amount ?? 0;
    const n = this.times.length;
    if (n === 0 || this.times[n - 1]! <= t) {
      this.times.push(t);
      this.amounts.push(amount);
      this.types.push(event.event_type);
      this.ids.push(event.event_id);
    } else {
      const at = this.upperBound(t);
      this.times.splice(at, 0, t);
      this.amounts.splice(at, 0, amount);
      this.types.splice(at, 0, event.event_type);
      this.ids.splice(at, 0, event.event_id);
    }
    if (event.amount !== undefined) {
      this.moneyCount++;
      this.moneySum += event.amount;
    }
    if (event.country !== undefined) this.countries.add(event.country);
    if (event.device_id !== undefined) this.devices.add(event.device_id);
  }

  /** Forget recent events older than `before` (event time); habits are kept. */
  evict(before: number): void {
    const k = this.lowerBound(before);
    if (k === 0) return;
    this.evictedUpTo = Math.max(this.evictedUpTo, this.times[k - 1]!);
    this.times.splice(0, k);
    this.amounts.splice(0, k);
    this.types.splice(0, k);
    this.ids.splice(0, k);
  }
}
