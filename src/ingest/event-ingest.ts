// The ingest edge: validates incoming events, answers re-sends from their claims, appends valid ones to the log, dead-letters the rest.
import { SpanKind } from '@opentelemetry/api';
import { bodyHash, conflictError, payloadText, validateEvent, type FieldError, type RtdsEvent, type ValidationOptions } from '../contracts/index.ts';
import type { LocalSpan, Tracing } from '../observe/tracing/index.ts';
import { isStoreUnavailable, SharedRoundTrips, type DeadLetter } from '../store/index.ts';
import type { EventLogProducer } from '../transport/log.ts';

export interface Rejection {
  index: number;
  event_id?: string | undefined;
  errors: FieldError[];
  /** A re-send refused for its body: the hash of this body and of the one holding the id. */
  conflict?: { body_hash: string; decided_body_hash: string };
}

export interface Accepted {
  event: RtdsEvent;
  /** The hash of the body as sent (contracts' bodyHash). */
  body_hash: string;
  /** False for a re-send of the body already holding its id: not appended again, it keeps its one decision. */
  appended: boolean;
}

export interface IngestResult {
  accepted: Accepted[];
  rejected: Rejection[];
}

/** The hash of the body holding each claimed id among `eventIds` (null: decided before claims were kept). */
export type ClaimedBodies = (eventIds: readonly string[]) => Promise<ReadonlyMap<string, string | null>>;

export interface IngestOptions {
  log: EventLogProducer;
  /** Receives every refused input with its source and reasons (and the span it arrived in, when traced); must not lose it. */
  deadLetter: (letter: DeadLetter, trace?: LocalSpan) => void;
  /** Event types and the time bounds of live events. */
  validation?: Omit<ValidationOptions, 'now'>;
  /** Where `submit` looks up claims when asked to. */
  claimedBodies?: ClaimedBodies;
  onAccepted?: (source: string, n: number) => void;
  /** Re-sends answered at the edge: with their body (accepted, not appended), with another (refused). */
  onResent?: (source: string, sameBody: number, otherBody: number) => void;
  /** When tracing: each append is a span, whose context its record carries to the processor. */
  tracing?: Tracing | undefined;
}

export interface SubmitOptions {
  /**
   * Look up the claims of the events' ids first, so a re-send is answered at once: with the body
   * holding its id it is accepted without being appended again; with another it is refused as a
   * conflict. `required`: a store that is away fails the call; `when-reachable`: every valid event
   * goes through then, for the processor's claim to judge. Absent: no look-up.
   */
  claims?: 'required' | 'when-reachable';
  /** The span the events arrived in (an HTTP request): their appends' parent. Absent: each appended event begins a trace. */
  trace?: LocalSpan | undefined;
}

/**
 * Most event ids in one claim look-up shared by concurrent submits: the statement's parameter and
 * its time stay small; callers past it share the next look-up.
 */
const MAX_IDS_PER_LOOKUP = 1000;

export class EventIngest {
  /** Claim look-ups of submits made together (concurrent HTTP requests), one query per round: the holder's body hash of each id, or undefined when free. */
  private readonly lookups: SharedRoundTrips<string, string | null | undefined> | undefined;

  constructor(private readonly options: IngestOptions) {
    const lookUp = options.claimedBodies;
    this.lookups =
      lookUp === undefined
        ? undefined
        : new SharedRoundTrips(async (eventIds) => {
            const held = await lookUp(eventIds);
            return eventIds.map((id) => held.get(id));
          }, MAX_IDS_PER_LOOKUP);
  }

  /**
   * Validate and append a batch; the order of `accepted` is the order of the input. Within the
   * batch, as in the processor's micro-batches, the first body sent with an id holds it.
   */
  async submit(inputs: readonly unknown[], source: string, options: SubmitOptions = {}): Promise<IngestResult> {
    const rejected: Rejection[] = [];
    // An event without a timestamp is checked as of now; the body goes to the log as sent (a re-send stays byte-identical), and the processor takes the record's accepted time.
    const validation = { ...this.options.validation, receivedAt: Date.now() };
    const valid: { index: number; event: RtdsEvent; hash: string }[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const checked = validateEvent(inputs[i], validation);
      if (checked.ok) valid.push({ index: i, event: checked.event, hash: bodyHash(inputs[i] as object) });
      else this.reject(source, inputs[i], rejected, { index: i, event_id: checked.event_id, errors: checked.errors }, options.trace);
    }
    // The hash of the body holding each id: claimed before, or first in this batch.
    const holders = options.claims === undefined || valid.length === 0 ? new Map<string, string | null>() : await this.claimed(valid.map((v) => v.event.event_id), options.claims);
    const accepted: Accepted[] = [];
    const appends: Promise<void>[] = [];
    const spans: LocalSpan[] = [];
    let sameBody = 0;
    for (const { index, event, hash } of valid) {
      const held = holders.get(event.event_id);
      if (held === undefined) {
        holders.set(event.event_id, hash);
        // The log carries the contract's JSON, as a Kafka record would; the edge's validation goes
        // with it in memory, where the log keeps it (embedded), so the processor need not repeat it.
        // Appends are awaited together, so a lingering producer sends the batch in one request.
        const span = this.options.tracing?.span('log append', SpanKind.PRODUCER, options.trace, { 'rtds.event_id': event.event_id, 'rtds.event_type': event.event_type });
        if (span !== undefined) spans.push(span);
        const appended = this.options.log.append(event.user_id, inputs[index], span, { event, bodyHash: hash });
        if (appended !== undefined) appends.push(appended);
        accepted.push({ event, body_hash: hash, appended: true });
      } else if (held === null || held === hash) {
        accepted.push({ event, body_hash: hash, appended: false });
        sameBody++;
      } else {
        const conflict = { body_hash: hash, decided_body_hash: held };
        this.reject(source, inputs[index], rejected, { index, event_id: event.event_id, errors: [conflictError(held, hash)], conflict }, options.trace);
      }
    }
    try {
      await Promise.all(appends);
    } catch (err) {
      for (const span of spans) span.fail(`append failed: ${(err as Error).message}`);
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
    if (accepted.length > 0) this.options.onAccepted?.(source, accepted.length);
    const otherBody = rejected.filter((r) => r.conflict !== undefined).length;
    if (sameBody + otherBody > 0) this.options.onResent?.(source, sameBody, otherBody);
    // In input order: the invalid were refused before the conflicts.
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, rejected };
  }

  /** Dead-letter an input that could not even be decoded (e.g. malformed JSON). */
  rejectUndecodable(source: string, payload: string, reason: string): Rejection {
    const rejection = { index: 0, errors: [{ field: '(body)', reason }] };
    this.options.deadLetter({ source, payload, errors: rejection.errors });
    return rejection;
  }

  private async claimed(eventIds: readonly string[], mode: NonNullable<SubmitOptions['claims']>): Promise<Map<string, string | null>> {
    const claimed = new Map<string, string | null>();
    if (this.lookups === undefined) return claimed;
    let held: (string | null | undefined)[];
    try {
      held = await this.lookups.ask(eventIds);
    } catch (err) {
      if (mode === 'when-reachable' && isStoreUnavailable(err)) return claimed;
      throw err;
    }
    for (let i = 0; i < eventIds.length; i++) if (held[i] !== undefined) claimed.set(eventIds[i]!, held[i]!);
    return claimed;
  }

  private reject(source: string, input: unknown, rejected: Rejection[], rejection: Rejection, trace: LocalSpan | undefined): void {
    rejected.push(rejection);
    this.options.deadLetter({ source, event_id: rejection.event_id, payload: payloadText(input), errors: rejection.errors }, trace);
  }
}
