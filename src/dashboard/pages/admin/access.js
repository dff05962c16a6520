// Admin: access — what each role may do, which role this tab's key has, and the way to the key dialog.
import { api } from '../../lib/api.js';
import { h, notice } from '../../lib/dom.js';
import { refusal } from './action.js';

function standing(who) {
  if (!who.keys_required) return `This server asks for no API key: ${who.may}.`;
  if (who.role === null) return `This tab's key gives no role — ${who.may}.`;
  return `This tab's key has the ${who.role} role: it may ${who.may}.`;
}

export function accessSection() {
  const body = h('div', { id: 'access-body' });
  // The header's dialog keeps the key in this tab's storage and sends it as a header, never in a URL.
  const keyButton = h('button', { type: 'button', id: 'access-key', onclick: () => document.getElementById('key-button').click() }, 'Enter or change the API key');

  async function load() {
    try {
      const who = await api('whoami');
      body.replaceChildren(
        h('p', { id: 'access-role' }, standing(who)),
        h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'role'), h('th', { scope: 'col' }, 'may'), h('th', { scope: 'col' }, 'this tab'))),
            h('tbody', {}, ...Object.entries(who.roles).map(([role, may]) => h('tr', { dataset: { role } }, h('th', { scope: 'row' }, role), h('td', { class: 'may' }, may), h('td', {}, role === who.role ? 'this tab’s key' : '')))),
          ),
        ),
      );
    } catch (err) {
      body.replaceChildren(notice(refusal(err), 'error'));
    }
  }

  const section = h('section', { class: 'panel', id: 'access', 'aria-labelledby': 'access-title' }, h('h2', { id: 'access-title' }, 'Access'), body, keyButton);
  return { section, load };
}
