// A check repeated every interval and on demand, one run at a time: how a processor follows what changes in the store and the registry.
export class RecurringCheck<T> {
  private running: Promise<T>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly check: () => Promise<T>,
    initial: T,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.running = Promise.resolve(initial);
  }

  /** Begin the runs every `intervalMs`. */
  start(): void {
    this.schedule();
  }

  /** Run the check now, after any run under way (a failed one does not stop the next). */
  run(): Promise<T> {
    this.running = this.running.catch(() => undefined).then(() => this.check());
    return this.running;
  }

  /** No more runs; resolves once the one under way is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.run()
        .catch(this.onError)
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}
