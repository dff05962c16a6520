// Admin actions: run one call, then say what it did or, in the server's words, why it was refused.
import { ApiError } from '../../lib/api.js';
import { h, notice } from '../../lib/dom.js';

/** What a refusal's status means, said before the server's own reason. */
const REFUSED = { 400: 'Refused', 401: 'No valid API key', 403: 'Not allowed', 404: 'Not found', 409: 'Refused', 413: 'Too large', 422: 'Invalid', 429: 'Too many requests', 503: 'Unavailable' };

/** A failed call in words: what kind of refusal, the server's reason, and what to do about a key. */
export function refusal(err) {
  if (!(err instanceof ApiError)) return `Failed: ${err.message}`;
  const key = err.status === 401 || err.status === 403 ? ' — enter a key with the role it needs (API key, top right).' : '';
  return `${REFUSED[err.status] ?? `HTTP ${err.status}`}: ${err.message}${key}`;
}

/** Where a section says what its last action did; read out when it changes. */
export const statusLine = (id) => h('div', { id, class: 'status-line', 'aria-live': 'polite' });

/**
 * Run `call` with `button` disabled, then show in `status` the words it resolves to, or why it
 * failed. Resolves to whether it succeeded.
 */
export async function act(status, button, call) {
  button.disabled = true;
  status.replaceChildren(notice('Working…'));
  try {
    status.replaceChildren(notice(await call(), 'ok'));
    return true;
  } catch (err) {
    status.replaceChildren(notice(refusal(err), 'error'));
    return false;
  } finally {
    button.disabled = false;
  }
}
