// A min-heap of items by time, ties in arrival order: holds planned attack steps and delayed deliveries until their moment.

export class TimeQueue<T> {
  private readonly times: number[] = [];
  /** Arrival number: equal times leave in the order they came, so output stays deterministic. */
  private readonly order: number[] = [];
  private readonly items: T[] = [];
  private arrivals = 0;

  get size(): number {
    return this.items.length;
  }

  /** Time of the earliest item; Infinity when empty, so callers can compare without a check. */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  push(time: number, item: T): void {
    let i = this.items.length;
    const seq = this.arrivals++;
    this.times.push(time);
    this.order.push(seq);
    this.items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!precedes(time, seq, this.times[parent]!, this.order[parent]!)) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, time, seq, item);
  }

  /** Removes and returns the earliest item; undefined when empty. */
  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0]!;
    const time = this.times.pop()!;
    const seq = this.order.pop()!;
    const item = this.items.pop()!;
    if (n > 1) {
      // Sift the former last element down from the root.
      const size = n - 1;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child =
          right < size && precedes(this.times[right]!, this.order[right]!, this.times[left]!, this.order[left]!) ? right : left;
        if (!precedes(this.times[child]!, this.order[child]!, time, seq)) break;
        this.move(child, i);
        i = child;
      }
      this.set(i, time, seq, item);
    }
    return top;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!;
    this.order[to] = this.order[from]!;
    this.items[to] = this.items[from]!;
  }

  private set(i: number, time: number, seq: number, item: T): void {
    this.times[i] = time;
    this.order[i] = seq;
    this.items[i] = item;
  }
}

function precedes(time: number, seq: number, otherTime: number, otherSeq: number): boolean {
  return time < otherTime || (time === otherTime && seq < otherSeq);
}
