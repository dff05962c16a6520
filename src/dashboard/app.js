// The dashboard: one page app. Each path is a page module under /pages that renders into <main>;
// links move through history, so every view has a URL to share.
import { api, apiKey, ApiError } from './lib/api.js';
import { live } from './lib/live.js';
import { notice } from './lib/dom.js';
import { untilStarted } from './lib/starting.js';

const ROUTES = [
  { path: /^\/$/, page: 'metrics', title: 'Real-time metrics' },
  { path: /^\/explorer$/, page: 'explorer', title: 'Event explorer' },
  { path: /^\/events\/([^/]+)$/, page: 'event', title: 'Event', nav: 'explorer' },
  { path: /^\/model$/, page: 'model', title: 'Model performance' },
  { path: /^\/health$/, page: 'health', title: 'System health' },
  { path: /^\/admin$/, page: 'admin', title: 'Admin' },
];

const main = document.getElementById('page');
let cleanup;
let rendering = 0;

/** Go to `url` (path and query) within the app; `replace` keeps the history entry (a filter change). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  return render();
}

async function render() {
  const ticket = ++rendering;
  const route = ROUTES.find((r) => r.path.test(location.pathname));
  cleanup?.();
  cleanup = undefined;
  // Each view renders into a box of its own: one still loading when the next begins writes into a detached box, not the new view.
  const view = document.createElement('div');
  view.className = 'view';
  main.replaceChildren(view);
  for (const a of document.querySelectorAll('nav a')) a.toggleAttribute('aria-current', a.dataset.page === (route?.nav ?? route?.page));
  if (route === undefined) {
    document.title = 'RTDS — not found';
    view.append(notice(`No page at ${location.pathname}.`, 'error'));
    return;
  }
  document.title = `RTDS — ${route.title}`;
  const params = route.path.exec(location.pathname).slice(1).map(decodeURIComponent);
  try {
    const module = await import(`./pages/${route.page}.js`);
    if (ticket !== rendering) return;
    const done = await module.render(view, { params, query: new URLSearchParams(location.search), navigate, live });
    // A newer view began while this one rendered: this one is already off screen.
    if (ticket !== rendering) done?.();
    else cleanup = done;
  } catch (err) {
    if (ticket !== rendering) return;
    const words = err instanceof ApiError && (err.status === 401 || err.status === 403) ? `${err.message} — set an API key with the role this page needs (API key, top right).` : err.message;
    view.append(notice(words, 'error'));
  }
}

// Same-origin links marked data-link stay in the app; the rest (API docs, metrics) load as pages.
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-link]');
  if (a === null || a === undefined || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render());

function showConnection(state) {
  const pill = document.getElementById('connection');
  pill.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…';
  pill.dataset.state = state;
  pill.className = `pill ${state === 'live' ? 'pill-on' : 'pill-off'}`;
}

function keyDialog() {
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  const role = document.getElementById('key-role');
  document.getElementById('key-button').addEventListener('click', async () => {
    input.value = apiKey.get();
    role.textContent = '';
    dialog.showModal();
    try {
      const who = await api('whoami');
      role.textContent = !who.keys_required ? `This server asks for no key: ${who.may}.` : who.role === null ? `No role: ${who.may}.` : `This key's role: ${who.role} — may ${who.may}.`;
    } catch (err) {
      role.textContent = err.message;
    }
  });
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'save') apiKey.set(input.value.trim());
    else if (dialog.returnValue === 'forget') apiKey.set('');
    else return;
    live.restart();
    render();
  });
}

// A key given the old way, in the fragment (/#key=…), moves to the tab's storage and leaves the URL.
const fragmentKey = new URLSearchParams(location.hash.slice(1)).get('key');
if (fragmentKey) {
  apiKey.set(fragmentKey);
  history.replaceState(null, '', location.pathname + location.search);
}
live.on('state', showConnection);
live.on('summary', (s) => {
  document.getElementById('model-version').textContent = s.model_version ?? 'none (rules only)';
  document.getElementById('rules-version').textContent = s.rules_version;
});
keyDialog();
// A first start serves this page while its model trains: the views wait for the API.
await untilStarted(document.getElementById('starting'));
live.start();
render();
