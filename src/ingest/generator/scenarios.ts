// The fraud scenarios: each plans one coherent attack as a sequence of events, every one of them labelled fraud.
import type { EventInput } from '../../contracts/index.ts';
import { generated, onlineAction, onlinePayment, terminalPayment, type FraudScenario, type GeneratedEvent, type OnlineOrigin } from './generated-event.ts';
import type { Merchant, Population, User } from './population.ts';
import type { Prng } from './prng.ts';
import { utcHour } from './routine.ts';
import { FAR_COUNTRIES, HOME_COUNTRIES, cents, ipAddressIn, newDeviceId, type Country } from './world.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

export interface AttackContext {
  rng: Prng;
  population: Population;
  /** Queues an event of the attack for its event time (never earlier than the attack's start). */
  plan(time: number, event: GeneratedEvent): void;
  /** Steps earlier than this are dropped: the part of an attack that happened before the stream began. */
  notBefore: number;
  /** Steps at or after this are dropped: an attack of the sparse past, whose whole stream follows (TrafficOptions.sparsePast). */
  before: number;
  /** Probability that a step is kept (below 1 in the sparse past). */
  keep: number;
}

/** Plans one attack starting at `start`; returns how many events it planned (0 when it could not run). */
export type Attack = (ctx: AttackContext, start: number, attack: number) => number;

/** Share of attacks of each kind, by default. Card testing, bad merchants and shared devices are rarer but long. */
export const DEFAULT_SCENARIO_MIX: Readonly<Record<FraudScenario, number>> = {
  card_testing: 0.12,
  account_takeover: 0.25,
  impossible_travel: 0.25,
  amount_spike: 0.32,
  compromised_merchant: 0.06,
  shared_device: 0.06,
};

function fraud(ctx: AttackContext, time: number, event: EventInput, scenario: FraudScenario, attack: number): void {
  // A chargeback or the customer's complaint reveals fraud one to fourteen days later.
  const t = Math.ceil(time);
  if (t < ctx.notBefore || t >= ctx.before) return;
  // Drawn only in a sparse past, so a stream without one is the same draw for draw.
  if (ctx.keep < 1 && ctx.rng.uniform() >= ctx.keep) return;
  ctx.plan(t, generated(event, scenario, attack, t, ctx.rng.between(1, 14) * DAY));
}

/**
 * Stolen cards are checked in a batch from one address: a burst of tiny purchases at assorted
 * merchants, a few on each card, from one fraudster's device and IP address. Each card alone is a
 * short burst; the address seen with many cardholders within minutes gives the batch away.
 */
export const cardTesting: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  const from = rng.chance(0.5) ? rng.pick(FAR_COUNTRIES) : rng.pick(HOME_COUNTRIES);
  const at = fraudsterIn(rng, from, rng.chance(0.6) ? 'api' : 'web', `ses_ct_${attack}`);
  const count = rng.int(5, 30);
  const cards: User[] = [];
  for (let i = Math.min(count, rng.int(2, 6)); i > 0; i--) cards.push(population.pickActive(utcHour(start)));
  const span = rng.between(20 * SECOND, 2 * MINUTE);
  for (let i = 0; i < count; i++) {
    const user = cards[i % cards.length]!;
    const merchant = rng.pick(population.merchants);
    const event = onlinePayment('transaction', user, at, cents(rng.between(0.5, 5)), user.currency, merchant.id);
    fraud(ctx, i === 0 ? start : start + rng.between(0, span), event, 'card_testing', attack);
  }
  return count;
};

/**
 * Stolen credentials: a login from a new device in a far country, the password changed to lock
 * the owner out, then the account emptied by transfers many times the owner's usual amount.
 */
export const accountTakeover: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  const user = population.pickActive(utcHour(start));
  const at = fraudsterIn(rng, rng.pick(FAR_COUNTRIES), 'web', `ses_${user.index}_ato${attack}`);
  fraud(ctx, start, onlineAction('login', user, at), 'account_takeover', attack);
  let t = start + rng.between(30 * SECOND, 3 * MINUTE);
  fraud(ctx, t, onlineAction('password_change', user, at), 'account_takeover', attack);
  const transfers = rng.int(1, 3);
  t += rng.between(1 * MINUTE, 10 * MINUTE);
  for (let i = 0; i < transfers; i++) {
    fraud(ctx, t, onlinePayment('transfer', user, at, cents(user.typicalAmount * rng.between(20, 50)), user.currency), 'account_takeover', attack);
    t += rng.between(30 * SECOND, 3 * MINUTE);
  }
  return 2 + transfers;
};

/** A cloned card: used at a shop at home, then minutes later on the other side of the world. */
export const impossibleTravel: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  const user = population.pickActive(utcHour(start));
  const home = shopIn(population, rng, user.country.code);
  const homeAmount = cents(user.typicalAmount * rng.lognormal(0, 0.45));
  fraud(ctx, start, terminalPayment('transaction', user, 'pos', user.country.code, homeAmount, user.currency, home.id), 'impossible_travel', attack);
  const far = rng.pick(FAR_COUNTRIES);
  const abroad = shopIn(population, rng, far.code);
  // Half the time the copy is used online from there, half at a shop there.
  const at = rng.chance(0.5) ? fraudsterIn(rng, far, 'web', `ses_${user.index}_it${attack}`) : undefined;
  let t = start + rng.between(2 * MINUTE, 30 * MINUTE);
  const purchases = rng.int(1, 2);
  for (let i = 0; i < purchases; i++) {
    const amount = cents(user.typicalAmount * rng.between(1, 4));
    const event =
      at === undefined
        ? terminalPayment('transaction', user, 'pos', far.code, amount, user.currency, abroad.id)
        : onlinePayment('transaction', user, at, amount, user.currency, abroad.id);
    fraud(ctx, t, event, 'impossible_travel', attack);
    t += rng.between(1 * MINUTE, 10 * MINUTE);
  }
  return 1 + purchases;
};

/** One purchase or cash withdrawal far above the owner's habit, otherwise unremarkable. */
export const amountSpike: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  const user = population.pickActive(utcHour(start));
  const amount = user.typicalAmount * rng.between(10, 50);
  let event: EventInput;
  if (user.usesAtm && rng.chance(0.3)) {
    event = terminalPayment('withdrawal', user, 'atm', user.country.code, Math.round(amount / 10) * 10, user.currency);
  } else {
    const merchant = population.merchants[rng.pick(population.merchantsInCountry(user.country.code))]!;
    // From the owner's own device and address: the amount is the only thing out of the ordinary.
    const usual: OnlineOrigin = { channel: user.channels[0]!, device: user.devices[0]!, ip: user.ips[0]!, country: user.country.code, session: user.session };
    event = merchant.online
      ? onlinePayment('transaction', user, usual, cents(amount), user.currency, merchant.id)
      : terminalPayment('transaction', user, 'pos', merchant.country.code, cents(amount), user.currency, merchant.id);
  }
  fraud(ctx, start, event, 'amount_spike', attack);
  return 1;
};

/**
 * A merchant goes bad: for an hour or two it pushes card-not-present charges of odd amounts
 * against many of its own customers' cards.
 */
export const compromisedMerchant: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  // The merchant with the most customers among a few candidates: a bad merchant is only worth it with victims.
  let merchant: Merchant | undefined;
  for (let i = 0; i < 8; i++) {
    const candidate = population.merchants[rng.pick(population.merchantsInCountry(rng.pick(HOME_COUNTRIES).code))]!;
    if (merchant === undefined || candidate.customers.length > merchant.customers.length) merchant = candidate;
  }
  if (merchant === undefined || merchant.customers.length < 3) return 0;
  const victims = merchant.customers.slice();
  const count = Math.min(rng.int(8, 30), victims.length);
  const period = rng.between(30 * MINUTE, 2 * 60 * MINUTE);
  for (let i = 0; i < count; i++) {
    // Partial Fisher–Yates: distinct victims without shuffling the whole customer list.
    const j = rng.int(i, victims.length - 1);
    const victim = population.users[victims[j]!]!;
    victims[j] = victims[i]!;
    const amount = Math.floor(victim.typicalAmount * rng.between(4, 12)) + 0.99;
    const event = terminalPayment('transaction', victim, 'api', merchant.country.code, amount, victim.currency, merchant.id);
    fraud(ctx, start + rng.between(0, period), event, 'compromised_merchant', attack);
  }
  return count;
};

/**
 * One fraudster's phone works through a list of stolen accounts over a few hours: it logs in to
 * each, from a fresh address in the owner's country (a VPN exit), and moves a few times the
 * owner's usual amount out. Each account alone looks like a genuine new phone; the device seen with
 * many accounts in a day gives it away.
 */
export const sharedDevice: Attack = (ctx, start, attack) => {
  const { rng, population } = ctx;
  const device = newDeviceId(rng);
  const accounts = rng.int(4, 12);
  const span = rng.between(30 * MINUTE, 4 * 60 * MINUTE);
  for (let i = 0; i < accounts; i++) {
    const user = population.pickActive(utcHour(start));
    const at: OnlineOrigin = { channel: 'mobile', device, ip: ipAddressIn(user.country, rng), country: user.country.code, session: `ses_${user.index}_sd${attack}_${i}` };
    const t = i === 0 ? start : start + rng.between(0, span);
    fraud(ctx, t, onlineAction('login', user, at), 'shared_device', attack);
    fraud(ctx, t + rng.between(1 * MINUTE, 5 * MINUTE), onlinePayment('transfer', user, at, cents(user.typicalAmount * rng.between(3, 10)), user.currency), 'shared_device', attack);
  }
  return 2 * accounts;
};

export const ATTACKS: Readonly<Record<FraudScenario, Attack>> = {
  card_testing: cardTesting,
  account_takeover: accountTakeover,
  impossible_travel: impossibleTravel,
  amount_spike: amountSpike,
  compromised_merchant: compromisedMerchant,
  shared_device: sharedDevice,
};

/**
 * Rough size and duration of each attack, from the draws above: enough to start a stream as if
 * attacks had already been under way (see TrafficOptions.warmStart).
 */
export const ATTACK_EXTENT: Readonly<Record<FraudScenario, { meanEvents: number; maxSpanMs: number }>> = {
  card_testing: { meanEvents: 17.5, maxSpanMs: 2 * MINUTE },
  account_takeover: { meanEvents: 4, maxSpanMs: 25 * MINUTE },
  impossible_travel: { meanEvents: 2.5, maxSpanMs: 40 * MINUTE },
  amount_spike: { meanEvents: 1, maxSpanMs: 0 },
  compromised_merchant: { meanEvents: 19, maxSpanMs: 120 * MINUTE },
  shared_device: { meanEvents: 16, maxSpanMs: 245 * MINUTE },
};

/** A fraudster's own device and an address in the country they operate from. */
function fraudsterIn(rng: Prng, from: Country, channel: string, session: string): OnlineOrigin {
  return { channel, device: newDeviceId(rng), ip: ipAddressIn(from, rng), country: from.code, session };
}

/** A shop (terminal, not online) in the country if there is one, else any merchant there. */
function shopIn(population: Population, rng: Prng, code: string): Merchant {
  const local = population.merchantsInCountry(code);
  for (let i = 0; i < 4; i++) {
    const m = population.merchants[rng.pick(local)]!;
    if (!m.online) return m;
  }
  return population.merchants[local[0]!]!;
}
