// The traffic generator: merges ordinary traffic with planned attacks on one simulated clock, stamps ids, and optionally delivers some events late.
import { FRAUD_SCENARIOS, type FraudScenario, type GeneratedEvent } from './generated-event.ts';
import { Population } from './population.ts';
import { Prng, runningTotal } from './prng.ts';
import { Routine, utcHour } from './routine.ts';
import { ATTACKS, ATTACK_EXTENT, DEFAULT_SCENARIO_MIX, type AttackContext } from './scenarios.ts';
import { TimeQueue } from './time-queue.ts';
import { isoTimestamp } from './timestamp.ts';

export interface TrafficOptions {
  /** Same seed, same traffic. Default 42. */
  seed?: number;
  /** Users at the start (sign-ups add more). Default 2,000. */
  users?: number;
  /** Merchants in the home countries (plus one in each far country). Default 300. */
  merchants?: number;
  /** Share of events that belong to an attack, in [0, 0.5]. Default 0.025. */
  fraudRate?: number;
  /** Event time of the first event, epoch ms. Default 2025-01-06T00:00:00Z, so seeded runs are reproducible; pass Date.now() for live traffic. */
  start?: number;
  /**
   * Events per simulated second, attacks included, averaged over the day (busy evenings get more,
   * nights fewer). Default: 25 events per user per day, ≈ 0.58/s for 2,000 users.
   */
  eventTimeRate?: number;
  /**
   * Whether the arrival rate follows the population's day (busy evenings, quiet nights). Default
   * true. Turn it off to make event time advance at exactly eventTimeRate on average — e.g. to
   * keep event time in step with the wall clock when output is paced at the same rate.
   */
  dailyRhythm?: boolean;
  /** Largest delivery delay of an out-of-order event, ms. Default 0: events leave in event-time order. */
  disorderMs?: number;
  /** Share of events delivered late when disorderMs > 0. Default 0.05. */
  disorderProbability?: number;
  /** Share of ordinary events that are a new user signing up. Default 0.002. */
  signupRate?: number;
  /** Relative weights of the fraud scenarios (missing ones keep their default; 0 turns one off). */
  scenarioMix?: Partial<Record<FraudScenario, number>>;
  /**
   * Begin as if traffic had been flowing for hours: attacks already under way at `start` deliver
   * their remaining steps, so the fraud share is right from the first event instead of building
   * up over the longest attack's duration (up to two hours of event time). Such attacks are seen
   * mid-way (a takeover's transfers without its login). Default false.
   */
  warmStart?: boolean;
  /** Prefix of event ids, followed by a counter. Default `evt_<seed>_`. */
  idPrefix?: string;
  /**
   * A sparse past: before `until` (epoch ms) the stream is a sample of itself, about a `keep` share
   * of its events — ordinary events arrive at `keep` × the rate, and a `keep` share of attack steps
   * happen (SPARSE_STEPS_PER_ATTACK). So a share over that period (a merchant's fraud rate) has the
   * whole stream's expectation at a `keep`-th of the events, while counts over it are `keep` times
   * the whole stream's. From `until` on the stream is whole, with attacks under way there as a
   * warm start has them. Default none.
   */
  sparsePast?: { until: number; keep: number };
}

export const DEFAULT_START = Date.UTC(2025, 0, 6);
const DEFAULT_USERS = 2000;
const EVENTS_PER_USER_PER_DAY = 25;

/** The event-time rate (events per simulated second) of traffic with these options. */
export function eventTimeRateOf(options: Pick<TrafficOptions, 'users' | 'eventTimeRate'>): number {
  return options.eventTimeRate ?? ((options.users ?? DEFAULT_USERS) * EVENTS_PER_USER_PER_DAY) / 86_400;
}
/**
 * Chance that an attack starts at an ordinary event while the fraud budget is positive. Small, so
 * attacks start at random moments rather than the instant the budget allows one.
 */
const ATTACK_START_CHANCE = 0.02;
/**
 * A sparse past keeps a `keep` share of attack steps in two draws: an attack starts with
 * probability keep × this, then each of its steps stays with probability 1 / this. Planning every
 * attack to keep one step in a thousand would cost most of the sparse past's generation; with 20
 * (about the longest attacks' mean length) two steps of one attack stay together rarely, as in an
 * independent sample of the stream.
 */
const SPARSE_STEPS_PER_ATTACK = 20;

export class TrafficGenerator {
  readonly seed: number;
  readonly fraudRate: number;
  readonly eventTimeRate: number;
  readonly dailyRhythm: boolean;
  readonly disorderMs: number;
  readonly disorderProbability: number;
  readonly population: Population;

  private readonly rng: Prng;
  /** Its own stream, so switching disorder on reorders the same events instead of making new ones. */
  private readonly disorderRng: Prng;
  private readonly routine: Routine;
  private readonly idPrefix: string;
  private readonly mixScenarios: FraudScenario[];
  private readonly mixTotal: Float64Array;
  private readonly attackContext: AttackContext;
  /** Attack steps and follow-ups waiting for their event time. */
  private readonly planned = new TimeQueue<GeneratedEvent>();
  /** Events held back for late delivery, by delivery time. */
  private readonly held = new TimeQueue<GeneratedEvent>();
  /** The next in-order event, drawn early to know whether a held one is due first. */
  private lookahead: GeneratedEvent | undefined;
  /** The next event to hand out, drawn early by takeUntil to read its time. */
  private peeked: GeneratedEvent | undefined;
  /** Ordinary events per simulated ms: attacks bring the rest of eventTimeRate. */
  private readonly ordinaryPerMs: number;
  private nextOrdinaryAt: number;
  private stamped = 0;
  private attacks = 0;
  /** fraudRate × events so far − attack events planned: an attack may start while it is positive, so the rate holds over time. */
  private fraudBudget = 0;
  /** End of the sparse past (-Infinity without one), and the share of its events kept. */
  private readonly sparseUntil: number;
  private readonly keep: number;
  /** Share of the sparse past's attacks that start: each of their steps is then kept with probability keep / this. */
  private readonly sparseAttackShare: number;
  /** How the sparse past's attacks plan their steps: thinned, and none from its end on (a warm start takes over there). */
  private readonly sparseContext: AttackContext;
  /** Mean event time between attack starts at the long-run rate, ms: how attacks start in the sparse past. */
  private readonly attackGapMs: number;
  /** When the sparse past's next attack starts. */
  private nextSparseAttackAt = Infinity;

  constructor(options: TrafficOptions = {}) {
    this.seed = options.seed ?? 42;
    const users = options.users ?? DEFAULT_USERS;
    const merchants = options.merchants ?? 300;
    this.fraudRate = options.fraudRate ?? 0.025;
    const start = options.start ?? DEFAULT_START;
    this.eventTimeRate = eventTimeRateOf(options);
    this.dailyRhythm = options.dailyRhythm ?? true;
    this.disorderMs = options.disorderMs ?? 0;
    this.disorderProbability = options.disorderProbability ?? 0.05;
    const signupRate = options.signupRate ?? 0.002;
    this.idPrefix = options.idPrefix ?? `evt_${this.seed}_`;

    check(Number.isFinite(this.seed), 'seed', 'must be a finite number');
    check(Number.isInteger(users) && users >= 1, 'users', 'must be an integer ≥ 1');
    check(Number.isInteger(merchants) && merchants >= 1, 'merchants', 'must be an integer ≥ 1');
    check(this.fraudRate >= 0 && this.fraudRate <= 0.5, 'fraudRate', 'must be in [0, 0.5]');
    check(Number.isFinite(start) && start >= 0, 'start', 'must be epoch milliseconds ≥ 0');
    check(Number.isFinite(this.eventTimeRate) && this.eventTimeRate > 0, 'eventTimeRate', 'must be > 0');
    check(Number.isFinite(this.disorderMs) && this.disorderMs >= 0, 'disorderMs', 'must be ≥ 0');
    check(this.disorderProbability >= 0 && this.disorderProbability <= 1, 'disorderProbability', 'must be in [0, 1]');
    check(signupRate >= 0 && signupRate <= 1, 'signupRate', 'must be in [0, 1]');
    const sparse = options.sparsePast;
    check(sparse === undefined || Number.isFinite(sparse.until), 'sparsePast.until', 'must be epoch milliseconds');
    check(sparse === undefined || (sparse.keep > 0 && sparse.keep <= 1), 'sparsePast.keep', 'must be in (0, 1]');
    this.sparseUntil = sparse !== undefined && sparse.until > start ? sparse.until : -Infinity;
    this.keep = sparse !== undefined && sparse.until > start ? sparse.keep : 1;
    this.sparseAttackShare = Math.min(1, this.keep * SPARSE_STEPS_PER_ATTACK);

    const mix = { ...DEFAULT_SCENARIO_MIX, ...options.scenarioMix };
    this.mixScenarios = FRAUD_SCENARIOS.filter((s) => mix[s] > 0);
    check(
      FRAUD_SCENARIOS.every((s) => Number.isFinite(mix[s]) && mix[s] >= 0) && (this.mixScenarios.length > 0 || this.fraudRate === 0),
      'scenarioMix',
      'weights must be ≥ 0 and at least one > 0 when fraudRate > 0',
    );
    this.mixTotal = runningTotal(this.mixScenarios.map((s) => mix[s]));

    this.rng = new Prng(this.seed);
    this.disorderRng = new Prng(this.seed + 0x5eed);
    this.population = new Population(this.rng, { users, merchants });
    this.routine = new Routine(this.rng, this.population, signupRate, (time, event) => this.planned.push(time, event));
    this.attackContext = {
      rng: this.rng,
      population: this.population,
      plan: (time, event) => this.planned.push(time, event),
      notBefore: 0,
      before: Infinity,
      keep: 1,
    };
    this.sparseContext = { ...this.attackContext, before: this.sparseUntil, keep: this.keep / this.sparseAttackShare };
    this.ordinaryPerMs = (this.eventTimeRate * (1 - this.fraudRate)) / 1000;
    this.nextOrdinaryAt = start;
    const mixSum = this.mixScenarios.reduce((sum, s) => sum + mix[s], 0);
    const meanEvents = this.mixScenarios.reduce((sum, s) => sum + mix[s] * ATTACK_EXTENT[s].meanEvents, 0) / mixSum;
    // The budget rule starts fraudRate / meanEvents attacks per event in the long run.
    this.attackGapMs = meanEvents / ((this.fraudRate * this.eventTimeRate) / 1000);
    const sparseStart = start < this.sparseUntil;
    if (options.warmStart === true && this.fraudRate > 0) this.warmUp(start, mix, mixSum, sparseStart ? this.sparseContext : this.attackContext, sparseStart ? this.sparseAttackShare : 1);
    if (sparseStart && this.fraudRate > 0) {
      this.nextSparseAttackAt = start + this.rng.exponential(this.attackGapMs / this.sparseAttackShare);
      this.warmUp(this.sparseUntil, mix, mixSum, this.attackContext, 1);
    }
    if (sparseStart) this.nextOrdinaryAt = this.nextOrdinaryAfter(start);
  }

  /** Events handed out so far. */
  get count(): number {
    return this.stamped - (this.lookahead === undefined ? 0 : 1) - this.held.size - (this.peeked === undefined ? 0 : 1);
  }

  /** The next event of the infinite stream. */
  next(): GeneratedEvent {
    const peeked = this.peeked;
    if (peeked === undefined) return this.draw();
    this.peeked = undefined;
    return peeked;
  }

  take(n: number): GeneratedEvent[] {
    const out: GeneratedEvent[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }

  /**
   * The events handed out before the stream reaches event time `end`; the first one at or after
   * it comes next. (With disorder, an event before `end` held back past it comes later.)
   */
  takeUntil(end: number): GeneratedEvent[] {
    const out: GeneratedEvent[] = [];
    let g = (this.peeked ??= this.draw());
    while (g.time < end) {
      out.push(g);
      g = this.peeked = this.draw();
    }
    return out;
  }

  /** The next event drawn: in order, or with disorder the held one due first. */
  private draw(): GeneratedEvent {
    if (this.disorderMs <= 0) return this.nextInOrder();
    for (;;) {
      const ahead = (this.lookahead ??= this.nextInOrder());
      // A held event leaves once the stream has moved past its delivery time, so it is never
      // more than disorderMs behind anything delivered before it.
      if (this.held.peekTime() < ahead.time) return this.held.pop()!;
      this.lookahead = undefined;
      if (this.disorderRng.uniform() < this.disorderProbability) {
        this.held.push(ahead.time + this.disorderRng.between(1, this.disorderMs), ahead);
        continue;
      }
      return ahead;
    }
  }

  /** The in-order stream: whichever comes first of the next ordinary event and the next planned one. */
  private nextInOrder(): GeneratedEvent {
    this.startSparseAttacks();
    let g: GeneratedEvent;
    if (this.planned.peekTime() <= this.nextOrdinaryAt) {
      g = this.planned.pop()!;
    } else {
      const now = this.nextOrdinaryAt;
      g = this.routine.next(Math.floor(now));
      this.nextOrdinaryAt = this.nextOrdinaryAfter(now);
      // In the sparse past attacks start by the clock instead (startSparseAttacks).
      if (now >= this.sparseUntil && this.fraudBudget > 0 && this.mixScenarios.length > 0 && this.rng.uniform() < ATTACK_START_CHANCE) this.startAttack(now);
    }
    if (g.time >= this.sparseUntil) this.fraudBudget += this.fraudRate;
    const id = this.idPrefix + ++this.stamped;
    g.event.event_id = id;
    g.label.event_id = id;
    g.event.timestamp = isoTimestamp(g.time);
    return g;
  }

  /** The ordinary arrival after `now`: Poisson, at `keep` × the rate before the sparse past ends. */
  private nextOrdinaryAfter(now: number): number {
    // The rate follows the population's day: busy at 19:00, quiet at 04:00.
    const perMs = this.dailyRhythm ? this.ordinaryPerMs * this.population.activityAt(utcHour(now)) : this.ordinaryPerMs;
    if (now >= this.sparseUntil) return now + this.rng.exponential(1 / perMs);
    const next = now + this.rng.exponential(1 / (perMs * this.keep));
    // Arrivals have no memory: past the sparse period's end, the wait starts again there at the full rate.
    return next < this.sparseUntil ? next : this.sparseUntil + this.rng.exponential(1 / perMs);
  }

  /**
   * Attacks of the sparse past start by the clock (a Poisson process, as in warmUp): the fraud
   * budget cannot pace them when most events are left out. Every attack due before the next event
   * is planned first, so its steps are in time.
   */
  private startSparseAttacks(): void {
    for (;;) {
      const at = this.nextSparseAttackAt;
      if (at >= this.sparseUntil || at >= this.nextOrdinaryAt || at >= this.planned.peekTime()) return;
      const scenario = this.mixScenarios[this.rng.weightedIndex(this.mixTotal)]!;
      if (ATTACKS[scenario](this.sparseContext, Math.ceil(at), this.attacks + 1) > 0) this.attacks++;
      this.nextSparseAttackAt = at + this.rng.exponential(this.attackGapMs / this.sparseAttackShare);
    }
  }

  private startAttack(now: number): void {
    const scenario = this.mixScenarios[this.rng.weightedIndex(this.mixTotal)]!;
    // Starts a little after now, so every planned event lies ahead of the clock.
    const start = Math.ceil(now + this.rng.exponential(5000));
    const planned = ATTACKS[scenario](this.attackContext, start, this.attacks + 1);
    if (planned > 0) this.attacks++;
    this.fraudBudget -= planned;
  }

  /**
   * Attacks started before `start` — a Poisson process at `share` × the long-run attack rate,
   * planned in `context` — keep their steps from `start` on.
   */
  private warmUp(start: number, mix: Record<FraudScenario, number>, mixSum: number, context: AttackContext, share: number): void {
    // Steps before `start` are history nobody sees; the budget is not charged for any of it.
    const warm: AttackContext = { ...context, notBefore: start };
    for (const scenario of this.mixScenarios) {
      const meanGap = this.attackGapMs / share / (mix[scenario] / mixSum);
      const earliest = start - ATTACK_EXTENT[scenario].maxSpanMs;
      for (let t = start - this.rng.exponential(meanGap); t > earliest; t -= this.rng.exponential(meanGap)) {
        if (ATTACKS[scenario](warm, Math.floor(t), this.attacks + 1) > 0) this.attacks++;
      }
    }
  }
}

function check(ok: boolean, option: string, reason: string): void {
  if (!ok) throw new RangeError(`TrafficGenerator option ${option} ${reason}`);
}
