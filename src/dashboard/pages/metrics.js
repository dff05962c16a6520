// Real-time metrics: the live tiles and latest decisions from /ws, and charts of throughput, latency,
// the decision mix and the flag and reject rates against their usual level. "15 min (live)" starts
// from the store and then follows /ws each second; longer ranges come from the store, so a restart keeps them.
import { api } from '../lib/api.js';
import { chart, COLOURS } from '../lib/chart.js';
import { decisionBadge, fmt, h, stylesheet } from '../lib/dom.js';

const RANGES = { '15m': '15 min (live)', '1h': '1 hour', '24h': '24 hours', '7d': '7 days' };
const LIVE_RANGE = '15m';
const LIVE_SPAN_S = 15 * 60;
const SPLITS = { none: 'nothing', event_type: 'event type', channel: 'channel' };
const OUTCOMES = ['approved', 'flagged', 'rejected'];
const COUNTED = ['decisions', ...OUTCOMES, 'late', 'degraded'];
/** One colour per value of a split, largest first (the API names at most eight). */
const VALUE_COLOURS = [COLOURS.blue, COLOURS.green, COLOURS.purple, COLOURS.approved, COLOURS.flagged, COLOURS.rejected, COLOURS.yellow, COLOURS.grey];
const MAX_ROWS = 50;

/** The control changed last: a change re-renders the page, and focus returns to it for keyboard users. */
let changedControl;

/**
 * The seconds of a stored bucket up to the history's `until`: all of it but in the last bucket of
 * a range counted by the minute, the minute under way — its rate is over the part that passed.
 */
const bucketSeconds = (history, bucket) => Math.min(history.bucket_seconds, (Date.parse(history.until) - Date.parse(bucket.at)) / 1000);

/** A chart point: what was decided in the `seconds` up to `at` (epoch seconds), from a stored bucket. */
function bucketPoint(bucket, seconds) {
  const counts = Object.fromEntries(COUNTED.map((k) => [k, bucket[k]]));
  return { at: Date.parse(bucket.at) / 1000 + seconds, seconds, ...counts, latency: bucket.latency_ms };
}

/** The point between two live summaries, from their running counts; none when one repeats the other or the server restarted (its counts went back). */
function summaryPoint(previous, summary) {
  const running = (s) => ({ ...s.decisions, late: s.late, degraded: s.degraded });
  const [before, after] = [running(previous), running(summary)];
  const counts = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
  const seconds = (Date.parse(summary.at) - Date.parse(previous.at)) / 1000;
  if (seconds <= 0 || Object.values(counts).some((n) => n < 0)) return undefined;
  const decisions = counts.approved + counts.flagged + counts.rejected;
  return { at: Date.parse(summary.at) / 1000, seconds, decisions, ...counts, latency: decisions === 0 ? null : summary.latency_ms };
}

/** Indices of values with none beside them: a line cannot draw them, so they are drawn as dots (a latency between empty buckets). */
function isolated(u, seriesIdx) {
  const ys = u.data[seriesIdx];
  const out = [];
  for (let i = 0; i < ys.length; i++) if (ys[i] !== null && (ys[i - 1] ?? null) === null && (ys[i + 1] ?? null) === null) out.push(i);
  return out;
}
const dots = { show: true, size: 5, filter: isolated };

const sum = (points, key) => points.reduce((n, p) => n + p[key], 0);
const share = (part, whole) => (whole === 0 ? null : part / whole);
const percentOf = (part, whole) => (whole === 0 ? null : (100 * part) / whole);

/** The charts of the points: each its series and its columns, after the time column. */
const CHARTS = [
  {
    id: 'throughput',
    title: 'Throughput',
    yLabel: 'decisions/s',
    series: () => [{ label: 'decisions/s', stroke: COLOURS.blue }],
    columns: (points) => [points.map((p) => p.decisions / p.seconds)],
  },
  {
    id: 'latency',
    title: 'Latency',
    yLabel: 'ms',
    series: () => ['p50', 'p95', 'p99'].map((q, i) => ({ label: q, stroke: [COLOURS.green, COLOURS.flagged, COLOURS.rejected][i], points: dots })),
    columns: (points) => ['p50', 'p95', 'p99'].map((q) => points.map((p) => p.latency?.[q] ?? null)),
  },
  {
    id: 'mix',
    title: 'Decision mix',
    yLabel: 'decisions/s',
    series: () => OUTCOMES.map((o) => ({ label: o, stroke: COLOURS[o] })),
    columns: (points) => OUTCOMES.map((o) => points.map((p) => p[o] / p.seconds)),
  },
  {
    id: 'rates',
    title: 'Flag and reject rates against their usual level',
    yLabel: '% of decisions',
    // Lines differ by dash and width too: flagged's and rejected's colours are close for some readers.
    series: () => [
      { label: 'flagged', stroke: COLOURS.flagged, dash: [], points: dots },
      { label: 'rejected', stroke: COLOURS.rejected, dash: [2, 3], points: dots },
      { label: 'usual flagged', stroke: COLOURS.flagged, dash: [8, 4], width: 1 },
      { label: 'usual rejected', stroke: COLOURS.rejected, dash: [8, 3, 2, 3], width: 1 },
    ],
    columns: (points, usual) => [
      points.map((p) => percentOf(p.flagged, p.decisions)),
      points.map((p) => percentOf(p.rejected, p.decisions)),
      points.map(() => (usual.flag_rate === null ? null : 100 * usual.flag_rate)),
      points.map(() => (usual.reject_rate === null ? null : 100 * usual.reject_rate)),
    ],
  },
];

/** What a chart's points add up to, in words (the chart's meaning never rests on its colours). */
const CAPTIONS = {
  throughput: (points) => {
    const peak = Math.max(0, ...points.map((p) => p.decisions / p.seconds));
    return [h('span', {}, 'mean ', h('b', { id: 'throughput-mean' }, fmt.number(sum(points, 'decisions') / Math.max(1, sum(points, 'seconds')))), '/s'), h('span', {}, 'peak ', h('b', { id: 'throughput-peak' }, fmt.number(peak)), '/s')];
  },
  latency: (points) => {
    const measured = points.filter((p) => p.latency !== null);
    const worst = Math.max(0, ...measured.map((p) => p.latency.p99));
    const last = measured[measured.length - 1]?.latency;
    return [h('span', {}, 'latest p50 · p95 · p99 ', h('b', { id: 'latency-latest' }, last === undefined ? '–' : ['p50', 'p95', 'p99'].map((q) => fmt.ms(last[q])).join(' · '))), h('span', {}, 'highest p99 ', h('b', { id: 'latency-worst' }, measured.length === 0 ? '–' : fmt.ms(worst)))];
  },
  mix: (points) => OUTCOMES.map((o) => h('span', {}, `${o} `, h('b', { id: `range-${o}` }, fmt.number(sum(points, o))), ` (${fmt.percent(share(sum(points, o), sum(points, 'decisions')))})`)),
  rates: (points, usual) => {
    const since = usual.since === null ? 'no decisions in the last 7 days' : `${fmt.number(usual.decisions)} decisions since ${fmt.dateTime(usual.since)}`;
    const rate = (outcome, usualRate) => h('span', {}, `${outcome} `, h('b', { id: `rate-${outcome}` }, fmt.percent(share(sum(points, outcome), sum(points, 'decisions')))), ' — usual ', h('b', { id: `usual-${outcome}` }, fmt.percent(usualRate)));
    return [rate('flagged', usual.flag_rate), rate('rejected', usual.reject_rate), h('span', { class: 'muted' }, `usual: ${since}`)];
  },
};

function controls(range, by, navigate) {
  const choose = (name, text, options, current) =>
    h(
      'label',
      {},
      text,
      h(
        'select',
        {
          id: `metrics-${name}`,
          name,
          onchange: (e) => {
            changedControl = e.target.id;
            const query = new URLSearchParams({ range, by, [name]: e.target.value });
            navigate(`/?${query}`, { replace: true });
          },
        },
        ...Object.entries(options).map(([value, text]) => h('option', { value, selected: value === current }, text)),
      ),
    );
  return h('form', { class: 'inline', onsubmit: (e) => e.preventDefault() }, choose('range', 'Range', RANGES, range), choose('by', 'Split by', SPLITS, by));
}

function liveTiles() {
  const text = (id) => h('span', { id }, '0');
  const tile = (title, ...body) => h('div', { class: 'tile' }, h('h2', {}, title), h('p', {}, ...body));
  const ms = () => h('small', {}, ' ms');
  return h(
    'section',
    { class: 'tiles', 'aria-label': 'live figures' },
    tile('events/s', text('events-per-second')),
    tile('latency p50', text('latency-p50'), ms()),
    tile('latency p95', text('latency-p95'), ms()),
    tile('latency p99', text('latency-p99'), ms()),
    tile('consumer lag', text('consumer-lag')),
    tile('dead letters', text('dead-letters')),
    tile('late · degraded', text('late'), ' · ', text('degraded')),
  );
}

function liveMix() {
  const bar = Object.fromEntries(OUTCOMES.map((o) => [o, h('span', { class: o, id: `mix-${o}` })]));
  const section = h(
    'section',
    { class: 'mix' },
    h('h2', {}, 'decision mix since start ', h('small', { id: 'decision-total' })),
    h('div', { class: 'bar', id: 'mix-bar' }, ...Object.values(bar)),
    h('ul', { class: 'legend' }, ...OUTCOMES.map((o) => h('li', {}, h('i', { class: o }), `${o} `, h('b', { id: `count-${o}` }, '0')))),
  );
  return { section, bar };
}

function latestDecisions() {
  const rows = h('tbody', { id: 'decisions' });
  const head = ['time', 'event', 'type', 'user', 'amount', 'score', 'decision', 'ms', 'reason'].map((c, i) => h('th', { class: [4, 5, 7].includes(i) ? 'num' : undefined }, c));
  const section = h('section', {}, h('h2', {}, 'latest decisions'), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...head)), rows)));
  const add = (items) => {
    for (const d of items) {
      rows.prepend(
        h(
          'tr',
          { dataset: { eventId: d.event_id } },
          h('td', {}, fmt.time(d.timestamp)),
          h('td', {}, h('a', { href: `/events/${encodeURIComponent(d.event_id)}`, 'data-link': true }, d.event_id)),
          h('td', {}, d.event_type),
          h('td', {}, d.user_id),
          h('td', { class: 'num' }, d.amount === null ? '' : fmt.number(d.amount)),
          h('td', { class: 'num' }, fmt.score(d.risk_score)),
          h('td', {}, decisionBadge(d.decision)),
          h('td', { class: 'num' }, d.processing_time_ms.toFixed(2)),
          h('td', { class: 'reason' }, d.reason),
        ),
      );
    }
    while (rows.rows.length > MAX_ROWS) rows.deleteRow(rows.rows.length - 1);
  };
  return { section, add };
}

/** The split: decisions per second of each value over time, and each value's totals. */
function splitPanel(by) {
  const body = h('tbody', { id: 'split-totals' });
  const plotBox = h('div', { class: 'plot' });
  const status = h('p', { class: 'caption', role: 'status' });
  const head = ['decisions', ...OUTCOMES, 'flag rate', 'reject rate'].map((c) => h('th', { class: 'num' }, c));
  const section = h(
    'section',
    { class: 'panel split', 'aria-labelledby': 'split-title' },
    h('h2', { id: 'split-title' }, `decisions/s by ${SPLITS[by]}`),
    plotBox,
    status,
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, SPLITS[by]), ...head)), body)),
  );
  let plot;
  const show = (history) => {
    status.textContent = `as of ${fmt.time(history.until)}`;
    const xs = history.buckets.map((b) => Date.parse(b.at) / 1000 + bucketSeconds(history, b));
    const columns = history.values.map(({ value }) => history.buckets.map((b) => (Object.hasOwn(b.by, value) ? b.by[value].decisions : 0) / bucketSeconds(history, b)));
    const series = history.values.map(({ value }, i) => ({ label: value, stroke: VALUE_COLOURS[i % VALUE_COLOURS.length] }));
    // A new set of values needs new series: the chart is made again.
    if (plot === undefined || plot.series.length !== series.length + 1 || series.some((s, i) => plot.series[i + 1].label !== s.label)) {
      plot?.destroy();
      plot = chart(plotBox, { series, data: [xs, ...columns], yLabel: 'decisions/s' });
    } else plot.setData([xs, ...columns]);
    body.replaceChildren(
      ...history.values.map((v) =>
        h(
          'tr',
          { dataset: { value: v.value } },
          h('th', { scope: 'row' }, v.value),
          ...['decisions', ...OUTCOMES].map((k) => h('td', { class: 'num' }, fmt.number(v[k]))),
          h('td', { class: 'num' }, fmt.percent(share(v.flagged, v.decisions))),
          h('td', { class: 'num' }, fmt.percent(share(v.rejected, v.decisions))),
        ),
      ),
    );
    if (history.values.length === 0) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'no decisions in this range')));
  };
  const failed = (err) => (status.textContent = `not refreshed: ${err.message}`);
  return { section, show, failed, destroy: () => plot?.destroy() };
}

export async function render(main, { query, navigate, live }) {
  stylesheet('/pages/metrics.css');
  const range = Object.hasOwn(RANGES, query.get('range') ?? '') ? query.get('range') : LIVE_RANGE;
  const by = Object.hasOwn(SPLITS, query.get('by') ?? '') ? query.get('by') : 'none';
  const isLive = range === LIVE_RANGE;

  const mix = liveMix();
  const latest = latestDecisions();
  const rangeTotals = h('p', { class: 'range-totals', id: 'range-totals', role: 'status' }, 'loading…');
  const panels = CHARTS.map((c) => ({ ...c, box: h('div', { class: 'plot' }), caption: h('p', { class: 'caption', id: `${c.id}-caption` }) }));
  const split = by === 'none' ? undefined : splitPanel(by);
  const root = h(
    'div',
    { class: 'metrics', dataset: { range, by, state: 'loading' } },
    h('div', { class: 'metrics-head' }, h('h1', {}, 'Real-time metrics'), controls(range, by, navigate)),
    liveTiles(),
    mix.section,
    h(
      'section',
      { class: 'history', 'aria-label': `decisions over ${RANGES[range]}` },
      rangeTotals,
      h('div', { class: 'grid charts' }, ...panels.map((p) => h('section', { class: 'panel', 'aria-labelledby': `${p.id}-title` }, h('h2', { id: `${p.id}-title` }, p.title), p.box, p.caption))),
      split?.section,
    ),
    latest.section,
  );
  main.append(root);
  if (changedControl !== undefined) document.getElementById(changedControl)?.focus();
  changedControl = undefined;

  const set = (id, value) => (root.querySelector(`#${id}`).textContent = value);
  const offs = [
    live.on('summary', (s) => {
      set('events-per-second', fmt.number(s.events_per_second));
      for (const q of ['p50', 'p95', 'p99']) set(`latency-${q}`, fmt.number(s.latency_ms[q]));
      set('consumer-lag', fmt.number(s.consumer_lag));
      set('dead-letters', fmt.number(s.dead_letters));
      set('late', fmt.number(s.late));
      set('degraded', fmt.number(s.degraded));
      const total = s.decisions.approved + s.decisions.flagged + s.decisions.rejected;
      set('decision-total', `${fmt.number(total)} total`);
      for (const [name, n] of Object.entries(s.decisions)) {
        set(`count-${name}`, fmt.number(n));
        mix.bar[name].style.width = total === 0 ? '0' : `${(100 * n) / total}%`;
      }
    }),
    live.on('decisions', latest.add),
  ];
  const plots = [];
  const timers = [];
  const cleanup = () => {
    for (const off of offs) off();
    for (const plot of plots) plot.destroy();
    for (const timer of timers) clearInterval(timer);
    split?.destroy();
  };

  let history;
  try {
    history = await api('history', { query: { range, by } });
  } catch (err) {
    cleanup();
    root.remove();
    throw err;
  }
  // Another render replaced this one while the history loaded: nothing more to draw.
  if (!root.isConnected) return cleanup();

  let points = history.buckets.map((b) => bucketPoint(b, bucketSeconds(history, b)));
  const usual = history.usual;
  const draw = () => {
    const xs = points.map((p) => p.at);
    panels.forEach((p, i) => {
      const data = [xs, ...p.columns(points, usual)];
      if (plots[i] === undefined) plots[i] = chart(p.box, { series: p.series(), data, yLabel: p.yLabel });
      else plots[i].setData(data);
      p.caption.replaceChildren(...CAPTIONS[p.id](points, usual));
    });
    const counted = (key) => h('b', { id: `range-total-${key}` }, fmt.number(sum(points, key)));
    rangeTotals.replaceChildren(
      `${isLive ? 'Last 15 min, live' : `Last ${RANGES[range]}, as of ${fmt.time(history.until)}`}: `,
      counted('decisions'),
      ' decisions — late ',
      counted('late'),
      ', degraded ',
      counted('degraded'),
    );
  };
  draw();
  split?.show(history);
  root.dataset.state = isLive ? 'seeded' : 'loaded';

  if (isLive) {
    // The store's last 15 min up to `until`, then a point per live summary after it: the first
    // summary after it is the baseline (what fell between the two is left out, never counted twice).
    let previous;
    offs.push(
      live.on('summary', (s) => {
        if (Date.parse(s.at) <= Date.parse(history.until)) return;
        const point = previous === undefined ? undefined : summaryPoint(previous, s);
        previous = s;
        root.dataset.state = 'live';
        if (point === undefined) return;
        points = [...points.filter((p) => p.at > point.at - LIVE_SPAN_S), point];
        draw();
      }),
    );
    // Summaries carry no split: the split follows the store, a bucket at a time.
    if (split !== undefined) timers.push(setInterval(() => api('history', { query: { range, by } }).then(split.show, split.failed), history.bucket_seconds * 1000));
  }
  return cleanup;
}
