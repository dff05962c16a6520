// Who may call what: API keys with a role each (ingest, read, administer) and a rate per key; without keys, loopback and same-origin callers only.
import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clip } from '../observe/index.ts';
import { noteRefusal } from './request-outcomes.ts';
import type { AccessPolicy, Need, Role } from './api-keys.ts';

/** admin may do everything; read and ingest only their own. */
const grants = (role: Role, need: Role): boolean => role === 'admin' || role === need;

const digest = (key: string): string => createHash('sha256').update(key).digest('hex');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; without it, the path decides (see `needOf`). */
    role?: Need;
  }
}

/**
 * A route's need: its own `config.role`, else by path — the API, the live feed and the metrics
 * need `read` to GET and `admin` for anything else (a write route that forgot its role is closed,
 * not open); the rest (health, dashboard page, docs) is public.
 */
function needOf(request: FastifyRequest): Need {
  const declared = request.routeOptions.config.role;
  if (declared !== undefined) return declared;
  const url = request.routeOptions.url ?? request.url;
  const guarded = url.startsWith('/api/') || url === '/ws' || url === '/metrics';
  if (!guarded) return 'public';
  return request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'admin';
}

/**
 * The key a request carries: `Authorization: Bearer …` (the scheme in any case, RFC 7235),
 * `X-API-Key`, or (WebSocket only, browsers cannot set headers) `?api_key=`.
 */
function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth !== undefined && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  if (request.routeOptions.url === '/ws') {
    const query = request.query as { api_key?: unknown } | undefined;
    if (typeof query?.api_key === 'string') return query.api_key;
  }
  return undefined;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** The name in a Host header (or an allowed-hosts entry), without its port, IPv6 in brackets, lower case. */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1) || h;
  const colon = h.indexOf(':');
  if (colon < 0) return h;
  // Two colons or more: a bare IPv6 address (a setting), not name:port (a header).
  return h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : `[${h}]`;
}

/**
 * Without keys, a page from another site must not reach the API through the user's browser:
 * by DNS rebinding (its own name resolving to 127.0.0.1, so the Host header names it: refused 421)
 * or by a cross-site request or WebSocket (an Origin that is not the server's own: refused 403).
 * Clients that send no Origin (curl, SDKs, services) are not browsers and pass.
 */
function guardKeyless(app: FastifyInstance, policy: AccessPolicy): void {
  const anyHost = policy.allowedHosts.includes('*');
  const named = policy.allowedHosts.filter((h) => h !== '*').map(hostName);
  const served = new Set([...LOOPBACK, ...named, ...(WILDCARDS.has(policy.bindHost) ? [] : [hostName(policy.bindHost)])]);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const host = request.headers.host;
    if (host !== undefined && !anyHost && !served.has(hostName(host))) {
      noteRefusal(request, 'a host name this server does not answer without keys', { host: clip(host) });
      return reply.code(421).send({
        error: `Host "${clip(host)}" is not served: without API keys RTDS answers only ${[...served].join(', ')}. Add the name to RTDS_ALLOWED_HOSTS (e.g. behind a proxy) or set RTDS_API_KEYS.`,
      });
    }
    const origin = request.headers.origin;
    if (origin === undefined) return;
    // `null` (a sandboxed or file page) and anything unparsable have no host: refused.
    const from = URL.canParse(origin) ? new URL(origin).host : undefined;
    const sameOrigin = from !== undefined && (from === host?.toLowerCase() || named.includes(hostName(from)));
    if (!sameOrigin) {
      noteRefusal(request, 'a cross-origin request without keys', { origin: clip(origin), host: clip(host ?? '') });
      return reply.code(403).send({ error: `Origin "${clip(origin)}" is not this server's: without API keys RTDS answers browsers only from its own pages (or a name in RTDS_ALLOWED_HOSTS).` });
    }
  });
}

/**
 * At most `rateLimitPerMinute` requests per key in each minute; past it, 429 with Retry-After.
 * Counted per request, not per event: one batch of events is one request. Public routes are not counted.
 */
async function limitRate(app: FastifyInstance, perMinute: number, keyOf: (request: FastifyRequest) => string): Promise<void> {
  await app.register(fastifyRateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: keyOf,
    allowList: (request) => needOf(request) === 'public',
    // Thrown by the plugin, answered by the server's error handler in the one error shape.
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'rate_limited',
      message: `rate limit reached: at most ${context.max} requests per minute per API key (RTDS_RATE_LIMIT); retry in ${context.after}`,
    }),
  });
}

/**
 * Check every request, before its body is read. With keys: against the keys (401 no or unknown key,
 * 403 a key without the role; logged with the route, the role needed and the caller's address, never the key), then
 * the rate per key. Without keys the API is open to loopback callers and the server's own pages
 * (the embedded default binds 127.0.0.1), see `guardKeyless`.
 */
export async function guardAccess(app: FastifyInstance, policy: AccessPolicy): Promise<void> {
  const { keys } = policy;
  if (keys.length === 0) return guardKeyless(app, policy);
  const roles = new Map(keys.map((k) => [digest(k.key), k.role]));
  /** The digest of each admitted request's key: what its rate is counted under. */
  const admitted = new WeakMap<FastifyRequest, string>();
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const need = needOf(request);
    if (need === 'public') return;
    const key = presentedKey(request);
    const id = key === undefined ? undefined : digest(key);
    const role = id === undefined ? undefined : roles.get(id);
    if (role === undefined) {
      noteRefusal(request, 'no valid API key', { need, key: key === undefined ? 'missing' : 'unknown' });
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: key === undefined ? `an API key with the ${need} role is required` : 'unknown API key' });
    }
    if (!grants(role, need)) {
      noteRefusal(request, 'the API key lacks the role', { need, role });
      const route = clip(`${request.method} ${request.routeOptions.url ?? request.url}`);
      return reply.code(403).send({ error: `this API key has the ${role} role; ${route} needs ${need}` });
    }
    admitted.set(request, id!);
  });
  // Registered after the key check, so its hooks run after it: a refused request is not counted.
  if (policy.rateLimitPerMinute > 0) await limitRate(app, policy.rateLimitPerMinute, (request) => admitted.get(request) ?? request.ip);
}

/** What each role may do, in the words the dashboard shows. */
export const ROLE_SCOPES: Readonly<Record<Role, string>> = {
  read: 'read decisions, events, models, rules, lists, health and the live feed',
  ingest: 'send events and labels (a reviewer sets a label from an event’s page)',
  admin: 'everything read and ingest may, and activate or roll back models and rule sets, run backtests and change lists',
};

/**
 * `GET /api/v1/whoami`: whether this server asks for keys, and the role of the key the request
 * carries (never the key) — how the dashboard tells its user what the key entered allows.
 */
export function registerWhoami(app: FastifyInstance, policy: AccessPolicy): void {
  const roles = new Map(policy.keys.map((k) => [digest(k.key), k.role]));
  app.get('/api/v1/whoami', { config: { role: 'public' }, schema: { tags: ['ops'], summary: 'Whether API keys are required, and the role of the key presented.' } }, async (request) => {
    if (policy.keys.length === 0) return { keys_required: false, role: null, may: 'everything, from this machine (no keys are set)', roles: ROLE_SCOPES };
    const key = presentedKey(request);
    const role = key === undefined ? undefined : roles.get(digest(key));
    return { keys_required: true, role: role ?? null, may: role === undefined ? (key === undefined ? 'nothing: no key entered' : 'nothing: unknown key') : ROLE_SCOPES[role], roles: ROLE_SCOPES };
  });
}
