// Admin: the block and allow lists — their entries by list and field, adding one, removing one, and the lists' version.
import { api } from '../../lib/api.js';
import { h, notice } from '../../lib/dom.js';
import { act, refusal, statusLine } from './action.js';

/** What each list does to an event carrying a listed value (docs/rules.md). */
const LISTS = {
  block: { title: 'Block list', effect: 'An event with a blocked value is rejected, whatever its score.' },
  allow: { title: 'Allow list', effect: 'An event with an allowed value is approved unless a rule is stricter.' },
};
// The fields the server lists by (LIST_FIELDS in src/decide/watchlists.ts); it refuses any other with its reason, shown here.
const FIELDS = ['user_id', 'ip_address', 'device_id', 'country', 'merchant_id'];

const options = (values) => values.map((v) => h('option', { value: v }, v));

export function listSection() {
  const status = statusLine('lists-status');
  const version = h('span', { id: 'lists-version' }, '–');
  const entries = h('div', { id: 'list-entries' });

  const list = h('select', { id: 'list-kind' }, ...options(Object.keys(LISTS)));
  const field = h('select', { id: 'list-field' }, ...options(FIELDS));
  const value = h('input', { id: 'list-value', required: true, maxlength: 256, autocomplete: 'off', spellcheck: 'false' });
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add');
  const form = h('form', { class: 'inline', id: 'list-form' }, h('label', {}, 'List', list), h('label', {}, 'Field', field), h('label', {}, 'Value', value), add);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = list.value;
    const entry = { field: field.value, value: value.value.trim() };
    const added = await act(status, add, async () => {
      const answer = await api(`lists/${kind}`, { method: 'POST', body: entry });
      await load();
      return `Added ${entry.field} ${entry.value} to the ${kind} list: lists version ${answer.version}.`;
    });
    if (added) value.value = '';
  });

  const remove = (entry, button) =>
    act(status, button, async () => {
      const answer = await api(`lists/${entry.list}/${encodeURIComponent(entry.field)}/${encodeURIComponent(entry.value)}`, { method: 'DELETE' });
      await load();
      return `Removed ${entry.field} ${entry.value} from the ${entry.list} list: lists version ${answer.version}.`;
    });

  const entryRow = (entry) =>
    h(
      'tr',
      { dataset: { list: entry.list, field: entry.field, value: entry.value } },
      h('td', {}, entry.field),
      h('td', { class: 'value' }, entry.value),
      h('td', {}, h('button', { type: 'button', 'aria-label': `Remove ${entry.field} ${entry.value} from the ${entry.list} list`, onclick: (e) => remove(entry, e.currentTarget) }, 'Remove')),
    );

  function show(lists) {
    version.textContent = String(lists.version);
    entries.replaceChildren(
      ...Object.entries(LISTS).map(([kind, { title, effect }]) => {
        const listed = lists.entries.filter((entry) => entry.list === kind);
        return h(
          'div',
          { class: 'list', id: `list-${kind}` },
          h('h3', {}, `${title} — ${listed.length === 1 ? 'one entry' : `${listed.length} entries`}`),
          h('p', { class: 'muted' }, effect),
          listed.length === 0
            ? null
            : h('div', { class: 'scroll list-scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'field'), h('th', { scope: 'col' }, 'value'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'remove')))), h('tbody', {}, ...listed.map(entryRow)))),
        );
      }),
    );
  }

  async function load() {
    try {
      show(await api('lists'));
    } catch (err) {
      entries.replaceChildren(notice(refusal(err), 'error'));
    }
  }

  const section = h(
    'section',
    { class: 'panel', id: 'lists', 'aria-labelledby': 'lists-title' },
    h('h2', { id: 'lists-title' }, 'Block and allow lists'),
    h('p', {}, 'Lists version ', version, ': every change moves it on, and decisions record it (rules_version “…+lists.N”).'),
    form,
    status,
    entries,
  );
  return { section, load };
}
