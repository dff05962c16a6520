// The feature vector: names, meanings and the one function that computes it, online and for training alike.
import type { RtdsEvent } from '../contracts/index.ts';
import type { UserHistory } from './user-history.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const EVENT_TYPE_ONE_HOT = ['transaction', 'transfer', 'withdrawal', 'login', 'signup', 'password_change'] as const;
export const CHANNEL_ONE_HOT = ['web', 'mobile', 'pos', 'atm', 'api'] as const;

/**
 * How a raw feature is shaped before the model sees it. Raw values stay readable in decisions
 * and the API; the model applies the transform and its saved standardisation.
 */
export type Transform = 'none' | 'log1p';

export interface FeatureColumn {
  name: string;
  transform: Transform;
  doc: string;
}

const spec = (name: string, transform: Transform, doc: string): FeatureColumn => ({ name, transform, doc });

export const FEATURES: readonly FeatureColumn[] = [
  spec('amount', 'log1p', 'Amount of this event (0 when none).'),
  spec('count_1m', 'log1p', "User's events with event time in the minute ending at this event, this one included."),
  spec('count_1h', 'log1p', "User's events in the hour ending at this event."),
  spec('count_24h', 'log1p', "User's events in the 24 h ending at this event."),
  spec('sum_1m', 'log1p', "Sum of the user's amounts in the minute ending at this event."),
  spec('sum_1h', 'log1p', "Sum of the user's amounts in the hour ending at this event."),
  spec('sum_24h', 'log1p', "Sum of the user's amounts in the 24 h ending at this event."),
  spec('amount_to_avg', 'log1p', "Amount ÷ the user's running mean amount before this event (1 with no history, 0 without amount)."),
  spec('new_country', 'none', 'Country never seen for this user before (1/0; 0 for a first event).'),
  spec('new_device', 'none', 'Device never seen for this user before (1/0; 0 for a first event).'),
  spec('secs_since_prev', 'log1p', "Seconds since the user's previous event in event time (0 for a first event)."),
  spec('first_event', 'none', 'No earlier event of this user is known (1/0).'),
  spec('password_change_24h', 'none', 'A password change of this user in the 24 h before this event (1/0).'),
  spec('hour_sin', 'none', 'Hour of day (UTC) on the unit circle, sine.'),
  spec('hour_cos', 'none', 'Hour of day (UTC) on the unit circle, cosine.'),
  ...EVENT_TYPE_ONE_HOT.map((t) => spec(`type_${t}`, 'none', `Event type is ${t} (1/0).`)),
  ...CHANNEL_ONE_HOT.map((c) => spec(`channel_${c}`, 'none', `Channel is ${c} (1/0).`)),
];

export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);
/** Version of the vector's layout; a model records it and refuses a different one. */
export const FEATURE_SET_VERSION = `user-v1-${FEATURES.length}`;

const INDEX = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<string, number>;
export const featureIndex = (name: string): number => {
  const i = INDEX[name];
  if (i === undefined) throw new Error(`unknown feature "${name}"`);
  return i;
};

const TYPE_BASE = featureIndex('type_transaction');
const CHANNEL_BASE = featureIndex('channel_web');

/**
 * Compute the features of `event` from `history`, which must not yet contain it. Pure: the
 * same history and event give the same vector in the processor and in training.
 */
export function computeFeatures(history: UserHistory, event: RtdsEvent): Float64Array {
  const v = new Float64Array(FEATURES.length);
  const t = event.event_time;
  const amount = event.amount ?? 0;
  const times = history.times;
  const amounts = history.amounts;

  // Windows are (t − W, t]; entries after t (arrived earlier, happened later) are outside.
  const end = history.upperBound(t);
  let c1m = 1, c1h = 1, c24 = 1;
  let s1m = amount, s1h = amount, s24 = amount;
  let passwordChange = 0;
  for (let i = end - 1; i >= 0; i--) {
    const age = t - times[i]!;
    if (age >= DAY) break;
    const a = amounts[i]!;
    c24++;
    s24 += a;
    if (age < HOUR) {
      c1h++;
      s1h += a;
      if (age < MINUTE) {
        c1m++;
        s1m += a;
      }
    }
    if (history.types[i] === 'password_change') passwordChange = 1;
  }
  const first = history.size === 0 && history.evictedUpTo === -Infinity;

  v[0] = amount;
  v[1] = c1m;
  v[2] = c1h;
  v[3] = c24;
  v[4] = s1m;
  v[5] = s1h;
  v[6] = s24;
  v[7] = event.amount === undefined ? 0 : history.moneyCount === 0 ? 1 : amount / Math.max(history.moneySum / history.moneyCount, 1);
  v[8] = !first && event.country !== undefined && !history.countries.has(event.country) ? 1 : 0;
  v[9] = !first && event.device_id !== undefined && !history.devices.has(event.device_id) ? 1 : 0;
  v[10] = end > 0 ? (t - times[end - 1]!) / 1000 : first ? 0 : Math.max(0, t - history.evictedUpTo) / 1000;
  v[11] = first ? 1 : 0;
  v[12] = passwordChange;
  const hour = ((t % DAY) + DAY) % DAY / HOUR;
  v[13] = Math.sin((2 * Math.PI * hour) / 24);
  v[14] = Math.cos((2 * Math.PI * hour) / 24);
  const ti = (EVENT_TYPE_ONE_HOT as readonly string[]).indexOf(event.event_type);
  if (ti >= 0) v[TYPE_BASE + ti] = 1;
  const ci = event.channel === undefined ? -1 : (CHANNEL_ONE_HOT as readonly string[]).indexOf(event.channel);
  if (ci >= 0) v[CHANNEL_BASE + ci] = 1;
  return v;
}
