// One event's page: the event, its decision and why (rules, reasons, contributions, every feature with its declaration), versions, the shadow score, the label — which a reviewer sets here — and the user's recent decisions.
import { api } from '../lib/api.js';
import { decisionTable, verdictBadge } from '../lib/decisions.js';
import { decisionBadge, fmt, h, notice, stylesheet } from '../lib/dom.js';

const HISTORY = 20;
const value7 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 7 });

/** A stored feature value: float32 read back to 7 significant digits; null where it was unknown (NaN). */
const featureValue = (v) => (v === null ? 'unknown' : value7.format(v));

const UNITS = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
/** Milliseconds as a feature spec writes them: 30d, 1h, 10s. */
function duration(ms) {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function windowText(w) {
  if (w.kind === 'session') return `session, gap ${duration(w.gap)}`;
  if (w.kind === 'hopping') return `${duration(w.size)} hopping by ${duration(w.hop)}`;
  return `${duration(w.size)} tumbling`;
}

/** A feature's declaration in three cells: whose events, over which window, aggregated how. */
function declarationCells(spec) {
  if (spec === undefined) return [h('td', { class: 'muted' }, '–'), h('td', {}), h('td', {})];
  if ('expression' in spec) return [h('td', { class: 'muted' }, 'derived'), h('td', {}), h('td', {}, h('code', {}, spec.expression))];
  const filter = Object.entries(spec.filter ?? {}).map(([field, values]) => `${field} ∈ {${values.join(', ')}}`);
  const how = [spec.aggregate, spec.field ? `of ${spec.field}` : '', filter.length > 0 ? `where ${filter.join(', ')}` : '', spec.label_delay ? `labels ${duration(spec.label_delay)} late` : ''].filter(Boolean).join(' ');
  return [h('td', {}, spec.entity.join(' + ')), h('td', {}, windowText(spec.window)), h('td', {}, how)];
}

function featuresPanel(body) {
  const panel = h('section', { class: 'panel wide', 'aria-labelledby': 'features-title' }, h('h2', { id: 'features-title' }, 'features ', body.feature_set ? h('small', {}, body.feature_set) : ''));
  if (body.features === null) {
    panel.append(notice('No feature vector was stored with this decision.'));
    return panel;
  }
  const names = Array.isArray(body.features) ? body.features.map((_, i) => `#${i}`) : Object.keys(body.features);
  const values = Array.isArray(body.features) ? body.features : Object.values(body.features);
  const specs = body.feature_declarations ?? {};
  if (body.feature_declarations === null) panel.append(notice(`Declared in feature set ${body.feature_set}, which this server does not compute: values only.`));
  panel.append(
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { id: 'features' },
        h('thead', {}, h('tr', {}, ...['feature', 'value', 'entity', 'window', 'aggregation'].map((c) => h('th', { scope: 'col', class: c === 'value' ? 'num' : undefined }, c)))),
        h('tbody', {}, ...names.map((name, i) => h('tr', { dataset: { feature: name } }, h('th', { scope: 'row', title: specs[name]?.doc }, name), h('td', { class: 'num' }, featureValue(values[i])), ...declarationCells(specs[name])))),
      ),
    ),
  );
  return panel;
}

const facts = (pairs) => h('dl', { class: 'facts' }, ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const explorerLink = (field, value) => h('a', { href: `/explorer?${new URLSearchParams({ [field]: value })}`, 'data-link': true }, value);

function decisionPanel(d) {
  const shadow = d.shadow ? `${fmt.score(d.shadow.score)} by ${d.shadow.model_version}` : 'none ran';
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'decision-title' },
    h('h2', { id: 'decision-title' }, 'decision'),
    h('p', { class: 'verdict' }, decisionBadge(d.decision), ' ', h('span', { id: 'risk-score' }, fmt.score(d.risk_score)), h('span', { class: 'muted' }, ' risk score')),
    h('p', { id: 'reason' }, d.reason),
    facts([
      ['decided', fmt.dateTime(d.timestamp)],
      ['in', fmt.ms(d.processing_time_ms)],
      ['model', h('span', { id: 'model-version-used' }, d.model_version ?? 'none (rules only)')],
      ['rules', h('span', { id: 'rules-version-used' }, d.rules_version)],
      ['challenger', h('span', { id: 'shadow-score' }, shadow)],
      ['event time', d.event_time_source === 'received' ? 'when received (none sent)' : 'the event’s own'],
      ['late', d.late ? 'yes: decided with the windows of its own time' : 'no'],
      ['history', d.history === 'partial' ? 'partial: some features unknown' : 'complete'],
      ['degraded', d.degraded === 'none' ? 'no' : d.degraded.replace('_', ' ')],
      // Shown only when it was traced: the id to look the trace up by in the tracing backend.
      ['trace', d.trace_id && h('code', { id: 'trace-id' }, d.trace_id)],
    ]),
  );
}

function reasonsPanel(reasons) {
  const rules = reasons.filter((r) => r.source === 'rule');
  const others = reasons.filter((r) => r.source !== 'rule');
  const list = (id, items) => h('ul', { id, class: 'reasons' }, ...items.map((r) => h('li', { dataset: { code: r.code } }, h('code', {}, r.code), ' ', r.message)));
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'rules-title' },
    h('h2', { id: 'rules-title' }, 'rules that fired'),
    rules.length === 0 ? notice('No rule fired: the score decided.') : list('rules-fired', rules),
    h('h2', {}, 'model and fallback reasons'),
    others.length === 0 ? notice('None.') : list('score-reasons', others),
  );
}

function contributionsPanel(contributions) {
  const body =
    contributions.length === 0
      ? notice('No contribution was measured for this decision: the model explains the features behind risky scores only (and the rules-only fallback its signals).')
      : h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            { id: 'contributions' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'feature or signal'), h('th', { scope: 'col', class: 'num' }, 'added to the score'), h('th', { scope: 'col' }, 'why'))),
            h('tbody', {}, ...contributions.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.feature ?? c.code), h('td', { class: 'num' }, `+${c.contribution.toFixed(3)}`), h('td', { class: 'reason' }, c.message)))),
          ),
        );
  return h('section', { class: 'panel', 'aria-labelledby': 'contributions-title' }, h('h2', { id: 'contributions-title' }, 'top feature contributions'), body);
}

function eventPanel(e) {
  const amount = e.amount === undefined ? undefined : `${fmt.number(e.amount)}${e.currency ? ` ${e.currency}` : ''}`;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'event-title' },
    h('h2', { id: 'event-title' }, 'event'),
    facts([
      ['type', e.event_type],
      ['time', fmt.dateTime(e.timestamp)],
      ['user', explorerLink('user_id', e.user_id)],
      ['amount', amount],
      ['channel', e.channel],
      ['country', e.country],
      ['merchant', e.merchant_id === undefined ? undefined : explorerLink('merchant_id', e.merchant_id)],
      ['device', e.device_id],
      ['IP address', e.ip_address],
      ['session', e.session_id],
    ]),
    e.metadata === undefined ? '' : h('details', {}, h('summary', {}, 'metadata'), h('pre', {}, JSON.stringify(e.metadata, null, 2))),
  );
}

/** The label as stored, and the two verdicts a reviewer can give (ingest role). */
function labelPanel(eventId, label, onLabelled) {
  const status = h('div', { id: 'label-status', role: 'status' });
  const show = (stored) => status.replaceChildren(h('p', {}, verdictBadge(stored?.is_fraud), stored ? h('span', { class: 'muted' }, ` labelled ${fmt.dateTime(stored.labeled_at)}`) : ''));
  show(label);
  const verdict = (isFraud, words) =>
    h('button', {
      type: 'button',
      class: isFraud ? 'mark-fraud' : 'mark-legit',
      'aria-pressed': String(label?.is_fraud === isFraud),
      onclick: async (e) => {
        const clicked = e.currentTarget;
        const buttons = clicked.parentElement.querySelectorAll('button');
        for (const b of buttons) b.disabled = true;
        try {
          await api('labels', { method: 'POST', body: { event_id: eventId, is_fraud: isFraud } });
          const stored = (await api(`events/${encodeURIComponent(eventId)}`)).label;
          show(stored);
          for (const b of buttons) b.setAttribute('aria-pressed', String(b === clicked));
          status.append(notice(`Stored: ${stored.is_fraud ? 'fraud' : 'not fraud'}.`, 'ok'));
          onLabelled();
        } catch (err) {
          status.append(notice(err.message, 'error'));
        } finally {
          for (const b of buttons) b.disabled = false;
        }
      },
    }, words);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'label-title' },
    h('h2', { id: 'label-title' }, 'label'),
    status,
    h('div', { class: 'label-actions', role: 'group', 'aria-label': 'Set the label' }, verdict(true, 'Fraud'), verdict(false, 'Not fraud')),
  );
}

function historyPanel(userId, eventId, page) {
  return h(
    'section',
    { class: 'panel wide', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, `user ${userId}: latest ${HISTORY} decisions`),
    decisionTable(page.items, { current: eventId }),
    h('p', {}, h('a', { href: `/explorer?${new URLSearchParams({ user_id: userId })}`, 'data-link': true }, `All decisions of ${userId} in the explorer →`)),
  );
}

const userHistory = (userId) => api('decisions', { query: { user_id: userId, limit: HISTORY } });

export async function render(main, { params }) {
  stylesheet('/pages/event.css');
  const [eventId] = params;
  // Everything is read before the page is built: a render left behind by a quick navigation adds nothing to the next page.
  const body = await api(`events/${encodeURIComponent(eventId)}`);
  const title = h('h1', {}, 'Event ', h('span', { id: 'event-id' }, eventId), ' ', body.decision ? decisionBadge(body.decision.decision) : '');
  if (body.status === 'dead_letter') {
    main.append(title, notice('This event was refused:', 'error'), ...body.dead_letters.map((l) => h('section', { class: 'panel' }, h('ul', {}, ...l.errors.map((e) => h('li', {}, h('code', {}, e.field), ' ', e.reason))))));
    return;
  }
  const userId = body.event.user_id;
  let history = historyPanel(userId, eventId, await userHistory(userId));
  // A new label shows in the user's history too.
  const refreshHistory = async () => {
    const next = historyPanel(userId, eventId, await userHistory(userId));
    history.replaceWith(next);
    history = next;
  };
  const grid = h(
    'div',
    { class: 'grid event-grid' },
    body.decision === null ? h('section', { class: 'panel' }, notice('Not decided yet: its decision is on its way to the store.')) : decisionPanel(body.decision),
    labelPanel(eventId, body.label, refreshHistory),
    eventPanel(body.event),
  );
  if (body.decision !== null) grid.append(reasonsPanel(body.reasons), contributionsPanel(body.contributions), featuresPanel(body));
  grid.append(history);
  main.append(title, grid);
}
