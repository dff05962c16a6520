// Labels waiting for their time: a label counts from its `labeled_at` on, in event time, online and in training alike.
import type { LabelledEvent } from '../contracts/index.ts';

/** A min-heap of labels by `labeled_at`: labels arrive in any order and are applied in time order. */
export class PendingLabels {
  private readonly heap: LabelledEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(label: LabelledEvent): void {
    const h = this.heap;
    h.push(label);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.labeled_at <= label.labeled_at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = label;
  }

  /** Whether the earliest label is known at `t`. */
  dueBy(t: number): boolean {
    return this.heap.length > 0 && this.heap[0]!.labeled_at <= t;
  }

  /** Remove and return the earliest label. */
  pop(): LabelledEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const child = l + 1 < h.length && h[l + 1]!.labeled_at < h[l]!.labeled_at ? l + 1 : l;
      if (h[child]!.labeled_at >= last.labeled_at) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
    return top;
  }
}
