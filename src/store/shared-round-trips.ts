// Round trips to the store shared by the callers asking together: one statement for many requests' or partitions' questions.

interface Waiting<Ask, Answer> {
  asks: readonly Ask[];
  resolve: (answers: Answer[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Asks made in one turn of the event loop (requests read from many sockets at once, partitions
 * delivered together) go in one round trip; asks made while it runs go together in the next. So a
 * lone caller waits one turn at most, and under load the round trips per second stay bounded by
 * the store's speed rather than grow with the callers: one round trip at a time, however many ask.
 * A round takes whole callers, in order, up to `maxAsks` (one caller past it goes alone).
 */
export class SharedRoundTrips<Ask, Answer> {
  private waiting: Waiting<Ask, Answer>[] = [];
  private running = false;

  constructor(
    /** One round trip: an answer per ask, in order. A rejection fails every caller of the round. */
    private readonly roundTrip: (asks: readonly Ask[]) => Promise<Answer[]>,
    private readonly maxAsks = Infinity,
  ) {}

  ask(asks: readonly Ask[]): Promise<Answer[]> {
    if (asks.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ asks, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.run());
    });
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0) {
      const round = this.nextRound();
      const asks = round.length === 1 ? round[0]!.asks : round.flatMap((w) => w.asks);
      let answers: Answer[];
      try {
        answers = await this.roundTrip(asks);
      } catch (err) {
        for (const w of round) w.reject(err);
        continue;
      }
      let at = 0;
      for (const w of round) {
        w.resolve(round.length === 1 ? answers : answers.slice(at, at + w.asks.length));
        at += w.asks.length;
      }
    }
    this.running = false;
  }

  private nextRound(): Waiting<Ask, Answer>[] {
    let callers = 1;
    let asks = this.waiting[0]!.asks.length;
    while (callers < this.waiting.length && asks + this.waiting[callers]!.asks.length <= this.maxAsks) asks += this.waiting[callers++]!.asks.length;
    return this.waiting.splice(0, callers);
  }
}
