// A span recorded in memory while its trace's fate is open: cheap enough for every event, made an SDK span only if its trace is exported.
import { SpanStatusCode, type Attributes, type AttributeValue, type SpanContext, type SpanKind } from '@opentelemetry/api';
import type { Decision } from '../../contracts/index.ts';
import { newSpanId } from './ids.ts';

/** Epoch milliseconds with sub-millisecond precision: the spans' clock. */
export const spanClock = (): number => performance.timeOrigin + performance.now();

/** Why a trace is exported whatever its head sampling said: the outcome known only at the decision. */
export type KeepReason = 'rejected' | 'degraded';

/** Why a decision's trace is exported whatever the head sampling said; undefined when it is not. */
export function keepReason(decision: Pick<Decision, 'decision' | 'degraded'>): KeepReason | undefined {
  if (decision.decision === 'rejected') return 'rejected';
  return decision.degraded === 'none' ? undefined : 'degraded';
}

/** Decides, once none of a trace's spans here is open, whether it is exported or dropped. */
export interface TraceSettlement {
  settle(trace: PendingTrace): void;
}

/** W3C trace context as headers travel: `traceparent`, and `tracestate` when the trace carries one. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/**
 * This process's part of one trace: its spans as recorded, how many are still open, and whether
 * it is to be exported. Its fate is settled when the last open span (or hold) closes.
 */
export class PendingTrace {
  readonly spans: LocalSpan[] = [];
  /** Spans not yet ended, and holds (an event waiting in an in-process log). */
  private open = 0;
  /** Set by a decision that is rejected or degraded: exported whatever the ratio said. */
  keep: KeepReason | undefined;
  private settled = false;

  constructor(
    readonly traceId: string,
    /** Head sampling: the remote parent's sampled flag, or the ratio for a trace begun here. */
    readonly sampled: boolean,
    /** The span of another process (or a client) this part continues, from its W3C traceparent. */
    readonly remote: SpanContext | undefined,
    /** False past the bound on traces held: ids and context still flow, no span is kept. */
    readonly recording: boolean,
    private readonly settlement: TraceSettlement,
  ) {}

  opened(): void {
    this.open++;
  }

  closed(): void {
    // Settled once: a span begun after (none should be) is recorded but never exported twice.
    if (--this.open === 0 && !this.settled) {
      this.settled = true;
      this.settlement.settle(this);
    }
  }
}

/**
 * A span as recorded: name, kind, parent, times, attributes, status. Its id is drawn when first
 * asked (a downstream record names it) or when it is exported. Open spans hold their trace's fate
 * open; a child is made before its parent ends, so a trace never settles between two of its spans.
 */
export class LocalSpan {
  private id: string | undefined;
  /** NaN while open. */
  endTime = Number.NaN;
  status: { code: SpanStatusCode; message?: string } | undefined;
  private held = false;

  constructor(
    readonly trace: PendingTrace,
    readonly name: string,
    readonly kind: SpanKind,
    /** The parent recorded here; undefined for the first span of this process's part (under `trace.remote`, if any). */
    readonly parent: LocalSpan | undefined,
    readonly startTime: number,
    readonly attributes: Attributes,
    endTime?: number,
  ) {
    if (trace.recording) trace.spans.push(this);
    if (endTime === undefined) trace.opened();
    else this.endTime = endTime;
  }

  get traceId(): string {
    return this.trace.traceId;
  }

  get spanId(): string {
    return (this.id ??= newSpanId());
  }

  /** Its context for a downstream record or request, as W3C headers (the head sampling's flag; the remote parent's tracestate). */
  headers(): Record<string, string> & TraceHeaders {
    const traceparent = `00-${this.trace.traceId}-${this.spanId}-${this.trace.sampled ? '01' : '00'}`;
    const state = this.trace.remote?.traceState?.serialize();
    return state === undefined || state === '' ? { traceparent } : { traceparent, tracestate: state };
  }

  /** An open child, from `start` (now by default). */
  child(name: string, kind: SpanKind, attributes: Attributes = {}, start = spanClock()): LocalSpan {
    return new LocalSpan(this.trace, name, kind, this, start, attributes);
  }

  /** A child already over: a step timed by its caller. */
  record(name: string, kind: SpanKind, start: number, end: number, attributes: Attributes = {}): LocalSpan {
    return new LocalSpan(this.trace, name, kind, this, start, attributes, end);
  }

  set(key: string, value: AttributeValue | undefined): this {
    if (value !== undefined) this.attributes[key] = value;
    return this;
  }

  fail(message: string): this {
    this.status = { code: SpanStatusCode.ERROR, message };
    return this;
  }

  /** Export the trace whatever the head sampling said, when there is a reason (the first given stands). */
  keep(reason: KeepReason | undefined): void {
    this.trace.keep ??= reason;
  }

  end(at = spanClock()): void {
    if (!Number.isNaN(this.endTime)) return;
    this.endTime = at;
    this.trace.closed();
  }

  /** Keep the trace's fate open past this span's end: its event waits in an in-process log. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.trace.opened();
  }

  /** The hold's work has been taken up (a span under it is open) or abandoned. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.trace.closed();
  }
}
