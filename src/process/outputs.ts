// Where a stage's results go: the store, the Kafka topics (in the batch's transaction), the live feed, the metrics and the log.
import { SpanKind } from '@opentelemetry/api';
import { contractHeaders, decisionIdFor, publishDecision, type PublishedDecision } from '../contracts/index.ts';
import { clip, clipErrors, type Logger, type PipelineMetrics } from '../observe/index.ts';
import type { LocalSpan } from '../observe/tracing/index.ts';
import type { DeadLetter, DecidedEvent, DecisionSink } from '../store/index.ts';
import type { Publish } from '../transport/log.ts';
import { encodeCarried } from './carried-event.ts';
import type { ProcessorOutput } from './processor.ts';

/** The topics a processor writes besides the store (Kafka); the repartition topic of each stage by index. */
export interface OutputTopics {
  decisions: string;
  late: string;
  deadLetters: string;
  repartition(stage: number): string;
}

/**
 * The one path every refused input takes — at the HTTP edge, in a label batch, or read from the
 * log: the store, the dead-letter topic (a log record's in its batch's transaction), the metric
 * and one log line with the field and reason.
 */
export class DeadLetterRoute {
  constructor(
    private readonly sink: DecisionSink,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
    private readonly topic: string | undefined,
    /** Publishes outside any batch: for what the edge refuses. */
    private readonly publishOutside: Publish | undefined,
  ) {}

  /** `trace`: the span the input was refused in, when traced — its context travels with the dead letter, its id in the log line. */
  refuse(letter: DeadLetter, publish: Publish | undefined = this.publishOutside, trace?: LocalSpan): void {
    this.sink.writeDeadLetter(letter);
    // The error travels in headers so the payload stays exactly what was received.
    if (this.topic !== undefined) publish?.(this.topic, letter.event_id ?? '', letter.payload, { 'rtds.error': JSON.stringify(letter.errors), 'rtds.source': letter.source, ...trace?.headers() });
    this.metrics.deadLetter(letter.source);
    this.logger.warn({ event_id: clip(letter.event_id), trace_id: trace?.traceId, errors: clipErrors(letter.errors), source: letter.source }, 'invalid input dead-lettered');
  }
}

export interface StageOutputOptions {
  sink: DecisionSink;
  metrics: PipelineMetrics;
  logger: Logger;
  deadLetters: DeadLetterRoute;
  /** Absent on the embedded log: the store is the only output. */
  topics: OutputTopics | undefined;
  /** How the stage's batch publishes (its transaction on Kafka exactly-once). */
  publish: Publish | undefined;
  /** Each decision made here, for the live feed; absent when the API follows the decisions topic instead. */
  onDecided: ((published: PublishedDecision) => void) | undefined;
  ready: () => Promise<void>;
  /** Resolves when everything handed over before the call is durable: the source commits after. */
  durable: () => Promise<void>;
}

/** Under a traced record's processing span, the span of publishing it to `destination`; its W3C headers go with what is published. */
function publishSpan(trace: LocalSpan | undefined, destination: string): LocalSpan | undefined {
  return trace?.child('publish', SpanKind.PRODUCER, { 'messaging.destination.name': destination });
}

/** The output of one stage's processor: what its batches decided, passed on or refused. */
export function stageOutput(o: StageOutputOptions): ProcessorOutput {
  const { sink, metrics, logger, topics, publish } = o;
  const debug = logger.isLevelEnabled('debug');
  return {
    decided(result) {
      const { event, decision, trace } = result;
      // Past the first stage, the first stored the event's row when it passed it on.
      const row: DecidedEvent = result.stage > 0 ? { ...result, eventStored: true } : result;
      if (trace !== undefined) {
        row.trace_id = trace.traceId;
        row.storeSpan = trace.child('store write', SpanKind.CLIENT, { 'db.system.name': 'postgresql' });
      }
      sink.write(row);
      if (decision.late) metrics.lateness.observe(result.behindMs / 1000);
      const decided = publishDecision(event, decision, result.body_hash, trace?.traceId);
      if (topics !== undefined && publish !== undefined) {
        const span = publishSpan(trace, topics.decisions);
        publish(topics.decisions, event.user_id, JSON.stringify(decided), contractHeaders('decision', span?.headers()));
        span?.end();
        if (decision.late) publish(topics.late, event.user_id, JSON.stringify(event), contractHeaders('event'));
      }
      if (o.onDecided !== undefined) {
        const span = publishSpan(trace, 'live feed');
        o.onDecided(decided);
        span?.end();
      }
      if (debug) logger.debug({ event_id: event.event_id, decision_id: decision.decision_id, trace_id: trace?.traceId, decision: decision.decision, risk_score: decision.risk_score }, 'decided');
    },
    forward(result) {
      // The first stage's changelog is the store: the event's row, durable before its offset commits.
      if (result.from === 0) sink.writeEvent({ event: result.carried.event, position: result.carried.position });
      const topic = topics!.repartition(result.stage);
      const span = publishSpan(result.trace, topic);
      publish!(topic, result.key, encodeCarried(result.carried), span?.headers(), result.partition);
      span?.end();
    },
    deadLetter: (letter, trace) => o.deadLetters.refuse(letter, publish, trace),
    duplicate(eventId, trace) {
      metrics.duplicates.inc();
      if (debug) logger.debug({ event_id: eventId, decision_id: decisionIdFor(eventId), trace_id: trace?.traceId }, 're-sent event ignored; its decision stands');
    },
    conflict(letter, trace) {
      o.deadLetters.refuse(letter, publish, trace);
      metrics.conflicts.inc({ source: letter.source });
    },
    ready: o.ready,
    durable: o.durable,
  };
}
