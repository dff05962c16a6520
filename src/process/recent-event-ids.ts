// Event ids seen lately, so a re-sent event neither counts twice in features nor gets a second decision.

/** Ids are grouped by the minute of their event time and forgotten a minute at a time. */
const BUCKET_MS = 60_000;

export class RecentEventIds {
  private readonly ids = new Set<string>();
  private readonly buckets = new Map<number, string[]>();
  private oldest = Infinity;

  /** Remembers ids of events up to `windowMs` (event time) behind the earliest admitted time. */
  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.ids.size;
  }

  /** Whether the id was seen; if not, it is remembered from now on. */
  seen(eventId: string, eventTime: number): boolean {
    if (this.ids.has(eventId)) return true;
    this.ids.add(eventId);
    const bucket = Math.floor(eventTime / BUCKET_MS);
    let list = this.buckets.get(bucket);
    if (list === undefined) {
      list = [];
      this.buckets.set(bucket, list);
      if (bucket < this.oldest) this.oldest = bucket;
    }
    list.push(eventId);
    return false;
  }

  /** Forget the minutes that end more than the window before `earliest`. */
  evict(earliest: number): void {
    const keepFrom = Math.floor((earliest - this.windowMs) / BUCKET_MS);
    if (!(this.oldest < keepFrom)) return;
    for (const [bucket, list] of this.buckets) {
      if (bucket >= keepFrom) continue;
      for (const id of list) this.ids.delete(id);
      this.buckets.delete(bucket);
    }
    this.oldest = Infinity;
    for (const bucket of this.buckets.keys()) if (bucket < this.oldest) this.oldest = bucket;
  }
}
