// Building the pages' DOM: elements from tags, attributes and children, and number formats.
/** `h('td', { class: 'num' }, '12')`: attributes (on* as listeners), then children (strings or nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
export const fmt = {
  number: (n) => (n === null || n === undefined || Number.isNaN(n) ? '–' : number.format(n)),
  score: (s) => (s === null || s === undefined ? '–' : Number(s).toFixed(3)),
  ms: (ms) => (ms === null || ms === undefined ? '–' : `${Number(ms).toFixed(ms < 10 ? 2 : 0)} ms`),
  percent: (x) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)} %`),
  time: (iso) => new Date(iso).toLocaleTimeString(),
  dateTime: (iso) => new Date(iso).toLocaleString(),
};

/** A decision as a badge: the word, not the colour alone, carries it. */
export const decisionBadge = (decision) => h('span', { class: `badge d-${decision}` }, decision);

/** A message in place of a page's content: loading, empty or failed. */
export const notice = (text, kind = 'info') => h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);

/** Load a page's own stylesheet (`/pages/<page>.css`) once. */
export function stylesheet(href) {
  if (document.querySelector(`link[href="${href}"]`) !== null) return;
  document.head.append(h('link', { rel: 'stylesheet', href }));
}
