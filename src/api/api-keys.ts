// API keys and the access policy as configured (RTDS_API_KEYS): parsed by the configuration without loading the HTTP server.

export const ROLES = ['ingest', 'read', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** What a route needs: a role, or nothing (health, the dashboard's page, the API docs). */
export type Need = Role | 'public';

export interface ApiKey {
  role: Role;
  key: string;
}

/** Who may call: the keys and their rate, or, without keys, which host names a browser may address. */
export interface AccessPolicy {
  keys: readonly ApiKey[];
  /** Requests per minute per key (0: no limit). */
  rateLimitPerMinute: number;
  /** The interface the server binds (RTDS_HOST): served by its name too unless it is a wildcard. */
  bindHost: string;
  /** Host names served without keys beside loopback (RTDS_ALLOWED_HOSTS); `*` any. */
  allowedHosts: readonly string[];
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
