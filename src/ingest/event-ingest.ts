// The ingest edge: validates incoming events, appends valid ones to the log, dead-letters the rest.
import { payloadText, validateEvent, type FieldError, type RtdsEvent, type ValidationOptions } from '../contracts/index.ts';
import type { DeadLetter } from '../store/index.ts';
import type { EventLogProducer } from '../transport/log.ts';

export interface Rejection {
  index: number;
  event_id?: string | undefined;
  errors: FieldError[];
}

export interface IngestResult {
  accepted: RtdsEvent[];
  rejected: Rejection[];
}

export interface IngestOptions {
  log: EventLogProducer;
  /** Receives every refused input with its source and reasons; must not lose it. */
  deadLetter: (letter: DeadLetter) => void;
  /** Event types and the time bounds of live events. */
  validation?: Omit<ValidationOptions, 'now'>;
  onAccepted?: (source: string, n: number) => void;
}

export class EventIngest {
  constructor(private readonly options: IngestOptions) {}

  /** Validate and append a batch; the order of `accepted` is the order of the input. */
  async submit(inputs: readonly unknown[], source: string): Promise<IngestResult> {
    const accepted: RtdsEvent[] = [];
    const rejected: Rejection[] = [];
    const appends: Promise<void>[] = [];
    // An event without a timestamp is checked as of now; the body goes to the log as sent (a re-send stays byte-identical), and the processor takes the record's accepted time.
    const validation = { ...this.options.validation, receivedAt: Date.now() };
    for (let i = 0; i < inputs.length; i++) {
      const checked = validateEvent(inputs[i], validation);
      if (checked.ok) {
        // The log carries the contract's JSON, as a Kafka record would; the processor validates again.
        // Appends are awaited together, so a lingering producer sends the batch in one request.
        const appended = this.options.log.append(checked.event.user_id, inputs[i]);
        if (appended !== undefined) appends.push(appended);
        accepted.push(checked.event);
      } else {
        const rejection = { index: i, event_id: checked.event_id, errors: checked.errors };
        rejected.push(rejection);
        this.reject(source, inputs[i], rejection);
      }
    }
    await Promise.all(appends);
    if (accepted.length > 0) this.options.onAccepted?.(source, accepted.length);
    return { accepted, rejected };
  }

  /** Dead-letter an input that could not even be decoded (e.g. malformed JSON). */
  rejectUndecodable(source: string, payload: string, reason: string): Rejection {
    const rejection = { index: 0, errors: [{ field: '(body)', reason }] };
    this.options.deadLetter({ source, payload, errors: rejection.errors });
    return rejection;
  }

  private reject(source: string, input: unknown, rejection: Rejection): void {
    this.options.deadLetter({ source, event_id: rejection.event_id, payload: payloadText(input), errors: rejection.errors });
  }
}
