// Backtest: a candidate rule set replayed over decisions already made — what it would have decided, and how well.
import type { Degradation, Outcome, RtdsEvent } from '../contracts/index.ts';
import type { DecisionEngine } from './decision-engine.ts';
import { Watchlists } from './watchlists.ts';

/** A decision made before, with what it was made from. */
export interface HistoricDecision {
  event: RtdsEvent;
  /** In the candidate engine's feature order; undefined when stored under another feature set (conditions on features then do not fire). */
  features: Float64Array | undefined;
  risk_score: number;
  degraded: Degradation;
  decision: Outcome;
  is_fraud: boolean | null;
}

/** Precision and recall of "not approved" (flagged or rejected) as the call on fraud, over labelled events. */
export interface Catch {
  precision: number;
  recall: number;
  /** Fraud stopped (flagged or rejected), fraud approved, legitimate events stopped. */
  caught: number;
  missed: number;
  false_alarms: number;
}

export interface BacktestReport {
  candidate: string;
  events: number;
  labelled: number;
  mix: { live: Record<Outcome, number>; candidate: Record<Outcome, number> };
  /** Events the candidate decides otherwise, by `live→candidate` (e.g. `approved→rejected`). */
  changed: Record<string, number>;
  /** Events each candidate rule fired on (a rule that never fired is listed with 0). */
  hits: Record<string, number>;
  catch: { live: Catch | null; candidate: Catch | null };
}

/** Most stored decisions one backtest replays (docs/rules.md). */
export const MAX_BACKTEST_EVENTS = 100_000;
/** Longest the replay holds the event loop before it lets other requests be answered. */
const SLICE_MS = 10;
/**
 * Rule evaluations between two looks at the clock. An interpreted condition costs up to ~20 µs:
 * with many rules the clock is read after every event, with few after hundreds.
 */
const RULES_PER_CHECK = 256;

/** The backtest ran past its deadline: how far it got, so a narrower one can be asked for. */
export class BacktestDeadlineError extends Error {
  constructor(
    readonly replayed: number,
    readonly events: number,
    readonly timeoutMs: number,
  ) {
    super(`the backtest did not finish within ${timeoutMs} ms: it replayed ${replayed} of ${events} decisions; ask for fewer (limit, since) or fewer rules`);
    this.name = 'BacktestDeadlineError';
  }
}

const mix = (): Record<Outcome, number> => ({ approved: 0, flagged: 0, rejected: 0 });

function catchOf(outcomes: readonly Outcome[], fraud: readonly boolean[]): Catch | null {
  if (fraud.length === 0) return null;
  let caught = 0;
  let missed = 0;
  let falseAlarms = 0;
  outcomes.forEach((o, i) => {
    const stopped = o !== 'approved';
    if (fraud[i] === true && stopped) caught++;
    else if (fraud[i] === true) missed++;
    else if (stopped) falseAlarms++;
  });
  return { precision: caught + falseAlarms === 0 ? NaN : caught / (caught + falseAlarms), recall: caught + missed === 0 ? NaN : caught / (caught + missed), caught, missed, false_alarms: falseAlarms };
}

/**
 * Decide every past event again with `engine`, from the score it had when it was decided (so the
 * rules are compared, not the models), and set the result beside the decision that was made.
 * The lists in force then are not replayed; pass the candidate lists to judge a change of them.
 * It runs in slices of about 10 ms, yielding between them so a server keeps answering, and stops
 * with BacktestDeadlineError once `deadline.at` (a `performance.now()` instant) has passed.
 */
export async function backtest(
  engine: DecisionEngine,
  history: readonly HistoricDecision[],
  options: { lists?: Watchlists; deadline?: { at: number; timeoutMs: number } } = {},
): Promise<BacktestReport> {
  const lists = options.lists ?? Watchlists.EMPTY;
  const deadline = options.deadline ?? { at: Infinity, timeoutMs: Infinity };
  const report: BacktestReport = {
    candidate: engine.version,
    events: history.length,
    labelled: 0,
    mix: { live: mix(), candidate: mix() },
    changed: {},
    hits: Object.fromEntries(engine.ruleSet.rules.map((r) => [r.id, 0])),
    catch: { live: null, candidate: null },
  };
  const ruleIds = new Set(engine.ruleSet.rules.map((r) => r.id));
  const decidedAt = { ms: 0, iso: new Date(0).toISOString() };
  const labelled: { live: Outcome[]; candidate: Outcome[]; fraud: boolean[] } = { live: [], candidate: [], fraud: [] };
  const eventsPerCheck = Math.max(1, Math.floor(RULES_PER_CHECK / Math.max(1, engine.ruleSet.rules.length)));
  let sliceStart = performance.now();
  for (const [i, h] of history.entries()) {
    if (i % eventsPerCheck === 0) {
      const now = performance.now();
      if (now >= deadline.at) throw new BacktestDeadlineError(i, history.length, deadline.timeoutMs);
      if (now - sliceStart >= SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    const d = engine.decide({ event: h.event, features: h.features, score: h.risk_score, scoreReasons: [], modelVersion: null, degraded: h.degraded, late: false, acceptedAt: 0 }, decidedAt, lists);
    report.mix.live[h.decision]++;
    report.mix.candidate[d.decision]++;
    if (d.decision !== h.decision) {
      const key = `${h.decision}→${d.decision}`;
      report.changed[key] = (report.changed[key] ?? 0) + 1;
    }
    for (const r of d.reasons) if (ruleIds.has(r.code)) report.hits[r.code]!++;
    if (h.is_fraud !== null) {
      labelled.live.push(h.decision);
      labelled.candidate.push(d.decision);
      labelled.fraud.push(h.is_fraud);
    }
  }
  report.labelled = labelled.fraud.length;
  report.catch = { live: catchOf(labelled.live, labelled.fraud), candidate: catchOf(labelled.candidate, labelled.fraud) };
  return report;
}
