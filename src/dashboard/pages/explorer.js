// Event explorer: stored decisions searched by every filter the API has, paged either way; the URL holds the whole view, so it can be shared.
import { api, ApiError } from '../lib/api.js';
import { decisionTable } from '../lib/decisions.js';
import { h, notice, stylesheet } from '../lib/dom.js';

/** The search's parameters, as the API names them: the URL's query carries exactly these. */
const FILTERS = ['decision', 'event_type', 'channel', 'user_id', 'merchant_id', 'min_score', 'max_score', 'since', 'until', 'rule', 'label', 'late', 'degraded'];
const PAGE_SIZES = ['25', '50', '100', '200'];
const DEFAULT_LIMIT = '50';

/** A choice of values, the first one (empty) meaning any. */
const choice = (name, label, options, value) =>
  h('label', {}, label, h('select', { name }, ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
const text = (name, label, value, attrs = {}) => h('label', {}, label, h('input', { name, value: value ?? '', autocomplete: 'off', ...attrs }));

/** An RFC 3339 time as a datetime-local input shows it: the browser's local time, to the second. */
function localInput(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : new Date(t.getTime() - t.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

function filterForm(query, onSearch) {
  const value = (name) => query.get(name) ?? '';
  const any = ['', 'any'];
  const form = h(
    'form',
    { class: 'inline filters', role: 'search', 'aria-label': 'Filter decisions' },
    choice('decision', 'decision', [any, ['approved', 'approved'], ['flagged', 'flagged'], ['rejected', 'rejected']], value('decision')),
    text('event_type', 'event type', value('event_type'), { list: 'event-types' }),
    h('datalist', { id: 'event-types' }, ...['transaction', 'transfer', 'withdrawal', 'login', 'signup', 'password_change'].map((v) => h('option', { value: v }))),
    text('channel', 'channel', value('channel'), { list: 'channels' }),
    h('datalist', { id: 'channels' }, ...['web', 'mobile', 'pos', 'atm', 'api'].map((v) => h('option', { value: v }))),
    text('user_id', 'user', value('user_id')),
    text('merchant_id', 'merchant', value('merchant_id')),
    text('min_score', 'score from', value('min_score'), { type: 'number', min: 0, max: 1, step: 'any', inputmode: 'decimal', class: 'score' }),
    text('max_score', 'score to', value('max_score'), { type: 'number', min: 0, max: 1, step: 'any', inputmode: 'decimal', class: 'score' }),
    text('since', 'decided from', localInput(value('since')), { type: 'datetime-local', step: 1 }),
    text('until', 'decided before', localInput(value('until')), { type: 'datetime-local', step: 1 }),
    text('rule', 'rule or reason code', value('rule'), { spellcheck: 'false' }),
    choice('label', 'label', [any, ['fraud', 'fraud'], ['legit', 'not fraud'], ['unlabelled', 'unlabelled']], value('label')),
    choice('late', 'late', [any, ['true', 'late'], ['false', 'on time']], value('late')),
    choice('degraded', 'degraded', [any, ['true', 'degraded'], ['false', 'not degraded']], value('degraded')),
    choice('limit', 'per page', [...new Set([...PAGE_SIZES, value('limit') || DEFAULT_LIMIT])].map((n) => [n, n]), value('limit') || DEFAULT_LIMIT),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'), h('a', { href: '/explorer', 'data-link': true, class: 'button' }, 'Clear')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [name, raw] of new FormData(form)) {
      const v = String(raw).trim();
      if (v === '' || (name === 'limit' && v === DEFAULT_LIMIT)) continue;
      // The URL keeps times as the API takes them (RFC 3339, UTC), whatever the browser's zone.
      next.set(name, name === 'since' || name === 'until' ? new Date(v).toISOString() : v);
    }
    onSearch(next);
  });
  return form;
}

/** The explorer's URL for `query` with `cursor` in place of the current one. */
function pageUrl(query, cursor) {
  const next = new URLSearchParams(query);
  next.delete('cursor');
  if (cursor) next.set('cursor', cursor);
  return `/explorer?${next}`;
}

/** Newer / older page links; a missing one is shown, disabled, so the pair keeps its place. */
function pager(query, page) {
  const link = (cursor, label, rel) => (cursor === null ? h('span', { class: 'button', 'aria-disabled': 'true' }, label) : h('a', { href: pageUrl(query, cursor), 'data-link': true, class: 'button', rel }, label));
  return h('nav', { class: 'pager', 'aria-label': 'Pages of results' }, link(page.prev_cursor, '← Newer', 'prev'), link(page.next_cursor, 'Older →', 'next'));
}

export async function render(main, { query, navigate }) {
  stylesheet('/pages/explorer.css');
  const search = {};
  for (const name of [...FILTERS, 'limit', 'cursor']) if (query.get(name)) search[name] = query.get(name);
  search.limit ??= DEFAULT_LIMIT;
  const results = h('section', { id: 'results', 'aria-live': 'polite', 'aria-busy': 'true' }, notice('Searching…'));
  main.append(
    h('h1', {}, 'Event explorer'),
    h('section', { class: 'panel' }, filterForm(query, (next) => navigate(`/explorer${next.size > 0 ? `?${next}` : ''}`, { replace: true }))),
    results,
  );
  let page;
  try {
    page = await api('decisions', { query: search });
  } catch (err) {
    // A filter the API refuses (a malformed time, a stale cursor) is said beside the form, which stays usable.
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
    results.replaceChildren(notice(err.message, 'error'));
    results.setAttribute('aria-busy', 'false');
    return;
  }
  const shown = page.items.length === 0 ? notice(query.has('cursor') ? 'No more decisions this way.' : 'No decision matches these filters.') : decisionTable(page.items, { link: (field, value) => `/explorer?${new URLSearchParams({ [field]: value })}` });
  results.replaceChildren(h('h2', {}, `${page.items.length} decision${page.items.length === 1 ? '' : 's'}, newest first`), shown, pager(query, page));
  results.setAttribute('aria-busy', 'false');
}
