// The HTTP ingest's spans: one per request to a traced route, under the caller's W3C traceparent when it sends one.
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LocalSpan, Tracing } from '../observe/tracing/index.ts';

/**
 * A SERVER span from each request to one of `routes` until its answer is sent (or the client
 * goes); the events it appends hang under it. Returns how a handler finds its request's span.
 */
export function traceRequests(app: FastifyInstance, tracing: Tracing | undefined, routes: ReadonlySet<string>): (req: FastifyRequest) => LocalSpan | undefined {
  if (tracing === undefined) return () => undefined;
  const spans = new WeakMap<FastifyRequest, LocalSpan>();
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (route === undefined || !routes.has(route)) return;
    spans.set(req, tracing.span(`${req.method} ${route}`, SpanKind.SERVER, tracing.extract(req.headers), { 'http.request.method': req.method, 'http.route': route }));
  });
  app.addHook('onResponse', async (req, reply) => {
    const span = spans.get(req);
    if (span === undefined) return;
    span.set('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.fail(`answered ${reply.statusCode}`);
    span.end();
  });
  app.addHook('onRequestAbort', async (req) => spans.get(req)?.fail('the client closed the request').end());
  return (req) => spans.get(req);
}
