// A backtest's report as tables and a figure: the decision mix live and with the candidate, the
// decisions it changes, what each rule fired on, and precision and recall on labelled decisions.
import { decisionBadge, fmt, h } from '../../lib/dom.js';

const OUTCOMES = ['approved', 'flagged', 'rejected'];

const table = (caption, head, rows) =>
  h(
    'div',
    { class: 'scroll' },
    h('table', {}, h('caption', {}, caption), h('thead', {}, h('tr', {}, ...head.map((c, i) => h('th', { class: i > 0 ? 'num' : undefined, scope: 'col' }, c)))), h('tbody', {}, ...rows)),
  );
/** In a table's place when it would have no rows: its caption and why. */
const empty = (caption, why) => h('div', {}, h('p', { class: 'caption' }, caption), h('p', { class: 'muted' }, why));
const row = (head, cells, attrs = {}) => h('tr', attrs, h('th', { scope: 'row' }, head), ...cells.map((c) => h('td', { class: 'num' }, c)));

/** A count with its share of all replayed decisions; the share wraps as one piece. */
const withShare = (n, total) => [fmt.number(n), ' ', h('span', { class: 'share' }, `(${fmt.percent(n / total)})`)];
const signed = (n) => (n > 0 ? `+${fmt.number(n)}` : n < 0 ? `−${fmt.number(-n)}` : '0');

/** One stacked bar per side, each part titled with its words; the table beside it carries the numbers. */
function mixBars(mix, events) {
  const bar = (side) =>
    h(
      'div',
      { class: 'mix-row' },
      h('span', { class: 'mix-side' }, side),
      h('div', { class: 'bar', role: 'img', 'aria-label': `${side}: ${OUTCOMES.map((o) => `${mix[side][o]} ${o}`).join(', ')}` }, ...OUTCOMES.map((o) => h('span', { class: o, style: `width: ${(100 * mix[side][o]) / events}%`, title: `${o} ${mix[side][o]}` }))),
    );
  return h('figure', { class: 'mix-bars' }, bar('live'), bar('candidate'), h('figcaption', { class: 'muted' }, 'Decision mix: approved, flagged, rejected from left to right.'));
}

function mixTable({ mix, events }) {
  return table(
    'Decision mix',
    ['decision', 'live', 'candidate', 'change'],
    OUTCOMES.map((o) => row(decisionBadge(o), [withShare(mix.live[o], events), withShare(mix.candidate[o], events), signed(mix.candidate[o] - mix.live[o])], { dataset: { outcome: o } })),
  );
}

function changedTable({ changed }) {
  const moves = Object.entries(changed).sort((a, b) => b[1] - a[1]);
  if (moves.length === 0) return empty('Decisions it changes', 'None: it decides every replayed event as it was decided.');
  return table(
    'Decisions it changes',
    ['live → candidate', 'events'],
    moves.map(([move, n]) => row(move, [fmt.number(n)], { dataset: { move } })),
  );
}

function hitsTable({ hits, events }) {
  const rules = Object.entries(hits).sort((a, b) => b[1] - a[1]);
  if (rules.length === 0) return empty('Events each rule fired on', 'The candidate has no rules: only its thresholds decide.');
  return table(
    'Events each rule fired on',
    ['rule', 'events', 'share'],
    rules.map(([rule, n]) => row(h('code', {}, rule), [fmt.number(n), fmt.percent(n / events)], { dataset: { rule } })),
  );
}

function catchTable({ labelled, catch: caught }) {
  if (labelled === 0) return empty('Precision and recall', 'None of the replayed decisions is labelled: these need labels.');
  const measures = [
    ['precision', (c) => fmt.percent(c.precision)],
    ['recall', (c) => fmt.percent(c.recall)],
    ['fraud stopped', (c) => fmt.number(c.caught)],
    ['fraud approved', (c) => fmt.number(c.missed)],
    ['legitimate stopped', (c) => fmt.number(c.false_alarms)],
  ];
  return table(
    `On the ${fmt.number(labelled)} labelled decisions (stopped: flagged or rejected)`,
    ['measure', 'live', 'candidate'],
    measures.map(([name, value]) => row(name, [value(caught.live), value(caught.candidate)], { dataset: { measure: name } })),
  );
}

export function backtestReport(report) {
  const summary = h('p', {}, `${fmt.number(report.events)} stored decisions replayed through `, h('b', {}, report.candidate), `, ${fmt.number(report.labelled)} of them labelled. Each is decided again from the score it had, so the rules are compared, not the models.`);
  if (report.events === 0) return h('div', { class: 'report' }, summary, h('p', { class: 'muted' }, 'No stored decision matched: widen the time range or send events first.'));
  return h('div', { class: 'report' }, summary, h('div', { class: 'report-grid' }, mixBars(report.mix, report.events), mixTable(report)), h('div', { class: 'report-grid' }, changedTable(report), hitsTable(report), catchTable(report)));
}
