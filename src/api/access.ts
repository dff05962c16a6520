// Who may call what: API keys with a role each — ingest events, read, or administer (models, rules, lists).
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const ROLES = ['ingest', 'read', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** What a route needs: a role, or nothing (health, the dashboard's page, the API docs). */
export type Need = Role | 'public';

export interface ApiKey {
  role: Role;
  key: string;
}

export class ApiKeyFormatError extends Error {
  override readonly name = 'ApiKeyFormatError';
}

/** Shorter keys are refused: a key is a secret, not a password to remember. */
const MIN_KEY_LENGTH = 16;

/** `role:key,role:key…` (RTDS_API_KEYS); empty means no keys, the API open as on a developer's machine. */
export function parseApiKeys(raw: string): ApiKey[] {
  if (raw.trim() === '') return [];
  const keys = raw.split(',').map((entry, i) => {
    const colon = entry.indexOf(':');
    const role = entry.slice(0, colon).trim();
    const key = entry.slice(colon + 1).trim();
    if (colon < 0 || !(ROLES as readonly string[]).includes(role)) throw new ApiKeyFormatError(`entry ${i + 1} must be role:key with role one of ${ROLES.join(', ')}`);
    if (key.length < MIN_KEY_LENGTH) throw new ApiKeyFormatError(`entry ${i + 1} (${role}): a key needs at least ${MIN_KEY_LENGTH} characters`);
    return { role: role as Role, key };
  });
  if (new Set(keys.map((k) => k.key)).size !== keys.length) throw new ApiKeyFormatError('the same key is listed twice');
  return keys;
}

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

/** The key a request carries: `Authorization: Bearer …`, `X-API-Key`, or (WebSocket only, browsers cannot set headers) `?api_key=`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  if (request.routeOptions.url === '/ws') {
    const query = request.query as { api_key?: unknown } | undefined;
    if (typeof query?.api_key === 'string') return query.api_key;
  }
  return undefined;
}

/**
 * Check every request against the keys, before its body is read. With no keys configured the API
 * is open (the embedded default binds 127.0.0.1). A refusal is answered 401 (no or unknown key)
 * or 403 (a key without the role) and logged with the route and the caller's address, never the key.
 */
export function guardAccess(app: FastifyInstance, keys: readonly ApiKey[]): void {
  if (keys.length === 0) return;
  const roles = new Map(keys.map((k) => [digest(k.key), k.role]));
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const need = needOf(request);
    if (need === 'public') return;
    const key = presentedKey(request);
    const role = key === undefined ? undefined : roles.get(digest(key));
    const route = `${request.method} ${request.routeOptions.url ?? request.url}`;
    if (role === undefined) {
      request.log.warn({ route, ip: request.ip, need, key: key === undefined ? 'missing' : 'unknown' }, 'refused: no valid API key');
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: key === undefined ? `an API key with the ${need} role is required` : 'unknown API key' });
    }
    if (!grants(role, need)) {
      request.log.warn({ route, ip: request.ip, need, role }, 'refused: the API key lacks the role');
      return reply.code(403).send({ error: `this API key has the ${role} role; ${route} needs ${need}` });
    }
  });
}
