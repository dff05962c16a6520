// The HTTP face on one port: REST under /api/v1, /ws, /metrics, health, OpenAPI docs and the dashboard.
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { conflictError, decisionJsonSchema, eventJsonSchema, labelJsonSchema, MAX_JSON_DEPTH, findUnstorable, nestedDeeperThan, OUTCOMES, payloadText, unstorable, validateLabel, type EventTimeBounds } from '../contracts/index.ts';
import type { FeatureSet } from '../features/index.ts';
import type { EventIngest, Rejection } from '../ingest/event-ingest.ts';
import type { TrafficTap } from '../ingest/traffic-tap.ts';
import { settlesWithin, type LiveSummary, type Logger, type PipelineMetrics } from '../observe/index.ts';
import { keepReason, type Tracing } from '../observe/tracing/index.ts';
import { CursorError, findDecision, findEvent, findLabel, classifyStoreError, isStoreUnavailable, LABEL_FILTERS, listDeadLetters, listDecisions, upsertLabels, type Database, type DeadLetter, type DecisionQuery } from '../store/index.ts';
import type { DecisionFeed } from './decision-feed.ts';
import { guardAccess, registerWhoami } from './access.ts';
import type { AccessPolicy } from './api-keys.ts';
import { registerCaptureRoute } from './capture.ts';
import { registerDashboard } from './dashboard.ts';
import { registerHealthRoutes, type ComponentProblem, type HealthSources } from './health.ts';
import { registerHistoryRoutes } from './history.ts';
import { registerListRoutes, type ListControl } from './lists.ts';
import { registerLiveFeed } from './live-feed.ts';
import { registerRuleRoutes, type RuleControl } from './rules.ts';
import { registerSchemaRoutes } from './schemas.ts';
import { registerModelRoutes, type ModelControl } from './models.ts';
import { registerModelPerformance } from './model-performance.ts';
import { noteRefusal, observeRequests } from './request-outcomes.ts';
import { traceRequests } from './request-trace.ts';

export interface ApiContext {
  ingest: EventIngest;
  feed: DecisionFeed;
  db: Database;
  metrics: PipelineMetrics;
  /** The api module's logger (RTDS_LOG_LEVELS api=…): Fastify's, with a child per request. */
  logger: Logger;
  decideTimeoutMs: number;
  /** Most events or labels in one POST. */
  maxBatch: number;
  /** How far a label's labeled_at may lie ahead of the clock (the events' own bounds are the ingest's). */
  timeBounds: EventTimeBounds;
  /** Where refused labels go (refused events take the ingest's path). */
  deadLetter(letter: DeadLetter): void;
  /** The feature set the processors compute. */
  features: Pick<FeatureSet, 'version' | 'specs'>;
  /** The latest one-second summary. */
  summary(): LiveSummary;
  /** Write buffered rows now (a read-after-write for a re-sent event). */
  flush(): Promise<void>;
  /** Whether this process can serve now, and if not why (store, backlog, lag, model registry), each reason by its component. */
  readiness(): { ready: boolean; reasons: string[]; problems: ComponentProblem[] };
  /** What the health page shows beyond readiness and metrics: the log's partitions, circuits, labels, the process. */
  health: HealthSources;
  /** The model registry: list, activate, roll back. */
  models: ModelControl;
  /** The block and allow lists. */
  lists: ListControl;
  /** Rule set versions. */
  rules: RuleControl;
  /** Who may call what (keys, rate per key); without keys, loopback and same-origin callers only. */
  access: AccessPolicy;
  /** When tracing: the ingest routes' requests are spans, their events' traces continue under them. */
  tracing?: Tracing | undefined;
  /** The traffic taken in, for recordings (GET /api/v1/capture). */
  traffic: TrafficTap;
}

/** A request body refused whole (not JSON, nested too deep, too many items): kept as text so it can be dead-lettered with the reason. */
class RefusedBody {
  constructor(
    readonly text: string,
    readonly reason: string,
    readonly status: 400 | 413,
  ) {}
}

/** The body as JSON, or why it is refused whole: a batch past the limit is counted without validating any of it. */
function decodeBody(text: string, maxBatch: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return new RefusedBody(text, `body is not valid JSON: ${(err as Error).message}`, 400);
  }
  if (Array.isArray(value) && value.length > maxBatch) return new RefusedBody(text, `a batch holds at most ${maxBatch} items (RTDS_MAX_BATCH_EVENTS); this one holds ${value.length}`, 413);
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) return new RefusedBody(text, `body nests deeper than ${MAX_JSON_DEPTH} levels`, 400);
  return value;
}

/** Routes that validate their bodies themselves, field by field, and dead-letter what they refuse. */
const INGEST_ROUTES: ReadonlySet<string> = new Set(['/api/v1/events', '/api/v1/decide', '/api/v1/labels']);

/** Routes whose requests begin (or continue) events' traces. */
const TRACED_ROUTES: ReadonlySet<string> = new Set(['/api/v1/events', '/api/v1/decide']);

const errorSchema = { type: 'object', properties: { error: { type: 'string' } }, additionalProperties: true };
const fieldErrors = { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } } };
const hashes = { body_hash: { type: 'string', description: 'sha256 of this body (canonical JSON, first 128 bits)' }, decided_body_hash: { type: 'string', description: 'sha256 of the body decided under this event_id' } };
const rejectionSchema = {
  type: 'object',
  properties: { index: { type: 'integer' }, event_id: { type: 'string' }, errors: fieldErrors, conflict: { type: 'object', description: 'set when refused as a re-send with another body', properties: hashes } },
};
const refusalSchema = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' }, accepted: { type: 'integer' }, rejected: { type: 'array', items: rejectionSchema } } };
const conflictSchema = { type: 'object', properties: { error: { type: 'string' }, code: { const: 'conflict' }, event_id: { type: 'string' }, ...hashes } };
/**
 * A contract's schema inside a route's: the OpenAPI document embeds it, so it goes without the
 * identity of a standalone document (served whole by GET /api/v1/schemas/{name}/{version}).
 */
function embedded<S extends { $id: string; $schema: string; title: string }>(schema: S): Omit<S, '$id' | '$schema' | 'title'> {
  const { $id: _id, $schema: _dialect, title: _title, ...rest } = schema;
  return rest;
}
const decisionSchema = embedded(decisionJsonSchema);
const eventSchema = embedded(eventJsonSchema);
const labelSchema = embedded(labelJsonSchema);
/** A decision as the store lists it: with its event's searched fields and its verdict. */
const storedDecisionSchema = {
  ...decisionSchema,
  properties: {
    ...decisionSchema.properties,
    merchant_id: { type: ['string', 'null'] },
    is_fraud: { type: ['boolean', 'null'], description: 'the verdict stored for the event: null when none is' },
  },
};
/** The 409 of a re-send whose body is not the one decided under its event id. */
function conflictAnswer(eventId: string | undefined, conflict: NonNullable<Rejection['conflict']>): Record<string, string | undefined> {
  return { error: `event_id ${conflictError(conflict.decided_body_hash, conflict.body_hash).reason}`, code: 'conflict', event_id: eventId, ...conflict };
}

/** Seconds a client is told to wait when the store is away: about the sink's retry pace at its cap. */
const STORE_RETRY_AFTER_S = 5;

// Bodies are validated by the contracts module (so refusals reach the dead-letter store);
// the route schemas document them.
const documentOnly = (): (() => true) => () => true;

/** The API on the server `serverFactory` gives (HttpPort's, bound before the system assembled); the caller hands it requests once ready. */
export async function buildServer(ctx: ApiContext, serverFactory: FastifyServerFactory): Promise<FastifyInstance> {
  const app = Fastify({ // pino's Logger is Fastify's logger; typing it as the base keeps the instance type plain.
    serverFactory,
    loggerInstance: ctx.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), bodyLimit: 16 * 1024 * 1024 });

  observeRequests(app, ctx.metrics);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, decodeBody(body as string, ctx.maxBatch)));

  // Every failure answers in one shape without internals: the real error goes to the log with the
  // request id. A store that is away is a 503 to retry, not a server fault. Fastify's own 4xx
  // (body too large, bad content type, a query out of bounds) keep their message.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: err.message, code: err.code ?? 'bad_request' });
    if (isStoreUnavailable(err)) {
      ctx.metrics.failed('store');
      req.log.warn({ err, req_id: req.id, route: req.routeOptions.url }, 'store unavailable: answered 503');
      return reply.code(503).header('retry-after', String(STORE_RETRY_AFTER_S)).send({ error: 'store unavailable', code: 'store_unavailable', request_id: req.id });
    }
    if (classifyStoreError(err) === 'data') {
      // What the client sent, refused by the store (a value past an index's size, say): its fault, said plainly.
      noteRefusal(req, 'the store refused a value of the request', { err });
      return reply.code(422).send({ error: `the store refused a value of the request: ${err.message.slice(0, 200)}`, code: 'unstorable', request_id: req.id });
    }
    ctx.metrics.failed('internal');
    req.log.error({ err, req_id: req.id, route: req.routeOptions.url }, 'request failed');
    return reply.code(500).send({ error: 'internal error', code: 'internal', request_id: req.id });
  });

  await app.register(fastifySwagger, {
    openapi: { info: { title: 'RTDS API', version: '1', description: 'Real-time decisions: events in, explained decisions out.' } },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyWebsocket);
  // After the WebSocket plugin's own onRequest hook, which marks upgrades so a refused one has its socket closed.
  await guardAccess(app, ctx.access);
  const requestSpan = traceRequests(app, ctx.tracing, TRACED_ROUTES);

  // What a client sends reaches SQL as parameters and JSONB: a NUL (%00 in a path) or a lone
  // surrogate would fail the statement, so it is refused here with where it was. The ingest
  // routes check their bodies field by field and dead-letter what they refuse.
  app.addHook('preValidation', async (req, reply) => {
    for (const [where, values] of [['path', req.params], ['query', req.query]] as const) {
      for (const [name, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        const problem = typeof value === 'string' ? unstorable(value) : undefined;
        if (problem !== undefined) return reply.code(400).send({ error: `${where} parameter ${name} ${problem}` });
      }
    }
    if (req.body === undefined || INGEST_ROUTES.has(req.routeOptions.url ?? '')) return;
    if (req.body instanceof RefusedBody) return reply.code(req.body.status).send({ error: req.body.reason });
    const bad = findUnstorable(req.body);
    if (bad !== undefined) return reply.code(400).send({ error: `${bad.path} ${bad.reason}` });
  });

  registerDashboard(app);
  registerWhoami(app, ctx.access);

  app.get('/healthz', { schema: { tags: ['ops'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['ops'], summary: 'Ready to serve: 200, or 503 with the reasons (store unreachable or failing, backlog, lag, model registry unreadable).' } }, async (_req, reply) => {
    const { ready, reasons } = ctx.readiness();
    return ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reasons });
  });
  app.get('/metrics', { schema: { tags: ['ops'] } }, async (_req, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()));
  app.get('/api/v1/summary', { schema: { tags: ['ops'] } }, async () => ctx.summary());
  // The features decisions are made from, as declared (docs/features.md): what `features` of an event mean.
  app.get('/api/v1/features', { schema: { tags: ['ops'] } }, async () => ({ feature_set: ctx.features.version, features: ctx.features.specs }));

  const eventsBody = { anyOf: [eventSchema, { type: 'array', items: eventSchema, maxItems: 10_000 }] };
  app.post(
    '/api/v1/events',
    {
      config: { role: 'ingest' },
      validatorCompiler: documentOnly,
      schema: {
        tags: ['events'],
        summary: 'Accept one event or a batch; decisions follow asynchronously. A re-send of an event id with the same body is accepted once more (decided once); with another body it is refused (409 when nothing was accepted).',
        body: eventsBody,
        response: {
          202: { type: 'object', properties: { accepted: { type: 'integer' }, event_ids: { type: 'array', items: { type: 'string' } }, rejected: { type: 'array', items: rejectionSchema } } },
          400: refusalSchema,
          409: refusalSchema,
          413: refusalSchema,
        },
      },
    },
    async (req, reply) => {
      if (req.body instanceof RefusedBody) {
        const rejection = ctx.ingest.rejectUndecodable('http', req.body.text, req.body.reason);
        return reply.code(req.body.status).send({ error: req.body.reason, accepted: 0, rejected: [rejection] });
      }
      const inputs = Array.isArray(req.body) ? req.body : [req.body];
      const trace = requestSpan(req)?.set('rtds.events', inputs.length);
      // Accepted even while the store is away: the processor's claim judges re-sends then.
      const result = await ctx.ingest.submit(inputs, 'http', { claims: 'when-reachable', trace });
      const body = { accepted: result.accepted.length, event_ids: result.accepted.map((a) => a.event.event_id), rejected: result.rejected };
      if (result.accepted.length > 0) return reply.code(202).send(body);
      if (result.rejected.every((r) => r.conflict !== undefined)) return reply.code(409).send({ error: 'every event re-sends a decided event id with another body', code: 'conflict', ...body });
      return reply.code(400).send({ error: 'no valid event', ...body });
    },
  );

  app.post(
    '/api/v1/decide',
    {
      config: { role: 'ingest' },
      validatorCompiler: documentOnly,
      schema: {
        tags: ['events'],
        summary: 'Submit one event and wait for its decision within the decide budget. A re-send with the same body answers the stored decision; with another body, 409.',
        body: eventSchema,
        response: { 200: decisionSchema, 400: refusalSchema, 409: conflictSchema, 413: refusalSchema, 503: errorSchema, 504: errorSchema },
      },
    },
    async (req, reply) => {
      if (req.body instanceof RefusedBody) {
        const rejection = ctx.ingest.rejectUndecodable('http', req.body.text, req.body.reason);
        return reply.code(req.body.status).send({ error: req.body.reason, rejected: [rejection] });
      }
      const started = performance.now();
      const eventId = (req.body as { event_id?: unknown } | null)?.event_id;
      // Waiting from before the claim is looked up: a decision made in between cannot be missed.
      // On Kafka the decision may come from another process, whichever body it was made for.
      const wait = typeof eventId === 'string' ? ctx.feed.waitFor(eventId, ctx.decideTimeoutMs) : undefined;
      try {
        const trace = requestSpan(req);
        const result = await ctx.ingest.submit([req.body], 'http', { claims: 'required', trace });
        const [accepted] = result.accepted;
        if (accepted === undefined || wait === undefined) {
          const [rejection] = result.rejected;
          if (rejection?.conflict !== undefined) return reply.code(409).send(conflictAnswer(rejection.event_id, rejection.conflict));
          return reply.code(400).send({ error: 'invalid event', rejected: result.rejected });
        }
        if (!accepted.appended) {
          // The body holding the id, again: its decision, from the store once it is there.
          await ctx.flush();
          const stored = await findDecision(ctx.db, accepted.event.event_id);
          if (stored !== undefined) return stored;
        }
        const outcome = await wait.promise;
        // The decision may have been made in another process (Kafka): this request's part of its trace is kept alike.
        if (outcome !== 'timeout') trace?.keep(keepReason(outcome));
        if (outcome === 'timeout') return reply.code(504).send({ error: `no decision within ${ctx.decideTimeoutMs} ms; it will still be made and stored`, event_id: eventId });
        // Another body sent with this id was claimed first; the processor dead-letters this one.
        if (outcome.body_hash !== undefined && outcome.body_hash !== accepted.body_hash) {
          return reply.code(409).send(conflictAnswer(accepted.event.event_id, { body_hash: accepted.body_hash, decided_body_hash: outcome.body_hash }));
        }
        // Answered once stored: a crash after the answer cannot lose the decision the caller acted on.
        if (await settlesWithin(ctx.flush(), ctx.decideTimeoutMs - (performance.now() - started))) return outcome;
        return reply
          .code(503)
          .header('retry-after', String(STORE_RETRY_AFTER_S))
          .send({ error: 'the decision is made but the store has not confirmed it yet; ask again with the same event', code: 'store_unavailable', event_id: eventId });
      } finally {
        wait?.cancel();
      }
    },
  );

  app.get(
    '/api/v1/decisions',
    {
      schema: {
        tags: ['decisions'],
        summary: 'Decisions, newest first, with filters (all of them together, each read through an index) and cursor pagination either way.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            decision: { enum: [...OUTCOMES] },
            event_type: { type: 'string' },
            channel: { type: 'string' },
            user_id: { type: 'string' },
            merchant_id: { type: 'string' },
            min_score: { type: 'number', minimum: 0, maximum: 1 },
            max_score: { type: 'number', minimum: 0, maximum: 1 },
            since: { type: 'string', format: 'date-time', description: 'decision time, inclusive' },
            until: { type: 'string', format: 'date-time', description: 'decision time, exclusive' },
            rule: { type: 'string', description: 'a code among the reasons: a rule that fired, or a model or fallback reason code' },
            label: { enum: [...LABEL_FILTERS], description: 'the stored verdict: fraud, legit (not fraud) or unlabelled' },
            late: { type: 'boolean' },
            degraded: { type: 'boolean', description: 'true: decided down the degradation ladder (degraded is not none)' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            cursor: { type: 'string', description: 'next_cursor (older decisions) or prev_cursor (newer) of a page' },
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: storedDecisionSchema }, next_cursor: { type: ['string', 'null'] }, prev_cursor: { type: ['string', 'null'] } } },
          400: errorSchema,
        },
      },
    },
    async (req, reply) => {
      try {
        return await listDecisions(ctx.db, req.query as DecisionQuery);
      } catch (err) {
        if (err instanceof CursorError) return reply.code(400).send({ error: err.message });
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/events/:event_id',
    {
      schema: {
        tags: ['events'],
        summary:
          'One event with its decision, features by name with their declarations, the contributions its scorer measured, reasons and label — or why it was refused. The user’s history: GET /api/v1/decisions?user_id=….',
        params: { type: 'object', properties: { event_id: { type: 'string' } }, required: ['event_id'] },
      },
    },
    async (req, reply) => {
      const { event_id } = req.params as { event_id: string };
      const [event, decision, label] = await Promise.all([findEvent(ctx.db, event_id), findDecision(ctx.db, event_id), findLabel(ctx.db, event_id)]);
      if (event === undefined) {
        const refused = await listDeadLetters(ctx.db, 10, event_id);
        if (refused.length > 0) return { event_id, status: 'dead_letter', dead_letters: refused };
        return reply.code(404).send({ error: `event ${event_id} not found` });
      }
      const { features, feature_set, ...rest } = decision ?? {};
      const reasons = decision?.reasons ?? [];
      return {
        event_id,
        status: decision === undefined ? 'pending' : 'decided',
        event,
        decision: decision === undefined ? null : rest,
        features: features ?? null,
        feature_set: feature_set ?? null,
        // Declarations are known for the set this server computes; a vector of another set has its names at most.
        feature_declarations: feature_set === ctx.features.version ? Object.fromEntries(ctx.features.specs.map((spec) => [spec.name, spec])) : null,
        // What the scorer measured each reason adding, largest first (explained decisions only: see the model's explainFrom).
        contributions: reasons.filter((r) => r.contribution !== undefined).sort((a, b) => b.contribution! - a.contribution!),
        reasons,
        label: label ?? null,
      };
    },
  );

  app.get(
    '/api/v1/dead-letters',
    {
      schema: {
        tags: ['events'],
        summary: 'Refused inputs, newest first, with the reasons.',
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, event_id: { type: 'string' } } },
      },
    },
    async (req) => {
      const q = req.query as { limit: number; event_id?: string };
      return { items: await listDeadLetters(ctx.db, q.limit, q.event_id) };
    },
  );

  app.post(
    '/api/v1/labels',
    {
      config: { role: 'ingest' },
      validatorCompiler: documentOnly,
      schema: {
        tags: ['labels'],
        summary: 'Ground truth for past events (chargebacks, analyst verdicts); refused labels are dead-lettered with the reasons.',
        body: { anyOf: [labelSchema, { type: 'array', items: labelSchema }] },
        response: { 202: refusalSchema, 400: refusalSchema, 413: refusalSchema },
      },
    },
    async (req, reply) => {
      if (req.body instanceof RefusedBody) {
        const errors = [{ field: '(body)', reason: req.body.reason }];
        ctx.deadLetter({ source: 'labels', payload: req.body.text, errors });
        return reply.code(req.body.status).send({ error: req.body.reason, accepted: 0, rejected: [{ index: 0, errors }] });
      }
      const inputs: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
      const labels = [];
      const rejected = [];
      for (const [index, input] of inputs.entries()) {
        const checked = validateLabel(input, { timeBounds: ctx.timeBounds });
        if (checked.ok) labels.push(checked.label);
        else {
          const id = (input as { event_id?: unknown } | null)?.event_id;
          const event_id = typeof id === 'string' ? id : undefined;
          ctx.deadLetter({ source: 'labels', event_id, payload: payloadText(input), errors: checked.errors });
          rejected.push({ index, event_id, errors: checked.errors });
        }
      }
      if (labels.length > 0) {
        await ctx.db.batch([upsertLabels(labels)]);
        ctx.traffic.labels(labels);
      }
      if (labels.length === 0) return reply.code(400).send({ error: 'no valid label', accepted: 0, rejected });
      return reply.code(202).send({ accepted: labels.length, rejected });
    },
  );

  registerModelRoutes(app, ctx.models);
  registerModelPerformance(app, ctx.models);
  registerListRoutes(app, ctx.lists);
  registerRuleRoutes(app, ctx.rules);
  registerHistoryRoutes(app, ctx.db);
  registerSchemaRoutes(app);
  registerCaptureRoute(app, ctx.traffic, ctx.logger);
  registerLiveFeed(app, ctx);
  registerHealthRoutes(app, ctx);
  return app;
}
