// Ordinary traffic: what users do on an ordinary day — log in, pay, transfer, withdraw cash, now and then change a password or sign up.
import type { EventInput } from '../../contracts/index.ts';
import { GENUINE_AFTER_MS, generated, onlineAction, onlinePayment, terminalPayment, type GeneratedEvent, type OnlineOrigin } from './generated-event.ts';
import type { Population, User } from './population.ts';
import type { Prng } from './prng.ts';
import { HOME_COUNTRIES, cents, ipAddressIn, newDeviceId } from './world.ts';

/** Where the generator keeps events due later (a new user's first login after signing up). */
export type PlanLater = (time: number, event: GeneratedEvent) => void;

/** Hour of day (UTC) of an epoch-ms time; also right for times before 1970, which a warm start can reach. */
export const utcHour = (time: number): number => ((Math.floor(time / 3_600_000) % 24) + 24) % 24;

export class Routine {
  constructor(
    private readonly rng: Prng,
    private readonly population: Population,
    /** Share of ordinary events that are a new user signing up. */
    private readonly signupRate: number,
    private readonly planLater: PlanLater,
  ) {}

  /** The ordinary event happening at `time`. */
  next(time: number): GeneratedEvent {
    const rng = this.rng;
    if (rng.uniform() < this.signupRate) return this.signup(time);
    const user = this.population.pickActive(utcHour(time));
    const roll = rng.uniform();
    let event: EventInput;
    if (roll < 0.22) event = this.login(user);
    else if (roll < 0.84) event = this.purchase(user);
    else if (roll < 0.92) event = this.transfer(user);
    else if (roll < 0.995) event = user.usesAtm ? this.withdrawal(user) : this.purchase(user);
    else event = onlineAction('password_change', user, this.online(user));
    return generated(event, 'normal', 0, time, GENUINE_AFTER_MS);
  }

  /** Filled by `online` and copied into the event at once, so it is reused rather than allocated per event. */
  private readonly origin: OnlineOrigin = { channel: '', device: '', ip: '', country: '', session: '' };

  /**
   * Where an app or web event comes from: the user's usual device and address — mostly. Genuine
   * users also get new phones, use café Wi-Fi and travel, so "new device" or "new country" alone
   * is not fraud.
   */
  private online(user: User): OnlineOrigin {
    const rng = this.rng;
    const at = this.origin;
    at.channel = user.channels.length === 1 ? user.channels[0]! : rng.pick(user.channels);
    at.device = user.devices.length === 1 ? user.devices[0]! : rng.pick(user.devices);
    if (rng.uniform() < 0.003) {
      at.device = newDeviceId(rng);
      user.devices[user.devices.length === 1 ? 1 : rng.int(0, 1)] = at.device;
    }
    const roll = rng.uniform();
    if (roll < 0.005) {
      const abroad = rng.pick(HOME_COUNTRIES);
      at.country = abroad.code;
      at.ip = ipAddressIn(abroad, rng);
    } else {
      at.country = user.country.code;
      at.ip = roll < 0.05 ? ipAddressIn(user.country, rng) : user.ips.length === 1 ? user.ips[0]! : rng.pick(user.ips);
    }
    at.session = user.session;
    return at;
  }

  private login(user: User): EventInput {
    user.session = `ses_${user.index}_${user.sessions++}`;
    return onlineAction('login', user, this.online(user));
  }

  private purchase(user: User): EventInput {
    const rng = this.rng;
    const population = this.population;
    const roll = rng.uniform();
    const merchant =
      population.merchants[
        roll < 0.85 && user.favourites.length > 0
          ? rng.pick(user.favourites)
          : roll < 0.97 || population.onlineMerchants.length === 0
            ? rng.pick(population.merchantsInCountry(user.country.code))
            : rng.pick(population.onlineMerchants)
      ]!;
    let amount = user.typicalAmount * merchant.scale * rng.lognormal(0, 0.45);
    if (rng.uniform() < 0.003) amount *= rng.between(3, 8); // the occasional genuine splurge
    return merchant.online
      ? onlinePayment('transaction', user, this.online(user), cents(amount), user.currency, merchant.id)
      : terminalPayment('transaction', user, 'pos', merchant.country.code, cents(amount), user.currency, merchant.id);
  }

  private transfer(user: User): EventInput {
    return onlinePayment('transfer', user, this.online(user), cents(user.typicalAmount * this.rng.lognormal(0.6, 0.7)), user.currency);
  }

  private withdrawal(user: User): EventInput {
    const amount = Math.max(20, Math.round((user.typicalAmount * this.rng.lognormal(0.5, 0.5)) / 10) * 10);
    return terminalPayment('withdrawal', user, 'atm', user.country.code, amount, user.currency);
  }

  /** A newcomer joins the population, and logs in a few minutes later. */
  private signup(time: number): GeneratedEvent {
    const user = this.population.addUser();
    const signup = generated(onlineAction('signup', user, this.online(user)), 'normal', 0, time, GENUINE_AFTER_MS);
    const loginAt = Math.round(time + this.rng.between(10_000, 300_000));
    this.planLater(loginAt, generated(this.login(user), 'normal', 0, loginAt, GENUINE_AFTER_MS));
    return signup;
  }
}
