// Event ids seen lately, so a re-sent event neither counts twice in features nor gets a second decision.

/** Ids are grouped by the minute of their event time and forgotten a minute at a time. */
const BUCKET_MS = 60_000;

/**
 * On the hot path (every event, in every stage that remembers ids) `seen` is one Set insertion
 * and an append to the current minute's list, and `evict` one comparison until a whole minute
 * falls out of the window: the minutes are walked only then, about once a minute of event time.
 */
export class RecentEventIds {
  private readonly ids = new Set<string>();
  private readonly buckets = new Map<number, string[]>();
  private oldest = Infinity;
  /** The minute last appended to and its list: events arrive nearly in event-time order, so mostly the same one. */
  private lastBucket = NaN;
  private lastList: string[] = [];

  /** Remembers ids of events up to `windowMs` (event time) behind the earliest admitted time. */
  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.ids.size;
  }

  /** Whether the id was seen; if not, it is remembered from now on. */
  seen(eventId: string, eventTime: number): boolean {
    const ids = this.ids;
    const before = ids.size;
    // One hash probe: adding an id already held leaves the size as it was.
    ids.add(eventId);
    if (ids.size === before) return true;
    const bucket = Math.floor(eventTime / BUCKET_MS);
    if (bucket !== this.lastBucket) {
      let list = this.buckets.get(bucket);
      if (list === undefined) {
        list = [];
        this.buckets.set(bucket, list);
        if (bucket < this.oldest) this.oldest = bucket;
      }
      this.lastBucket = bucket;
      this.lastList = list;
    }
    this.lastList.push(eventId);
    return false;
  }

  /** Forget the minutes that end more than the window before `earliest`. */
  evict(earliest: number): void {
    const keepFrom = Math.floor((earliest - this.windowMs) / BUCKET_MS);
    if (!(this.oldest < keepFrom)) return;
    let oldest = Infinity;
    for (const [bucket, list] of this.buckets) {
      if (bucket >= keepFrom) {
        if (bucket < oldest) oldest = bucket;
        continue;
      }
      for (const id of list) this.ids.delete(id);
      this.buckets.delete(bucket);
      if (bucket === this.lastBucket) this.lastBucket = NaN;
    }
    this.oldest = oldest;
  }
}
