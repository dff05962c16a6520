// Admin: rule sets, the block and allow lists, and access. Each section loads and fails on its own,
// so a tab whose key cannot read still reaches the key dialog from here.
import { h, stylesheet } from '../lib/dom.js';
import { accessSection } from './admin/access.js';
import { listSection } from './admin/lists.js';
import { ruleSetSection } from './admin/rule-sets.js';

export async function render(main) {
  stylesheet('/pages/admin.css');
  const rules = ruleSetSection();
  const lists = listSection();
  const access = accessSection();
  main.append(h('h1', {}, 'Admin'), rules.section, h('div', { class: 'grid' }, lists.section, access.section));
  await Promise.all([rules.load(), lists.load(), access.load()]);
}
