// Every answered request counted and timed by route and status (/metrics); every refused one (4xx) logged once, with its route and reason.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clip, UNMATCHED_ROUTE, type PipelineMetrics } from '../observe/index.ts';

/** What the code that refused a request knows beyond its answer: a word on why, and fields for the log line (never a key). */
interface Refusal {
  what: string;
  fields: Record<string, unknown>;
}

const refusals = new WeakMap<FastifyRequest, Refusal>();

/** Refusals that may be an attack or a misconfigured client: logged at warn; the rest of 4xx at info. */
const WARNED: ReadonlySet<number> = new Set([401, 403, 421, 429]);

/** The reason is read from the start of the answer: a refused batch's answer lists every rejection after it. */
const REASON_SCAN_CHARS = 2048;
/** `message` (Fastify's own answers, such as a 404) or `error` (RTDS's one error shape). */
const REASON = /"(?:message|error)":"((?:[^"\\]|\\.)*)"/;

/** Say why `request` is refused, with fields for its log line; the line is written once the answer is sent. */
export function noteRefusal(request: FastifyRequest, what: string, fields: Record<string, unknown> = {}): void {
  refusals.set(request, { what, fields });
}

/** Register the hooks: before any route, so that every route and the not-found answer are observed. */
export function observeRequests(app: FastifyInstance, metrics: PipelineMetrics): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 400 && reply.statusCode < 500) logRefusal(request, reply.statusCode, payload);
    return payload;
  });
  // The route's pattern, never its URL: an id in a path, or a scanner's made-up paths, would each add series.
  app.addHook('onResponse', async (request, reply) => {
    metrics.answered(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
  });
}

function logRefusal(request: FastifyRequest, status: number, payload: unknown): void {
  const noted = refusals.get(request);
  const line = {
    route: `${request.method} ${request.routeOptions.url ?? `(${UNMATCHED_ROUTE})`}`,
    // The path only: a query may carry a key (?api_key= on /ws).
    path: clip(request.url.split('?', 1)[0]!),
    status,
    // Fastify's not-found answer quotes the URL, query and all.
    reason: status === 404 && request.routeOptions.url === undefined ? 'no such route' : clip(reasonOf(payload), 256),
    ip: request.ip,
    ...noted?.fields,
  };
  const message = noted === undefined ? 'refused' : `refused: ${noted.what}`;
  if (WARNED.has(status)) request.log.warn(line, message);
  else request.log.info(line, message);
}

function reasonOf(payload: unknown): string {
  if (typeof payload !== 'string') return '';
  const found = REASON.exec(payload.slice(0, REASON_SCAN_CHARS));
  if (found === null) return '';
  try {
    return JSON.parse(`"${found[1]}"`) as string;
  } catch {
    return found[1]!;
  }
}
