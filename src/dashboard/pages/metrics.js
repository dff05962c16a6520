// Real-time metrics: the live tiles, the decision mix and the latest decisions from /ws.
import { decisionBadge, fmt, h } from '../lib/dom.js';

const MAX_ROWS = 50;

export function render(main, { live }) {
  const text = (id) => h('span', { id }, '0');
  const tile = (title, ...body) => h('div', { class: 'tile' }, h('h2', {}, title), h('p', {}, ...body));
  const rows = h('tbody', { id: 'decisions' });
  const mix = { approved: h('span', { class: 'approved', id: 'mix-approved' }), flagged: h('span', { class: 'flagged', id: 'mix-flagged' }), rejected: h('span', { class: 'rejected', id: 'mix-rejected' }) };
  main.append(
    h('h1', {}, 'Real-time metrics'),
    h(
      'section',
      { class: 'tiles' },
      tile('events/s', text('events-per-second')),
      tile('latency p50', text('latency-p50'), h('small', {}, ' ms')),
      tile('latency p99', text('latency-p99'), h('small', {}, ' ms')),
      tile('consumer lag', text('consumer-lag')),
      tile('dead letters', text('dead-letters')),
      tile('late · degraded', text('late'), ' · ', text('degraded')),
    ),
    h(
      'section',
      { class: 'mix' },
      h('h2', {}, 'decision mix since start ', h('small', { id: 'decision-total' })),
      h('div', { class: 'bar', id: 'mix-bar' }, mix.approved, mix.flagged, mix.rejected),
      h('ul', { class: 'legend' }, ...['approved', 'flagged', 'rejected'].map((d) => h('li', {}, h('i', { class: d }), `${d} `, h('b', { id: `count-${d}` }, '0')))),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'latest decisions'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ...['time', 'event', 'type', 'user', 'amount', 'score', 'decision', 'ms', 'reason'].map((c, i) => h('th', { class: [4, 5, 7].includes(i) ? 'num' : undefined }, c)))),
          rows,
        ),
      ),
    ),
  );
  const set = (id, value) => (main.querySelector(`#${id}`).textContent = value);
  const offSummary = live.on('summary', (s) => {
    set('events-per-second', fmt.number(s.events_per_second));
    set('latency-p50', fmt.number(s.latency_ms.p50));
    set('latency-p99', fmt.number(s.latency_ms.p99));
    set('consumer-lag', fmt.number(s.consumer_lag));
    set('dead-letters', fmt.number(s.dead_letters));
    set('late', fmt.number(s.late));
    set('degraded', fmt.number(s.degraded));
    const total = s.decisions.approved + s.decisions.flagged + s.decisions.rejected;
    set('decision-total', `${fmt.number(total)} total`);
    for (const [name, n] of Object.entries(s.decisions)) {
      set(`count-${name}`, fmt.number(n));
      mix[name].style.width = total === 0 ? '0' : `${(100 * n) / total}%`;
    }
  });
  const offDecisions = live.on('decisions', (items) => {
    for (const d of items) {
      const event = h('a', { href: `/events/${encodeURIComponent(d.event_id)}`, 'data-link': true }, d.event_id);
      rows.prepend(
        h(
          'tr',
          { dataset: { eventId: d.event_id } },
          h('td', {}, fmt.time(d.timestamp)),
          h('td', {}, event),
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
  });
  return () => {
    offSummary();
    offDecisions();
  };
}
