// Event-time progress of one partition: max event time seen minus the bounded out-of-orderness.
export class Watermark {
  private maxEventTime = -Infinity;

  constructor(readonly maxOutOfOrdernessMs: number) {}

  /** The watermark: every event at or before it is considered late. */
  get current(): number {
    return this.maxEventTime - this.maxOutOfOrdernessMs;
  }

  /** Whether an event with this event time is late, judged before it advances the watermark. */
  isLate(eventTime: number): boolean {
    return eventTime < this.current;
  }

  /** Advance with an event's time; an older event never moves the watermark back. */
  observe(eventTime: number): void {
    if (eventTime > this.maxEventTime) this.maxEventTime = eventTime;
  }
}
