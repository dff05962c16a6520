// The API as the pages call it: JSON in and out, the tab's API key as a header, errors with the server's reason.
const KEY = 'rtds.apiKey';

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) ?? '',
  set: (key) => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY)),
};

/** A refused or failed call: the HTTP status and the server's own words. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Call `path` (under the API root or absolute); `body` is sent as JSON, or as text when a string. */
export async function api(path, { method = 'GET', body, query } = {}) {
  const url = new URL(path.startsWith('/') ? path : `/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  const headers = {};
  const key = apiKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = typeof body === 'string' && !/^\s*[[{]/.test(body) ? 'text/plain' : 'application/json';
  }
  const response = await fetch(url, { method, headers, body: payload });
  const text = await response.text();
  let parsed;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}
