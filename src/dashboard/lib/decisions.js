// Stored decisions as the explorer and the event page list them: a row per decision linking to its event, and the verdict in words.
import { decisionBadge, fmt, h } from './dom.js';

/** A stored verdict as a badge: fraud, not fraud, or none yet — the word carries it, not the colour. */
export function verdictBadge(isFraud) {
  if (isFraud === null || isFraud === undefined) return h('span', { class: 'badge v-none' }, 'unlabelled');
  return isFraud ? h('span', { class: 'badge v-fraud' }, 'fraud') : h('span', { class: 'badge v-legit' }, 'not fraud');
}

/** Where a decision stepped off the usual path, in words: late, partial history, degraded. */
function flags(d) {
  return [d.late ? 'late' : null, d.history === 'partial' ? 'partial history' : null, d.degraded !== 'none' ? d.degraded.replace('_', ' ') : null].filter(Boolean).join(', ');
}

const COLUMNS = ['decided', 'event', 'type', 'channel', 'user', 'merchant', 'score', 'decision', 'label', 'flags', 'reason'];

/**
 * A table of stored decisions, newest first, each event id a link to its page. `current` marks
 * the row of the event being viewed; `link(field, value)` makes a user or merchant a link (to the
 * explorer filtered by it).
 */
export function decisionTable(items, { current, link } = {}) {
  const cell = (field, value) => (value === null || value === undefined ? '' : link === undefined ? value : h('a', { href: link(field, value), 'data-link': true }, value));
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'decisions' },
      h('thead', {}, h('tr', {}, ...COLUMNS.map((c) => h('th', { scope: 'col', class: c === 'score' ? 'num' : undefined }, c)))),
      h(
        'tbody',
        {},
        ...items.map((d) =>
          h(
            'tr',
            { dataset: { eventId: d.event_id }, 'aria-current': d.event_id === current ? 'true' : undefined },
            h('td', {}, h('time', { datetime: d.timestamp }, fmt.dateTime(d.timestamp))),
            h('td', {}, d.event_id === current ? d.event_id : h('a', { href: `/events/${encodeURIComponent(d.event_id)}`, 'data-link': true }, d.event_id)),
            h('td', {}, d.event_type),
            h('td', {}, d.channel ?? ''),
            h('td', {}, cell('user_id', d.user_id)),
            h('td', {}, cell('merchant_id', d.merchant_id)),
            h('td', { class: 'num' }, fmt.score(d.risk_score)),
            h('td', {}, decisionBadge(d.decision)),
            h('td', {}, verdictBadge(d.is_fraud)),
            h('td', {}, flags(d)),
            h('td', { class: 'reason' }, d.reason),
          ),
        ),
      ),
    ),
  );
}
