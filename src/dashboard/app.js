// Live dashboard: renders the /ws summary (once a second) and decision batches (a few times a second).
const MAX_ROWS = 50;
const SPARK_POINTS = 60;
const rates = [];
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function setText(id, value) {
  $(id).textContent = value;
}

function renderSummary(s) {
  setText('events-per-second', fmt.format(s.events_per_second));
  setText('latency-p50', fmt.format(s.latency_ms.p50));
  setText('latency-p99', fmt.format(s.latency_ms.p99));
  setText('consumer-lag', fmt.format(s.consumer_lag));
  setText('dead-letters', fmt.format(s.dead_letters));
  setText('late', fmt.format(s.late));
  setText('degraded', fmt.format(s.degraded));
  setText('model-version', s.model_version ?? 'none (rules only)');
  setText('rules-version', s.rules_version);
  const { approved, flagged, rejected } = s.decisions;
  const total = approved + flagged + rejected;
  setText('decision-total', `${fmt.format(total)} total`);
  for (const [name, n] of Object.entries(s.decisions)) {
    setText(`count-${name}`, fmt.format(n));
    $(`mix-${name}`).style.width = total === 0 ? '0' : `${(100 * n) / total}%`;
  }
  rates.push(s.events_per_second);
  if (rates.length > SPARK_POINTS) rates.shift();
  const max = Math.max(1, ...rates);
  const points = rates.map((r, i) => `${(i * 120) / (SPARK_POINTS - 1)},${30 - (28 * r) / max}`).join(' ');
  document.querySelector('#rate-spark polyline').setAttribute('points', points);
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderDecisions(items) {
  const body = $('decisions');
  for (const d of items) {
    const tr = document.createElement('tr');
    tr.dataset.eventId = d.event_id;
    tr.append(
      cell(new Date(d.timestamp).toLocaleTimeString()),
      cell(d.event_id),
      cell(d.event_type),
      cell(d.user_id),
      cell(d.amount === null ? '' : fmt.format(d.amount), 'num'),
      cell(d.risk_score.toFixed(3), 'num'),
      cell(d.decision, `d-${d.decision}`),
      cell(d.processing_time_ms.toFixed(2), 'num'),
      cell(d.reason, 'reason'),
    );
    body.prepend(tr);
  }
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

function connect() {
  // With RTDS_API_KEYS set the feed needs a read key: open the dashboard as /#key=<key> (a fragment never reaches a server log).
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  const query = key ? `?api_key=${encodeURIComponent(key)}` : '';
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${query}`);
  const status = $('connection');
  ws.onopen = () => {
    status.textContent = 'live';
    status.dataset.state = 'live';
    status.className = 'pill pill-on';
  };
  ws.onclose = () => {
    status.textContent = 'reconnecting…';
    status.dataset.state = 'reconnecting';
    status.className = 'pill pill-off';
    setTimeout(connect, 1000);
  };
  ws.onmessage = (message) => {
    const m = JSON.parse(message.data);
    if (m.type === 'summary') renderSummary(m.data);
    else if (m.type === 'decisions') renderDecisions(m.data);
  };
}

connect();
