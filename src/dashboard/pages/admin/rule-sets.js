// Admin: rule sets — the stored versions and their activations, a version's body, a new version
// stored from text or a file (its validation problems by path beside the text), backtest,
// activate and roll back.
import { api, ApiError } from '../../lib/api.js';
import { fmt, h, notice } from '../../lib/dom.js';
import { act, refusal, statusLine } from './action.js';
import { backtestReport } from './backtest-report.js';

/** A problem as the server words it: a JSON pointer (or `(root)`) first, then what is wrong there. */
const PATHED = /^(\(root\)|\/\S*) ([\s\S]*)$/;

function problemItem(problem) {
  const pathed = PATHED.exec(problem);
  if (pathed === null) return h('li', {}, h('span', { class: 'why' }, problem));
  return h('li', { dataset: { path: pathed[1] } }, h('code', { class: 'path' }, pathed[1]), ' ', h('span', { class: 'why' }, pathed[2]));
}

/** The text to store and, beside it, why the server refused it. */
function ruleSetEditor({ status, stored }) {
  const text = h('textarea', { id: 'rule-text', rows: 18, spellcheck: 'false', 'aria-describedby': 'rule-problems' });
  const file = h('input', { id: 'rule-file', type: 'file', accept: '.json,.yaml,.yml,application/json,application/yaml,text/yaml' });
  const problems = h('ul', { id: 'rule-problems', class: 'problems', 'aria-live': 'polite' });
  const hint = h('p', { class: 'muted', id: 'rule-problems-hint' }, 'Problems found by validating and compiling appear here, each with its path (e.g. /rules/0/max).');
  const showProblems = (list) => {
    problems.replaceChildren(...list.map(problemItem));
    hint.hidden = list.length > 0;
    text.toggleAttribute('aria-invalid', list.length > 0);
  };
  file.addEventListener('change', async () => {
    const [chosen] = file.files;
    if (chosen === undefined) return;
    text.value = await chosen.text();
    showProblems([]);
  });
  const store = h('button', { type: 'submit', class: 'primary' }, 'Store');
  const form = h(
    'form',
    { class: 'editor', id: 'rule-form' },
    h('div', { class: 'editor-text' }, h('label', {}, 'Rule set, JSON or YAML (docs/rules.md)', text), h('div', { class: 'editor-actions' }, h('label', {}, 'Or read a file', file), store)),
    h('div', { class: 'editor-problems' }, h('h4', {}, 'Problems'), hint, problems),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showProblems([]);
    await act(status, store, async () => {
      try {
        // Sent as typed: a string starting with { goes as JSON, anything else as text the server reads as YAML.
        const answer = await api('rules', { method: 'POST', body: text.value });
        await stored();
        return answer.stored ? `Stored ${answer.version}; it is not active yet: activate it from the versions above.` : `${answer.version} is already stored with these rules: nothing changed.`;
      } catch (err) {
        // The text's own faults are listed beside it; a refusal of the caller (key, role) is not about the text.
        if (!(err instanceof ApiError) || ![400, 413, 422].includes(err.status)) throw err;
        const problems = err.body?.problems ?? [err.message];
        showProblems(problems);
        throw new ApiError(err.status, { error: `the rule set was not stored: ${problems.length === 1 ? 'one problem' : `${problems.length} problems`}, listed beside the text` });
      }
    });
  });
  return {
    form,
    /** Start a new version from a stored one's body. */
    edit(body) {
      text.value = JSON.stringify(body, null, 2);
      showProblems([]);
      text.focus();
    },
  };
}

/** The backtest's range, read by every version's Backtest button. */
function backtestOptions() {
  const since = h('input', { type: 'datetime-local', id: 'backtest-since', step: 1 });
  const limit = h('input', { type: 'number', id: 'backtest-limit', min: 1, max: 100000, placeholder: '100000', inputmode: 'numeric' });
  const form = h('form', { class: 'inline', id: 'backtest-options', onsubmit: (e) => e.preventDefault() }, h('label', {}, 'Decided since (optional)', since), h('label', {}, 'Latest decisions, at most 100,000', limit));
  return { form, query: () => ({ since: since.value === '' ? undefined : new Date(since.value).toISOString(), limit: limit.value }) };
}

export function ruleSetSection() {
  const status = statusLine('rules-status');
  const state = h('p', { id: 'rules-state' });
  const versions = h('div', { id: 'rule-versions', class: 'scroll' });
  const history = h('div', { id: 'rule-activations' });
  const rollback = h('button', { type: 'button', id: 'rule-rollback', onclick: (e) => rollBack(e.currentTarget) }, 'Roll back');
  const viewer = h('div', { id: 'rule-view' });
  const report = h('div', { id: 'backtest-report', 'aria-live': 'polite' });
  const options = backtestOptions();
  const editor = ruleSetEditor({ status, stored: load });

  const activate = (version, button) =>
    act(status, button, async () => {
      const now = await api(`rules/${encodeURIComponent(version)}/activate`, { method: 'POST' });
      await load();
      return `Activated ${version}: this process decides with ${now.served}; the others follow within a poll.`;
    });
  const rollBack = (button) =>
    act(status, button, async () => {
      const now = await api('rules/rollback', { method: 'POST' });
      await load();
      return `Rolled back to ${now.active}: this process decides with ${now.served}.`;
    });

  async function view(version) {
    viewer.replaceChildren(notice(`Reading ${version}…`));
    try {
      const body = await api(`rules/${encodeURIComponent(version)}`);
      const title = h('h3', { tabindex: -1 }, `Version ${version}`);
      viewer.replaceChildren(title, h('pre', { class: 'rule-body' }, JSON.stringify(body, null, 2)), h('button', { type: 'button', onclick: () => editor.edit(body) }, 'Edit as a new version'));
      title.focus();
    } catch (err) {
      viewer.replaceChildren(notice(refusal(err), 'error'));
    }
  }

  async function runBacktest(version, button) {
    // One at a time from a button: a second click would race the first for the report's place.
    button.disabled = true;
    report.replaceChildren(notice(`Backtesting ${version}…`));
    try {
      report.replaceChildren(backtestReport(await api('rules/backtest', { method: 'POST', query: { version, ...options.query() } })));
    } catch (err) {
      report.replaceChildren(notice(refusal(err), 'error'));
    } finally {
      button.disabled = false;
    }
  }

  const versionRow = (v, active) => {
    const isActive = v.version === active;
    // Labelled cells: on a phone each row reads as a card, every value under its column's name.
    return h(
      'tr',
      { dataset: { version: v.version } },
      h('th', { scope: 'row' }, v.version),
      h('td', { class: 'num', 'data-label': 'rules' }, fmt.number(v.rules)),
      h('td', { 'data-label': 'stored' }, fmt.dateTime(v.created_at)),
      h('td', { 'data-label': 'state' }, isActive ? h('span', { class: 'badge active' }, 'active') : 'not active'),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row-actions' },
          h('button', { type: 'button', 'aria-label': `View ${v.version}`, onclick: () => view(v.version) }, 'View'),
          h('button', { type: 'button', 'aria-label': `Backtest ${v.version}`, onclick: (e) => runBacktest(v.version, e.currentTarget) }, 'Backtest'),
          h('button', { type: 'button', disabled: isActive, 'aria-label': `Activate ${v.version}`, onclick: (e) => activate(v.version, e.currentTarget) }, 'Activate'),
        ),
      ),
    );
  };

  function show(rules) {
    state.replaceChildren(
      'Deciding with ',
      h('b', { id: 'rules-served' }, rules.served),
      rules.active === null ? ': no stored version was ever activated, so the rules file or the built-in set decides.' : rules.active === rules.served ? ', the active stored version.' : `; the store's active version is ${rules.active}.`,
    );
    versions.replaceChildren(
      rules.versions.length === 0
        ? notice('No rule set is stored yet: store one below.')
        : h('table', { class: 'versions' }, h('thead', {}, h('tr', {}, ...['version', 'rules', 'stored', 'state', 'actions'].map((c, i) => h('th', { scope: 'col', class: i === 1 ? 'num' : undefined }, c)))), h('tbody', {}, ...rules.versions.map((v) => versionRow(v, rules.active)))),
    );
    history.replaceChildren(
      rules.activations.length === 0
        ? h('p', { class: 'muted' }, 'None yet.')
        : h('ol', { class: 'history' }, ...rules.activations.map((a, i) => h('li', {}, h('time', { datetime: a.activated_at }, fmt.dateTime(a.activated_at)), ' ', h('b', {}, a.version), i === 0 ? ' (current)' : ''))),
    );
  }

  async function load() {
    try {
      show(await api('rules'));
    } catch (err) {
      state.replaceChildren(notice(refusal(err), 'error'));
    }
  }

  const section = h(
    'section',
    { class: 'panel', id: 'rule-sets', 'aria-labelledby': 'rule-sets-title' },
    h('h2', { id: 'rule-sets-title' }, 'Rule sets'),
    state,
    status,
    h('h3', {}, 'Stored versions'),
    versions,
    h('div', { class: 'columns' }, h('div', {}, h('h3', {}, 'Activations, newest first'), history, rollback, h('p', { class: 'muted' }, 'Roll back activates the version that was active before the current one.')), h('div', {}, viewer)),
    h('h3', {}, 'Backtest'),
    h('p', { class: 'muted' }, 'Replays stored decisions through a version (its Backtest button above) and sets what it would decide beside what was decided.'),
    options.form,
    report,
    h('h3', {}, 'Store a new version'),
    editor.form,
  );
  return { section, load };
}
