// System health: each component's status (word and symbol), the log's partitions, dead letters by source, rates, and the process over the last minutes.
import { api } from '../lib/api.js';
import { chart, COLOURS } from '../lib/chart.js';
import { fmt, h, notice, stylesheet } from '../lib/dom.js';

const POLL_MS = 2000;
/** The word carries the status; the symbol repeats it at a glance, and the colour a third time. */
const SYMBOLS = { ok: '✓', degraded: '▲', down: '✕' };
const TITLES = { log: 'Log', store: 'Store', model: 'Model', rules: 'Rules and lists', labels: 'Label feed', process: 'Process' };

const mib = (bytes) => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MiB`;
const status = (word) => h('span', { class: 'status-word' }, h('span', { class: 'symbol', 'aria-hidden': 'true' }, SYMBOLS[word]), ` ${word}`);
const numCell = (n) => h('td', { class: 'num' }, fmt.number(n));

export async function render(main) {
  stylesheet('/pages/health.css');
  // The first answer before anything is drawn: a refusal (no key, wrong role) is the router's to show.
  const first = await api('health');
  const view = layout();
  main.append(view.root);
  const charts = processCharts(view);
  let timer;
  let stopped = false;
  const show = (health) => {
    view.problem.replaceChildren();
    showOverall(view, health);
    showComponents(view, health.components);
    showLog(view, health.log);
    showGroups(view, health.log.groups);
    showDeadLetters(view, health.dead_letters, health.store_read_at);
    showFigures(view, health);
    showProcess(view, health.process, charts);
  };
  const poll = async () => {
    const next = await api('health').catch((err) => err);
    if (stopped) return; // the page was left while asking
    if (next instanceof Error) view.problem.replaceChildren(notice(`Update failed (${next.message}); the figures below are from ${view.updated.textContent}. Trying again.`, 'error'));
    else show(next);
    timer = setTimeout(poll, POLL_MS);
  };
  show(first);
  timer = setTimeout(poll, POLL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const plot of Object.values(charts)) plot.destroy();
  };
}

/** The page's fixed structure; the figures in it change with each poll. */
function layout() {
  const view = {
    overall: h('p', { class: 'overall', id: 'overall' }),
    updated: h('span', { id: 'updated' }),
    problem: h('div'),
    cards: h('section', { class: 'cards', 'aria-label': 'Components' }),
    logSummary: h('p', { id: 'log-summary', class: 'muted' }),
    inputs: h('ul', { class: 'inputs' }),
    partitions: h('tbody', { id: 'partitions' }),
    groupsNote: h('p', { class: 'muted', id: 'groups-note' }),
    groups: h('tbody', { id: 'group-members' }),
    deadLettersNote: h('p', { class: 'muted', id: 'dead-letters-note' }),
    deadLetters: h('tbody', { id: 'dead-letters' }),
    deadLettersTotal: h('tfoot'),
    figures: h('dl', { class: 'figures', id: 'figures' }),
    tiles: h('section', { class: 'tiles', 'aria-label': 'Process figures' }),
    cpuChart: h('div', { class: 'chart' }),
    rssChart: h('div', { class: 'chart' }),
    delayChart: h('div', { class: 'chart' }),
  };
  const table = (columns, body, foot) =>
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...columns.map(([name, num]) => h('th', { class: num ? 'num' : undefined, scope: 'col' }, name)))), body, foot));
  view.root = h(
    'div',
    { class: 'health' },
    h('h1', {}, 'System health'),
    h('div', { class: 'headline' }, view.overall, h('p', { class: 'muted' }, 'Updated ', view.updated, ` · every ${POLL_MS / 1000} s`)),
    view.problem,
    view.cards,
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'log-title' },
        h('h2', { id: 'log-title' }, 'Log partitions and consumer lag'),
        view.logSummary,
        view.inputs,
        table([['stage'], ['partition', true], ['committed', true], ['end', true], ['lag', true]], view.partitions),
      ),
      h(
        'section',
        { class: 'panel wide', 'aria-labelledby': 'groups-title' },
        h('h2', { id: 'groups-title' }, 'Processors in the group'),
        view.groupsNote,
        table([['group'], ['state'], ['processor'], ['host'], ['partitions owned']], view.groups),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'dead-letters-title' },
        h('h2', { id: 'dead-letters-title' }, 'Dead letters by source'),
        view.deadLettersNote,
        table([['source'], ['last hour', true], ['total', true]], view.deadLetters, view.deadLettersTotal),
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'figures-title' }, h('h2', { id: 'figures-title' }, 'Rates, store and labels'), view.figures),
    ),
    h('h2', { class: 'section-title' }, 'Process'),
    view.tiles,
    h(
      'div',
      { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'CPU'), view.cpuChart),
      h('section', { class: 'panel' }, h('h2', {}, 'Resident memory'), view.rssChart),
      h('section', { class: 'panel' }, h('h2', {}, 'Event-loop delay'), view.delayChart),
    ),
  );
  return view;
}

function processCharts(view) {
  const empty = (series) => Array.from({ length: series + 1 }, () => []);
  return {
    cpu: chart(view.cpuChart, { series: [{ label: 'CPU %', stroke: COLOURS.blue }], data: empty(1), height: 160, yLabel: '% of a core' }),
    rss: chart(view.rssChart, { series: [{ label: 'RSS MiB', stroke: COLOURS.green }], data: empty(1), height: 160, yLabel: 'MiB' }),
    delay: chart(view.delayChart, {
      series: [
        { label: 'p50 ms', stroke: COLOURS.blue },
        { label: 'p99 ms', stroke: COLOURS.flagged },
      ],
      data: empty(2),
      height: 160,
      yLabel: 'ms',
    }),
  };
}

function showOverall(view, health) {
  const wrong = health.components.filter((c) => c.status !== 'ok').map((c) => `${TITLES[c.name]} ${c.status}`);
  view.overall.dataset.status = health.status;
  view.overall.replaceChildren(status(health.status), wrong.length === 0 ? ' — every component is ok' : ` — ${wrong.join(', ')}`);
  view.updated.textContent = fmt.time(health.at);
}

function showComponents(view, components) {
  for (const component of components) {
    let card = view.cards.querySelector(`[data-component="${component.name}"]`);
    if (card === null) {
      card = h('article', { class: 'card', dataset: { component: component.name } }, h('h2', {}, TITLES[component.name]), h('p', { class: 'state' }), h('p', { class: 'reason' }));
      view.cards.append(card);
    }
    card.dataset.status = component.status;
    card.querySelector('.state').replaceChildren(status(component.status));
    card.querySelector('.reason').textContent = component.reason;
  }
}

function showLog(view, log) {
  const owned = log.inputs.reduce((n, input) => n + input.progress.partitions.length, 0);
  const kind = log.transport === 'kafka' ? 'Kafka' : 'Embedded log';
  view.logSummary.textContent = `${kind} · ${log.partitions} partitions per input (RTDS_PARTITIONS) · ${owned} read here · ${fmt.number(log.lag)} records behind`;
  view.inputs.replaceChildren(
    ...(log.inputs.length === 0 ? [h('li', {}, 'No processor runs in this process: the processors of its group read the log.')] : log.inputs.map(describeInput)),
  );
  view.partitions.replaceChildren(
    ...log.inputs.flatMap((input) =>
      input.progress.partitions.map((p) => h('tr', { dataset: { stage: input.stage, partition: p.partition } }, h('td', {}, input.stage), numCell(p.partition), numCell(p.committed), numCell(p.end), numCell(p.lag))),
    ),
  );
}

/** On Kafka, every processor of each stage's group, in any process, and the partitions it owns. */
function showGroups(view, groups) {
  view.groupsNote.textContent =
    groups === null
      ? 'The embedded log has one processor: this process.'
      : 'error' in groups
        ? `Unknown: the broker did not describe the groups (${groups.error}).`
        : 'Every processor instance of each stage’s consumer group, in any process, as the group’s coordinator sees it.';
  const rows = groups === null || 'error' in groups ? [] : groups.flatMap((g) => (g.members.length === 0 ? [[g, null]] : g.members.map((m) => [g, m])));
  view.groups.replaceChildren(
    ...rows.map(([g, m]) =>
      m === null
        ? h('tr', { dataset: { group: g.group } }, h('td', {}, g.group), h('td', {}, g.state.toLowerCase()), h('td', { colspan: '3' }, '▲ no processor: its input is not read'))
        : h(
            'tr',
            { dataset: { group: g.group, member: m.instance_id ?? m.member_id } },
            h('td', {}, g.group),
            h('td', {}, g.state.toLowerCase()),
            h('td', { class: 'member' }, m.instance_id ?? m.member_id),
            h('td', {}, m.host),
            h('td', {}, m.owns.map((o) => `${o.topic}: ${o.partitions.join(', ')}`).join(' · ') || 'none'),
          ),
    ),
  );
}

/** Which input, read how: on Kafka its group and this process's place in it. */
function describeInput(input) {
  const { member, problem } = input.progress;
  const group = input.group === null ? 'read by this process alone' : `group ${input.group}`;
  const place = member === null ? '' : `, member ${member.id} (generation ${member.generation})`;
  return h('li', {}, h('b', {}, input.stage), ` from ${input.topic}: ${group}${place}`, problem === null ? '' : ` — ${problem}`);
}

function showDeadLetters(view, deadLetters, countedAt) {
  if ('error' in deadLetters) {
    view.deadLettersNote.textContent = `Unknown: the store did not answer (${deadLetters.error}).`;
    view.deadLetters.replaceChildren();
    view.deadLettersTotal.replaceChildren();
    return;
  }
  const counted = `counted at ${fmt.time(countedAt)}`;
  view.deadLettersNote.textContent = deadLetters.total === 0 ? `None: every input so far was valid (${counted}).` : `Refused inputs, kept in the store with their reasons (${counted}).`;
  view.deadLetters.replaceChildren(...deadLetters.by_source.map((d) => h('tr', { dataset: { source: d.source } }, h('td', {}, d.source), numCell(d.recent), numCell(d.total))));
  view.deadLettersTotal.replaceChildren(h('tr', {}, h('th', { scope: 'row' }, 'all sources'), numCell(deadLetters.recent), numCell(deadLetters.total)));
}

function showFigures(view, { rates, store, labels }) {
  const minutes = Math.max(1, Math.round(rates.seconds / 60));
  const when = (iso) => (iso === null ? 'never' : fmt.dateTime(iso));
  const rows = [
    [`Decisions (last ${minutes} min)`, `${fmt.number(rates.decisions)} · ${fmt.number(rates.seconds === 0 ? 0 : rates.decisions / rates.seconds)}/s`],
    ['Late', `${fmt.percent(rates.late_share)} (${fmt.number(rates.late)})`],
    ['Degraded', `${fmt.percent(rates.degraded_share)} (${fmt.number(rates.degraded)})`],
    ['Store writes', store.writes.writes === 0 ? 'none yet' : `p50 ${fmt.ms(store.writes.p50_ms)} · p99 ${fmt.ms(store.writes.p99_ms)} (latest ${fmt.number(store.writes.writes)})`],
    ['Rows waiting', fmt.number(store.pending_writes)],
    ['Latest label', 'error' in labels ? `unknown (${labels.error})` : when(labels.last_received_at)],
    ['Labels, last hour', 'error' in labels ? 'unknown' : fmt.number(labels.recent)],
  ];
  if (labels.topic_lag !== null) rows.push(['Labels topic, not yet stored', fmt.number(labels.topic_lag)]);
  if (labels.feed !== null) rows.push(['Label features last read', when(labels.feed.last_read_at)]);
  view.figures.replaceChildren(...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

function showProcess(view, proc, charts) {
  const latest = proc.latest;
  const tile = (id, title, value) => h('div', { class: 'tile' }, h('h2', {}, title), h('p', { id }, value));
  view.tiles.replaceChildren(
    tile('cpu', 'CPU', latest === null ? '–' : `${latest.cpu_percent.toFixed(1)} %`),
    tile('rss', 'RSS', latest === null ? '–' : mib(latest.rss_bytes)),
    tile('heap', 'heap used', latest === null ? '–' : `${mib(latest.heap_used_bytes)} · ${fmt.percent(proc.heap_share)} of limit`),
    tile('event-loop', 'event-loop delay p50 · p99', latest === null ? '–' : `${fmt.ms(latest.event_loop_delay_ms.p50)} · ${fmt.ms(latest.event_loop_delay_ms.p99)}`),
    tile('gc', 'GC since start: runs · pause', `${fmt.number(proc.gc_since_start.count)} · ${fmt.ms(proc.gc_since_start.ms)}`),
    tile('uptime', 'uptime', proc.uptime_s < 120 ? `${proc.uptime_s} s` : `${fmt.number(Math.round(proc.uptime_s / 60))} min`),
  );
  const at = proc.history.at.map((ms) => ms / 1000);
  charts.cpu.setData([at, proc.history.cpu_percent]);
  charts.rss.setData([at, proc.history.rss_bytes.map((b) => b / 2 ** 20)]);
  charts.delay.setData([at, proc.history.event_loop_delay_p50_ms, proc.history.event_loop_delay_p99_ms]);
}
