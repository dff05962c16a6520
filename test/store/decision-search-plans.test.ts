// The explorer's searches on 200,000 decisions in PostgreSQL: each filter's page read through an index, never a scan of the table, and paging that finds exactly what the filter names.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EXPLORER_FILTERS, explainPage, fillDecisions, PAGE } from '../../bench/explorer.ts';
import type { Reason } from '../../src/contracts/index.ts';
import { listDecisions, openDatabase, type Database, type DecisionQuery } from '../../src/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const ROWS = 200_000;

/**
 * The index each filter's first page must read when the filter alone is selective (the rest may
 * walk decisions_time, which the planner prefers while matches are dense — still an index).
 */
const EXPECTED_INDEX: Record<string, string> = {
  none: 'decisions_time',
  'decision = rejected': 'decisions_outcome_time',
  'event_type = withdrawal': 'decisions_event_type_time',
  'channel = atm': 'decisions_channel_time',
  user_id: 'decisions_user_id_time',
  merchant_id: 'decisions_merchant_id_time',
  'since / until': 'decisions_time',
  'rule = blocked_country': 'decisions_reason_codes',
  'label = fraud': 'decisions_label_time',
  'label = legit': 'decisions_label_time',
  late: 'decisions_late_time',
  degraded: 'decisions_degraded_time',
};

interface Row {
  event_id: string;
  timestamp: Date;
  decision: string;
  event_type: string;
  channel: string;
  user_id: string;
  merchant_id: string | null;
  risk_score: number;
  reasons: Reason[];
  label: string | null;
  late: boolean;
  degraded: string;
}

/** The filter as plain JavaScript over a row: what the SQL must agree with. */
function matches(r: Row, q: Omit<DecisionQuery, 'limit' | 'cursor'>): boolean {
  return (
    (q.decision === undefined || r.decision === q.decision) &&
    (q.event_type === undefined || r.event_type === q.event_type) &&
    (q.channel === undefined || r.channel === q.channel) &&
    (q.user_id === undefined || r.user_id === q.user_id) &&
    (q.merchant_id === undefined || r.merchant_id === q.merchant_id) &&
    (q.min_score === undefined || r.risk_score >= q.min_score) &&
    (q.max_score === undefined || r.risk_score <= q.max_score) &&
    (q.since === undefined || r.timestamp.getTime() >= Date.parse(q.since)) &&
    (q.until === undefined || r.timestamp.getTime() < Date.parse(q.until)) &&
    (q.rule === undefined || r.reasons.some((reason) => reason.code === q.rule)) &&
    (q.label === undefined || (q.label === 'unlabelled' ? r.label === null : r.label === q.label)) &&
    (q.late === undefined || r.late === q.late) &&
    (q.degraded === undefined || (r.degraded !== 'none') === q.degraded)
  );
}

describe(`searching ${ROWS.toLocaleString('en-US')} decisions on PostgreSQL`, () => {
  let made: TestDatabase | { skip: string };
  let db: Database;
  /** Every row, newest first in the page order. */
  let all: Row[];
  before(async () => {
    made = await createTestDatabase();
    if ('skip' in made) return;
    db = await openDatabase({ databaseUrl: made.url, dataDir: '.' });
    await fillDecisions(db, ROWS);
    all = await db.query<Row>('SELECT event_id, timestamp, decision, event_type, channel, user_id, merchant_id, risk_score, reasons, label, late, degraded FROM decisions ORDER BY timestamp DESC, decision_id DESC');
  });
  after(async () => {
    if ('skip' in made) return;
    await db.close();
    await made.drop();
  });

  it("reads each filter's first page through an index, never a scan of the table", async (t) => {
    if ('skip' in made) return t.skip(made.skip);
    for (const { name, query } of EXPLORER_FILTERS) {
      const plan = await explainPage(db, { ...query, limit: PAGE });
      assert.doesNotMatch(plan, /Seq Scan on decisions/, `${name}:\n${plan}`);
      assert.match(plan, /Index (Only )?Scan (Backward )?(using|on) \w+ on decisions|Bitmap Index Scan on decisions_/, `${name}:\n${plan}`);
      const expected = EXPECTED_INDEX[name];
      if (expected !== undefined) assert.match(plan, new RegExp(`(using|on) ${expected}\\b`), `${name} reads ${expected}:\n${plan}`);
    }
    // A page deep in the results is read the same way: the cursor bounds the same index.
    const deep = await listDecisions(db, { decision: 'rejected', until: all[Math.floor(ROWS * 0.9)]!.timestamp.toISOString(), limit: 1 });
    const plan = await explainPage(db, { decision: 'rejected', limit: PAGE, cursor: deep.next_cursor! });
    assert.match(plan, /Index Scan using decisions_outcome_time/, plan);
  });

  it('pages through every filter to exactly the decisions it names, in order, without repeats', async (t) => {
    if ('skip' in made) return t.skip(made.skip);
    for (const { name, query } of EXPLORER_FILTERS) {
      const expected = all.filter((r) => matches(r, query)).map((r) => r.event_id);
      assert.ok(expected.length > 0, `${name} matches some of the filled decisions`);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listDecisions(db, { ...query, limit: 1000, cursor });
        seen.push(...page.items.map((d) => d.event_id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      assert.equal(seen.length, expected.length, `${name}: as many as the filter names`);
      assert.deepEqual(seen, expected, name);
    }
  });

  it('pages back from the last page to the first through the previous cursors', async (t) => {
    if ('skip' in made) return t.skip(made.skip);
    const query = { channel: 'atm', min_score: 0.3 } as const;
    const expected = all.filter((r) => matches(r, query)).map((r) => r.event_id);
    let page = await listDecisions(db, { ...query, limit: 1000 });
    while (page.next_cursor !== null) page = await listDecisions(db, { ...query, limit: 1000, cursor: page.next_cursor });
    const pages = [page.items.map((d) => d.event_id)];
    while (page.prev_cursor !== null) {
      page = await listDecisions(db, { ...query, limit: 1000, cursor: page.prev_cursor });
      pages.unshift(page.items.map((d) => d.event_id));
    }
    assert.ok(pages.length > 2, `${pages.length} pages`);
    assert.deepEqual(pages.flat(), expected);
  });
});
