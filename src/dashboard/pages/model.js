// Model performance: the served model and the challenger on their latest labelled decisions (curves, outcomes
// by verdict, calibration, scores by class, drift over time), the registered versions, and the admin actions on them.
import uPlot from '/vendor/uplot.js';
import { api, ApiError } from '../lib/api.js';
import { chart, COLOURS } from '../lib/chart.js';
import { decisionBadge, fmt, h, notice, stylesheet } from '../lib/dom.js';

/** The two models compared, each drawn in its own colour and dash so they differ without colour too. */
const MODELS = [
  { role: 'served', title: 'Served model', stroke: COLOURS.blue, dash: [] },
  { role: 'challenger', title: 'Challenger', stroke: COLOURS.yellow, dash: [6, 3] },
];
const OUTCOMES = ['approved', 'flagged', 'rejected'];
/** A reference line (chance, perfect calibration): thin, grey, dotted. */
const REFERENCE = { stroke: COLOURS.grey, width: 1, dash: [2, 4] };
const DEFAULT_LIMIT = 10_000;
const MAX_LIMIT = 100_000;

/** How many labelled decisions to read, from the URL: a whole number in the API's range, or the default. */
function limitOf(query) {
  const n = Number(query.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT ? n : DEFAULT_LIMIT;
}

export async function render(main, { query, navigate }) {
  stylesheet('/pages/model.css');
  const limit = limitOf(query);
  const plots = [];
  const destroyPlots = () => plots.splice(0).forEach((p) => p.destroy());
  const status = h('div', { id: 'action-status', 'aria-live': 'polite' });
  const asOf = h('span', { id: 'as-of', class: 'muted' });
  const figures = h('div', { id: 'figures', class: 'stack' });
  const registry = h('section', { id: 'registry', class: 'panel', 'aria-labelledby': 'registry-title' });

  let left = false;
  const load = async () => {
    const [models, ...performance] = await Promise.all([api('models'), ...MODELS.map((m) => api('models/performance', { query: { model: m.role, limit } }))]);
    // A reload that lands after the page was left draws nothing (its charts would never be destroyed).
    if (left) return;
    const compared = MODELS.map((m, i) => ({ ...m, ...performance[i] }));
    destroyPlots();
    figures.replaceChildren(summary(compared, limit), outcomesSection(compared), h('div', { class: 'grid', id: 'charts' }));
    plots.push(...drawCharts(figures.querySelector('#charts'), compared));
    registry.replaceChildren(...registrySection(models, act));
    asOf.textContent = `as of ${fmt.time(new Date().toISOString())}`;
  };

  /** An admin action: the server's answer (or its refusal, word for word) shown, then every figure read again. */
  const act = async (what, path, method = 'POST') => {
    for (const b of registry.querySelectorAll('button')) b.disabled = true;
    status.replaceChildren(notice(`${what}…`));
    try {
      const state = await api(path, { method });
      status.replaceChildren(notice(`${what}: done (${Object.entries(state).map(([name, version]) => `${name} ${version ?? 'none'}`).join(', ')}).`, 'ok'));
    } catch (err) {
      status.replaceChildren(notice(`${what} ${err instanceof ApiError ? 'refused' : 'failed'}: ${err.message}`, 'error'));
    }
    await refresh();
  };

  const refresh = async () => {
    try {
      await load();
    } catch (err) {
      status.replaceChildren(notice(`Could not read the figures: ${err.message}`, 'error'));
      for (const b of registry.querySelectorAll('button')) b.disabled = false;
    }
  };

  const limitInput = h('input', { id: 'limit', name: 'limit', type: 'number', min: 1, max: MAX_LIMIT, step: 1, value: limit, required: true });
  main.append(
    h('h1', {}, 'Model performance'),
    h(
      'form',
      {
        class: 'inline',
        id: 'window',
        onsubmit: (e) => {
          e.preventDefault();
          navigate(`/model?limit=${limitInput.value}`, { replace: true });
        },
      },
      h('label', {}, 'Latest labelled decisions per model', limitInput),
      h('button', { type: 'submit', class: 'primary' }, 'Show'),
      h('button', { type: 'button', id: 'refresh', onclick: refresh }, 'Refresh'),
      asOf,
    ),
    status,
    figures,
    registry,
  );
  await load();
  return () => {
    left = true;
    destroyPlots();
  };
}

function summary(compared, limit) {
  // Figures on verdicts say nothing before the first verdict: a dash then, not a 0 %.
  const row = (label, cell, { onVerdicts = true } = {}) =>
    h('tr', {}, h('th', { scope: 'row' }, label), ...compared.map((m) => h('td', { class: 'num' }, m.model_version === null || (onVerdicts && m.labelled === 0) ? '–' : cell(m))));
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'summary-title' },
    h('h2', { id: 'summary-title' }, 'Served model and challenger'),
    h(
      'p',
      { class: 'muted' },
      `Each model on its latest ${fmt.number(limit)} labelled decisions; drift (PSI) on its latest ${fmt.number(limit)} decisions, labelled or not, against the scores it was registered with. `,
      'PSI under 0.1 reads as stable, 0.1–0.25 as a shift worth a look, over 0.25 as a shift to act on.',
    ),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { id: 'summary' },
        h('thead', {}, h('tr', {}, h('td', {}), ...compared.map((m) => h('th', { class: 'num', scope: 'col' }, m.title)))),
        h(
          'tbody',
          {},
          h('tr', {}, h('th', { scope: 'row' }, 'version'), ...compared.map((m) => h('td', { class: 'num', id: `${m.role}-version` }, m.model_version ?? (m.role === 'served' ? 'none (rules only)' : 'none')))),
          row('labelled decisions', (m) => fmt.number(m.labelled), { onVerdicts: false }),
          row('fraud among them', (m) => fmt.number(m.positives)),
          row('ROC-AUC', (m) => fmt.score(m.metrics?.roc_auc)),
          row('average precision', (m) => fmt.score(m.metrics?.average_precision)),
          row('precision (flagged or rejected)', (m) => fmt.percent(m.outcomes.caught.precision)),
          row('recall (flagged or rejected)', (m) => fmt.percent(m.outcomes.caught.recall)),
          row('decisions read for drift', (m) => fmt.number(m.drift.scored), { onVerdicts: false }),
          row('PSI against registration', (m) => fmt.score(m.drift.psi), { onVerdicts: false }),
        ),
      ),
    ),
  );
}

/** Each model's outcomes by verdict as a table in words, with what flagging and rejecting catch. */
function outcomesSection(compared) {
  return h(
    'div',
    { class: 'grid' },
    ...compared.map((m) => {
      const title = h('h2', { id: `outcomes-${m.role}-title` }, `${m.model_version === null ? m.title : `${m.title} ${m.model_version}`}: outcomes by verdict`);
      if (m.model_version === null) return h('section', { class: 'panel', 'aria-labelledby': title.id }, title, notice(m.role === 'served' ? 'No model is served: rules score every event.' : 'No challenger: challenge a registered version below to score it in shadow.'));
      if (m.labelled === 0) return h('section', { class: 'panel', 'aria-labelledby': title.id }, title, notice('No labelled decision yet: verdicts arrive through POST /api/v1/labels or from an event’s page.'));
      const { counts, caught, basis } = m.outcomes;
      const total = (verdict) => OUTCOMES.reduce((n, o) => n + counts[o][verdict], 0);
      const cell = (outcome, verdict, n) => h('td', { class: 'num', dataset: { outcome, verdict } }, fmt.number(n));
      const { tp, fp, fn } = caught.confusion;
      return h(
        'section',
        { class: 'panel', 'aria-labelledby': title.id },
        title,
        h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            { id: `outcomes-${m.role}`, class: 'outcomes' },
            h(
              'caption',
              { class: 'muted' },
              basis === 'decisions'
                ? `The outcomes decided (rules included) for ${fmt.number(m.labelled)} labelled decisions, by verdict.`
                : `The outcomes its score would decide at the deployed thresholds (flag from ${m.thresholds[0]}, reject from ${m.thresholds[1]}) for ${fmt.number(m.labelled)} labelled decisions it scored in shadow, by verdict.`,
            ),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'outcome'), h('th', { scope: 'col', class: 'num' }, 'fraud'), h('th', { scope: 'col', class: 'num' }, 'legitimate'), h('th', { scope: 'col', class: 'num' }, 'total'))),
            h(
              'tbody',
              {},
              ...OUTCOMES.map((o) => h('tr', {}, h('th', { scope: 'row' }, decisionBadge(o)), cell(o, 'fraud', counts[o].fraud), cell(o, 'legitimate', counts[o].legitimate), h('td', { class: 'num' }, fmt.number(counts[o].fraud + counts[o].legitimate)))),
            ),
            h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, 'total'), h('td', { class: 'num' }, fmt.number(total('fraud'))), h('td', { class: 'num' }, fmt.number(total('legitimate'))), h('td', { class: 'num' }, fmt.number(m.labelled)))),
          ),
        ),
        h(
          'p',
          { class: 'caught' },
          `Counting flagged or rejected as calling fraud: precision ${fmt.percent(caught.precision)} (${fmt.number(tp)} of ${fmt.number(tp + fp)} called were fraud), `,
          `recall ${fmt.percent(caught.recall)} (${fmt.number(tp)} of ${fmt.number(tp + fn)} frauds caught).`,
        ),
      );
    }),
  );
}

/** A chart panel: its title, a sentence saying what it shows (its text equivalent), and the plot's box. */
function panel(id, title, description) {
  const box = h('div', { class: 'plot', id, role: 'img', 'aria-label': `${title}: ${description}` });
  return { box, element: h('section', { class: 'panel' }, h('h2', {}, title), h('p', { class: 'muted' }, description), box) };
}

/** x–y curves with their own x values each (uPlot's mode 2), on the unit square; the legend names them (values under a cursor mean little across curves). */
function curves(container, { series, data, xLabel, yLabel }) {
  const unit = { time: false, auto: false, range: [0, 1] };
  return chart(container, { series, data: [null, ...data], time: false, xLabel, yLabel, options: { mode: 2, scales: { x: unit, y: { auto: false, range: [0, 1] } }, legend: { live: false } } });
}

/** The models that have a version and labelled decisions: the ones a curve can be drawn for. */
const withVerdicts = (compared) => compared.filter((m) => m.model_version !== null && m.labelled > 0);
const modelSeries = (m, extra = {}) => ({ label: `${m.title} ${m.model_version}`, stroke: m.stroke, dash: m.dash, ...extra });

function drawCharts(grid, compared) {
  const labelled = withVerdicts(compared);
  const drifting = compared.filter((m) => m.model_version !== null && m.drift.buckets.length > 0);
  const plots = [];
  const add = (id, title, description, draw) => {
    const p = panel(id, title, description);
    grid.append(p.element);
    plots.push(draw(p.box));
    return p.element;
  };
  if (labelled.length === 0) grid.append(notice('No model has labelled decisions yet: curves, calibration and score distributions appear once verdicts arrive.'));
  else {
    add('roc', 'ROC curve', 'share of frauds caught against share of legitimate events called fraud, as the score threshold falls; the dotted diagonal is chance.', (box) =>
      curves(box, {
        series: [...labelled.map((m) => modelSeries(m)), { label: 'chance', ...REFERENCE }],
        data: [...labelled.map((m) => [m.roc.fpr, m.roc.tpr]), [[0, 1], [0, 1]]],
        xLabel: 'false positive rate',
        yLabel: 'true positive rate',
      }),
    );
    add('precision-recall', 'Precision–recall', 'share of the events called fraud that were fraud, against the share of frauds caught, as the score threshold falls.', (box) =>
      curves(box, { series: labelled.map((m) => modelSeries(m)), data: labelled.map((m) => [m.precision_recall.recall, m.precision_recall.precision]), xLabel: 'recall', yLabel: 'precision' }),
    );
    add('calibration', 'Calibration', 'observed fraud rate against mean score in ten score bins (bins with decisions only); a calibrated model follows the dotted diagonal.', (box) => {
      const filled = (m) => m.calibration.filter((b) => b.rows > 0);
      return curves(box, {
        series: [...labelled.map((m) => modelSeries(m, { points: { show: true, size: 6 } })), { label: 'perfect', ...REFERENCE }],
        data: [...labelled.map((m) => [filled(m).map((b) => b.mean_score), filled(m).map((b) => b.fraud_rate)]), [[0, 1], [0, 1]]],
        xLabel: 'mean score',
        yLabel: 'fraud rate',
      });
    });
    for (const m of labelled) {
      add(`distribution-${m.role}`, `Scores by class — ${m.title.toLowerCase()} ${m.model_version}`, `share of each class's labelled decisions per score bin (${fmt.number(m.positives)} fraud, ${fmt.number(m.labelled - m.positives)} legitimate).`, (box) => {
        const { bins, fraud, legitimate } = m.distribution;
        const shares = (counts) => {
          const total = counts.reduce((a, b) => a + b, 0);
          // The step path draws each bin from its left edge: the last value is repeated at 1 to close it.
          return [...counts, counts[bins - 1]].map((n) => (total === 0 ? 0 : n / total));
        };
        const steps = uPlot.paths.stepped({ align: 1 });
        return chart(box, {
          series: [
            { label: 'fraud', stroke: COLOURS.rejected, fill: 'rgba(213, 94, 0, 0.25)', paths: steps },
            { label: 'legitimate', stroke: COLOURS.green, fill: 'rgba(0, 158, 115, 0.2)', paths: steps },
          ],
          data: [Array.from({ length: bins + 1 }, (_, i) => i / bins), shares(fraud), shares(legitimate)],
          time: false,
          xLabel: 'score',
          yLabel: 'share of class',
          options: { scales: { x: { time: false, auto: false, range: [0, 1] }, y: { range: [0, null] } } },
        });
      });
    }
  }
  if (drifting.length > 0) {
    const drift = add('drift', 'Score drift over time', 'population stability index of each period’s scores against the scores the version was registered with; the table below gives the decisions behind each.', (box) => {
      const seconds = (iso) => Date.parse(iso) / 1000;
      const tables = drifting.map((m) => [m.drift.buckets.map((b) => seconds(b.from)), m.drift.buckets.map((b) => b.psi)]);
      // The axis spans the periods read, so one period is not drawn across years.
      const span = [Math.min(...drifting.map((m) => seconds(m.drift.buckets[0].from))), Math.max(...drifting.map((m) => seconds(m.drift.buckets.at(-1).to)))];
      return chart(box, {
        series: drifting.map((m) => modelSeries(m, { spanGaps: true, points: { show: true, size: 6 } })),
        data: uPlot.join(tables),
        yLabel: 'PSI',
        options: { scales: { x: { time: true, range: span }, y: { range: [0, null] } } },
      });
    });
    drift.append(driftTable(drifting));
  }
  return plots;
}

/** The periods behind the drift chart: when, how many decisions, and their PSI, per model. */
function driftTable(drifting) {
  return h(
    'details',
    {},
    h('summary', {}, 'Decisions and PSI per period'),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { id: 'drift-periods' },
        h('thead', {}, h('tr', {}, ...['model', 'from', 'to', 'decisions', 'PSI'].map((c, i) => h('th', { scope: 'col', class: i >= 3 ? 'num' : undefined }, c)))),
        h('tbody', {}, ...drifting.flatMap((m) => m.drift.buckets.map((b) => h('tr', {}, h('td', {}, `${m.title} ${m.model_version}`), h('td', {}, fmt.dateTime(b.from)), h('td', {}, fmt.time(b.to)), h('td', { class: 'num' }, fmt.number(b.scored)), h('td', { class: 'num' }, fmt.score(b.psi)))))),
      ),
    ),
  );
}

/** The registered versions with their held-out figures and the admin actions; the activations newest first. */
function registrySection(models, act) {
  const state = (v) =>
    [v.active && (models.served === v.version ? 'active, served' : 'active (processors switching)'), !v.active && models.served === v.version && 'served (switching away)', models.challenger === v.version && 'challenger'].filter(Boolean).join(' · ');
  const button = (label, action, version, disabled, onclick) => h('button', { type: 'button', dataset: { action, version }, 'aria-label': `${label} ${version}`, disabled, onclick }, label);
  return [
    h('h2', { id: 'registry-title' }, 'Registered versions'),
    h('p', { class: 'muted' }, 'Figures on each version’s held-out period at training. Activating, rolling back and challenging need the admin role; the server’s refusal is shown as it says it.'),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', id: 'rollback', onclick: () => act('Roll back to the version active before', 'models/rollback') }, 'Roll back'),
      h('button', { type: 'button', id: 'stop-challenger', disabled: models.challenger === null, onclick: () => act(`Stop challenger ${models.challenger}`, 'models/challenger', 'DELETE') }, 'Stop the challenger'),
    ),
    models.versions.length === 0
      ? notice('No version is registered yet (rtds train registers one).')
      : h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            { id: 'versions' },
            h('thead', {}, h('tr', {}, ...['version', 'state', 'actions', 'held-out ROC-AUC', 'held-out AP', 'created', 'feature set', 'description'].map((c, i) => h('th', { scope: 'col', class: i === 3 || i === 4 ? 'num' : undefined }, c)))),
            h(
              'tbody',
              {},
              ...models.versions.map((v) =>
                h(
                  'tr',
                  { dataset: { version: v.version } },
                  h('th', { scope: 'row' }, v.version),
                  h('td', { class: 'state' }, state(v)),
                  h(
                    'td',
                    { class: 'row-actions' },
                    button('Activate', 'activate', v.version, v.active, () => act(`Activate ${v.version}`, `models/${encodeURIComponent(v.version)}/activate`)),
                    button('Challenge', 'challenge', v.version, models.challenger === v.version, () => act(`Challenge with ${v.version}`, `models/${encodeURIComponent(v.version)}/challenge`)),
                  ),
                  h('td', { class: 'num' }, fmt.score(v.roc_auc)),
                  h('td', { class: 'num' }, fmt.score(v.average_precision)),
                  h('td', {}, fmt.dateTime(v.created_at)),
                  h('td', {}, v.feature_set),
                  h('td', { class: 'reason' }, v.description ?? ''),
                ),
              ),
            ),
          ),
        ),
    h(
      'details',
      {},
      h('summary', {}, `Activations (${models.activations.length})`),
      h('ol', { id: 'activations', reversed: true }, ...[...models.activations].reverse().map((a) => h('li', {}, `${a.version} at ${fmt.dateTime(a.at)}`))),
    ),
  ];
}
