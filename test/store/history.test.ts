import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionIdFor, validateEvent, type Decision, type Degradation, type Outcome } from '../../src/contracts/index.ts';
import { decisionHistory, HISTORY_RANGES, insertDecisions, insertEvents, MAX_SPLIT_VALUES, NO_VALUE, OTHER_VALUES, usualLevel, type Database, type DecisionHistory } from '../../src/store/index.ts';
import { LATENCY_ABSOLUTE_BOUND_MS, LATENCY_RELATIVE_BOUND } from '../../src/store/latency-histogram.ts';
import { onBothStores, openedStore } from '../support/postgres.ts';

interface Stored {
  id: string;
  /** Decision time, epoch ms. */
  at: number;
  outcome: Outcome;
  ms: number;
  event_type?: string;
  channel?: string;
  late?: boolean;
  degraded?: Degradation;
}

async function store(db: Database, rows: readonly Stored[]): Promise<void> {
  const events = rows.map((r) => {
    const checked = validateEvent({ event_id: r.id, event_type: r.event_type ?? 'login', timestamp: r.at, user_id: 'u1', amount: 10, ...(r.channel === undefined ? {} : { channel: r.channel }) });
    assert.ok(checked.ok, r.id);
    return { event: checked.event };
  });
  const decisions = rows.map(
    (r): Decision => ({
      decision_id: decisionIdFor(r.id),
      event_id: r.id,
      decision: r.outcome,
      risk_score: 0.5,
      reason: 'test',
      reasons: [],
      timestamp: new Date(r.at).toISOString(),
      processing_time_ms: r.ms,
      model_version: null,
      rules_version: 'test',
      late: r.late ?? false,
      history: 'complete',
      degraded: r.degraded ?? 'none',
      event_time_source: 'event',
    }),
  );
  await db.batch([insertEvents(events), insertDecisions(decisions.map((decision, i) => ({ decision, event: events[i]!.event })), { writer: 'test' })]);
}

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
function percentileCont(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

const MINUTE = 60_000;

/** The bucketing is pinned on embedded PGlite and on the machine's PostgreSQL (date_bin and percentile_cont on both). */
function historySuite(kind: string, open: () => Promise<Database | { skip: string }>, cleanup: () => Promise<void>): void {
  describe(`decision history on ${kind}`, () => {
    const db = openedStore(open, cleanup);

    /** The counts of a bucket against the decisions it must hold; latency exact (percentile_cont) or within the histogram's bound. */
    const expectBucket = (history: DecisionHistory, index: number, rows: readonly Stored[], latency: 'exact' | 'estimated'): void => {
      const b = history.buckets[index]!;
      const count = (outcome: Outcome): number => rows.filter((r) => r.outcome === outcome).length;
      assert.deepEqual(
        { decisions: b.decisions, approved: b.approved, flagged: b.flagged, rejected: b.rejected, late: b.late, degraded: b.degraded },
        { decisions: rows.length, approved: count('approved'), flagged: count('flagged'), rejected: count('rejected'), late: rows.filter((r) => r.late).length, degraded: rows.filter((r) => (r.degraded ?? 'none') !== 'none').length },
        `bucket ${index}`,
      );
      const ms = rows.map((r) => r.ms);
      for (const [q, p] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
        const exact = percentileCont(ms, p);
        const bound = latency === 'exact' ? 1e-9 : LATENCY_RELATIVE_BOUND * exact + LATENCY_ABSOLUTE_BOUND_MS;
        assert.ok(Math.abs(b.latency_ms![q] - exact) <= bound, `bucket ${index} ${q}: ${b.latency_ms![q]} vs ${exact} (±${bound})`);
      }
    };

    it('buckets an hour by whole minutes up to the minute under way: counts, outcomes, late, degraded, and latency percentiles within the histogram’s bound', async (t) => {
      if (db.skip !== undefined) return t.skip(db.skip);
      const until = Date.parse('2026-01-10T12:00:30.250Z');
      // The last bucket is the minute under way at `until`; the first starts an hour before its end.
      const from = Date.parse('2026-01-10T11:01:00Z');
      const outcomes: Outcome[] = ['approved', 'flagged', 'rejected'];
      // Minute 0 starts at `from` exactly (included); the last holds a decision just before `until`; one decision each side of the minutes is left out.
      const inRange: Stored[] = [
        ...Array.from({ length: 9 }, (_, i): Stored => ({ id: `h-first-${i}`, at: from + i * 1000, outcome: outcomes[i % 3]!, ms: [0.4, 2, 0.7, 9.5, 1.1, 0.2, 3.3, 0.9, 5][i]!, late: i === 4 })),
        ...Array.from({ length: 4 }, (_, i): Stored => ({ id: `h-mid-${i}`, at: from + 30 * MINUTE + i * 7000, outcome: i === 0 ? 'rejected' : 'approved', ms: 1 + i, degraded: i < 2 ? 'rules_only' : 'none' })),
        { id: 'h-last', at: until - 1, outcome: 'flagged', ms: 0.3 },
      ];
      const outside: Stored[] = [
        { id: 'h-before', at: from - 1, outcome: 'rejected', ms: 50 },
        { id: 'h-next-minute', at: from + 60 * MINUTE, outcome: 'rejected', ms: 50 },
      ];
      await store(db.db!, [...inRange, ...outside]);

      const history = await decisionHistory(db.db!, { range: '1h', by: 'none', until: new Date(until) });
      assert.equal(history.bucket_seconds, 60);
      assert.equal(history.buckets.length, 60);
      assert.equal(history.from, new Date(from).toISOString());
      assert.equal(history.until, new Date(until).toISOString());
      history.buckets.forEach((b, i) => assert.equal(b.at, new Date(from + i * MINUTE).toISOString(), `bucket ${i} starts a minute after the one before`));
      assert.equal(history.buckets[0]!.by, undefined, 'no split asked, none given');

      expectBucket(history, 0, inRange.filter((r) => r.id.startsWith('h-first')), 'estimated');
      expectBucket(history, 30, inRange.filter((r) => r.id.startsWith('h-mid')), 'estimated');
      // One decision: its minute's lowest and highest latency, so exact.
      expectBucket(history, 59, [inRange.at(-1)!], 'exact');
      const empty = history.buckets.filter((_, i) => ![0, 30, 59].includes(i));
      assert.ok(empty.every((b) => b.decisions === 0 && b.latency_ms === null), 'every other bucket is there, empty');

      const count = (outcome: Outcome): number => inRange.filter((r) => r.outcome === outcome).length;
      assert.deepEqual(history.totals, { decisions: inRange.length, approved: count('approved'), flagged: count('flagged'), rejected: count('rejected'), late: 1, degraded: 2 });
    });

    it('counts a quarter of an hour from the decisions: 15 s buckets ending at the time asked, exact percentiles', async (t) => {
      if (db.skip !== undefined) return t.skip(db.skip);
      const until = Date.parse('2026-01-20T08:00:07.500Z');
      const from = until - HISTORY_RANGES['15m'].ms;
      const first: Stored[] = Array.from({ length: 7 }, (_, i) => ({ id: `q-first-${i}`, at: from + i * 2000, outcome: i === 3 ? 'rejected' : 'approved', ms: [0.41, 2.2, 0.73, 9.5, 1.13, 0.21, 3.3][i]!, late: i === 1 }));
      const last: Stored[] = [{ id: 'q-last-0', at: until - 10, outcome: 'flagged', ms: 0.35 }, { id: 'q-last-1', at: until - 1, outcome: 'approved', ms: 0.37 }];
      await store(db.db!, [...first, ...last, { id: 'q-before', at: from - 1, outcome: 'rejected', ms: 1 }, { id: 'q-at-until', at: until, outcome: 'rejected', ms: 1 }]);
      const history = await decisionHistory(db.db!, { range: '15m', by: 'none', until: new Date(until) });
      assert.equal(history.from, new Date(from).toISOString());
      assert.equal(history.buckets.length, 60);
      expectBucket(history, 0, first, 'exact');
      expectBucket(history, 59, last, 'exact');
      assert.equal(history.totals.decisions, first.length + last.length);
    });

    it('splits by channel: counts per value, events without one as (none), the values past the largest folded into (other)', async (t) => {
      if (db.skip !== undefined) return t.skip(db.skip);
      const until = Date.parse('2026-02-10T00:00:00Z');
      // Ten channels of 12 down to 3 decisions ("constructor" is a valid channel, and no object's own key), and two events without a channel.
      const channels = ['web', 'mobile', 'constructor', 'pos', 'atm', 'api', 'kiosk', 'branch', 'phone', 'mail'];
      const rows: Stored[] = channels.flatMap((channel, c) => Array.from({ length: 12 - c }, (_, i): Stored => ({ id: `s-${channel}-${i}`, at: until - (i + 1) * 20 * MINUTE, outcome: i % 4 === 0 ? 'flagged' : 'approved', ms: 1, channel })));
      rows.push({ id: 's-none-0', at: until - 5 * MINUTE, outcome: 'rejected', ms: 1 }, { id: 's-none-1', at: until - 25 * MINUTE, outcome: 'approved', ms: 1 });
      await store(db.db!, rows);

      const history = await decisionHistory(db.db!, { range: '24h', by: 'channel', until: new Date(until) });
      const perValue = new Map<string, Stored[]>();
      for (const r of rows) perValue.set(r.channel ?? NO_VALUE, [...(perValue.get(r.channel ?? NO_VALUE) ?? []), r]);
      const ranked = [...perValue].sort(([, a], [, b]) => b.length - a.length);
      const shown = ranked.slice(0, MAX_SPLIT_VALUES - 1);
      const folded = ranked.slice(MAX_SPLIT_VALUES - 1).flatMap(([, list]) => list);
      const counts = (list: readonly Stored[]): Record<string, number> => ({
        decisions: list.length,
        approved: list.filter((r) => r.outcome === 'approved').length,
        flagged: list.filter((r) => r.outcome === 'flagged').length,
        rejected: list.filter((r) => r.outcome === 'rejected').length,
      });
      assert.deepEqual(
        history.values,
        [...shown, [OTHER_VALUES, folded] as const].map(([value, list]) => ({ value, ...counts(list) })),
      );
      assert.ok(folded.some((r) => r.channel === undefined), 'the events without a channel are among the smallest here');

      // Per bucket: each row's value (or OTHER) counted in the bucket holding its time.
      const shownNames = new Set(shown.map(([value]) => value));
      for (const [i, b] of history.buckets.entries()) {
        const start = Date.parse(b.at);
        const inBucket = rows.filter((r) => r.at >= start && r.at < start + history.bucket_seconds * 1000);
        const expected = new Map<string, Stored[]>();
        for (const r of inBucket) {
          const name = shownNames.has(r.channel ?? NO_VALUE) ? (r.channel ?? NO_VALUE) : OTHER_VALUES;
          expected.set(name, [...(expected.get(name) ?? []), r]);
        }
        assert.deepEqual(b.by, Object.fromEntries([...expected].map(([name, list]) => [name, counts(list)])), `bucket ${i}`);
        assert.equal(b.decisions, inBucket.length, `bucket ${i}`);
      }
    });

    it('splits by event type; each range has its bucket count', async (t) => {
      if (db.skip !== undefined) return t.skip(db.skip);
      const until = Date.parse('2026-03-10T00:00:00Z');
      const types = ['transaction', 'transaction', 'login', 'withdrawal', 'transaction'];
      await store(db.db!, types.map((event_type, i): Stored => ({ id: `t-${i}`, at: until - (i + 1) * 1000, outcome: 'approved', ms: 1, event_type })));
      const history = await decisionHistory(db.db!, { range: '15m', by: 'event_type', until: new Date(until) });
      assert.deepEqual(
        history.values.map((v) => [v.value, v.decisions]),
        [['transaction', 3], ['login', 1], ['withdrawal', 1]],
      );
      assert.deepEqual(history.buckets.at(-1)!.by, { transaction: { decisions: 3, approved: 3, flagged: 0, rejected: 0 }, login: { decisions: 1, approved: 1, flagged: 0, rejected: 0 }, withdrawal: { decisions: 1, approved: 1, flagged: 0, rejected: 0 } });
      for (const [range, { ms, bucketMs }] of Object.entries(HISTORY_RANGES)) {
        const h = await decisionHistory(db.db!, { range: range as keyof typeof HISTORY_RANGES, by: 'none', until: new Date(until) });
        assert.equal(h.buckets.length, ms / bucketMs, range);
        assert.equal(h.totals.decisions, types.length, `${range} holds the last five seconds`);
      }
    });

    it('reads the usual flag and reject rates over the last week, from its oldest decision', async (t) => {
      if (db.skip !== undefined) return t.skip(db.skip);
      const until = Date.parse('2026-05-01T00:00:00Z');
      const day = 24 * 60 * MINUTE;
      const week: Stored[] = [
        ...Array.from({ length: 6 }, (_, i): Stored => ({ id: `u-a-${i}`, at: until - 5 * day + i * MINUTE, outcome: 'approved', ms: 1 })),
        ...Array.from({ length: 3 }, (_, i): Stored => ({ id: `u-f-${i}`, at: until - 2 * day + i * MINUTE, outcome: 'flagged', ms: 1 })),
        { id: 'u-r-0', at: until - MINUTE, outcome: 'rejected', ms: 1 },
      ];
      await store(db.db!, [...week, { id: 'u-old', at: until - 7 * day - 1, outcome: 'rejected', ms: 1 }]);
      assert.deepEqual(await usualLevel(db.db!, new Date(until)), {
        since: new Date(until - 5 * day).toISOString(),
        until: new Date(until).toISOString(),
        decisions: week.length,
        flag_rate: 3 / week.length,
        reject_rate: 1 / week.length,
      });
      assert.deepEqual(await usualLevel(db.db!, new Date(until + 30 * day)), { since: null, until: new Date(until + 30 * day).toISOString(), decisions: 0, flag_rate: null, reject_rate: null });
    });
  });
}

onBothStores(historySuite);
