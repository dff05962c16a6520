// What the generator hands out — an event, its ground-truth label, the scenario behind it — and the shapes events take.
import type { EventInput, Label } from '../../contracts/index.ts';
import type { User } from './population.ts';
import { isoTimestamp } from './timestamp.ts';

export const FRAUD_SCENARIOS = ['card_testing', 'account_takeover', 'impossible_travel', 'amount_spike', 'compromised_merchant', 'shared_device'] as const;
export type FraudScenario = (typeof FRAUD_SCENARIOS)[number];
export const SCENARIOS = ['normal', ...FRAUD_SCENARIOS] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface GeneratedEvent {
  /** The event as a producer would send it (contract JSON). */
  event: EventInput;
  /** Ground truth: is_fraud is true exactly when scenario is not 'normal'. */
  label: Label;
  scenario: Scenario;
  /** Which attack the event belongs to (1, 2, …), grouping e.g. one card-testing burst; 0 for normal traffic. */
  attack: number;
  /** Event time in epoch milliseconds: the instant `event.timestamp` spells out. */
  time: number;
}

/**
 * Labels are not known when the event happens: fraud surfaces with a chargeback days later,
 * and an event counts as genuine once the chargeback window has passed without one.
 */
const DAY_MS = 86_400_000;
export const GENUINE_AFTER_MS = 14 * DAY_MS;

/**
 * An event still without id and timestamp: both are stamped when it leaves the generator in
 * event-time order, so ids count up in that order. `time` is integer epoch ms.
 */
export function generated(event: EventInput, scenario: Scenario, attack: number, time: number, labelDelayMs: number): GeneratedEvent {
  return {
    event,
    label: { event_id: '', is_fraud: scenario !== 'normal', labeled_at: isoTimestamp(time + Math.round(labelDelayMs)) },
    scenario,
    attack,
    time,
  };
}

/** Where an app or web event comes from: the device, address and session are known. */
export interface OnlineOrigin {
  channel: string;
  device: string;
  ip: string;
  country: string;
  session: string;
}

/** A login, sign-up or password change through an app or website. */
export function onlineAction(type: string, user: User, at: OnlineOrigin): EventInput {
  return {
    event_id: '',
    event_type: type,
    timestamp: '',
    user_id: user.id,
    session_id: at.session,
    ip_address: at.ip,
    country: at.country,
    channel: at.channel,
    device_id: at.device,
  };
}

/** A purchase (with merchant) or transfer (without) through an app or website. */
export function onlinePayment(type: string, user: User, at: OnlineOrigin, amount: number, currency: string, merchantId?: string): EventInput {
  const event = onlineAction(type, user, at);
  event.amount = amount;
  event.currency = currency;
  if (merchantId !== undefined) event.merchant_id = merchantId;
  return event;
}

/** Money moved at a shop terminal or an ATM, or pushed by a merchant: no device or address of the user's. */
export function terminalPayment(type: string, user: User, channel: string, country: string, amount: number, currency: string, merchantId?: string): EventInput {
  const event: EventInput = { event_id: '', event_type: type, timestamp: '', user_id: user.id, country, channel, amount, currency };
  if (merchantId !== undefined) event.merchant_id = merchantId;
  return event;
}
