// The population: users with their habits, the merchants they shop at, and who is likely to act at a given hour.
import { runningTotal, type Prng } from './prng.ts';
import { FAR_COUNTRIES, HOME_COUNTRIES, ipAddressIn, newDeviceId, type Country } from './world.ts';

export interface User {
  index: number;
  id: string;
  country: Country;
  currency: string;
  /** Usual devices (1–2; a legitimate new phone replaces the second). */
  devices: string[];
  /** Usual IPv4 addresses (home broadband, mobile carrier). */
  ips: string[];
  /** Median amount of the user's purchases, in their currency. */
  typicalAmount: number;
  /** Relative activity level: how often this user acts compared with others. */
  activity: number;
  /** Online channels the user uses (web, mobile). */
  channels: string[];
  usesAtm: boolean;
  /** Merchant indices the user buys from most. */
  favourites: number[];
  /** Current session id; a new login starts a new one. */
  session: string;
  sessions: number;
}

export interface Merchant {
  index: number;
  id: string;
  country: Country;
  /** Sells online (web/mobile) rather than through a shop terminal (pos). */
  online: boolean;
  /** Price level relative to a user's typical amount (a supermarket ~1, an electronics shop ~3). */
  scale: number;
  /** Users having this merchant among their favourites: the customers exposed if it goes bad. */
  customers: number[];
}

/** Local hour → relative activity: people act mostly during their day, peak in the evening. */
const LOCAL_HOUR_ACTIVITY = [
  0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.55, 0.85, 1, 1, 1.05, 1.15, 1.1, 1, 1, 1.05, 1.15, 1.25, 1.3, 1.2, 0.95, 0.65, 0.35,
];
/** Early birds, most people, night owls: their day is shifted by these hours. */
const CHRONOTYPE_SHIFT = [-2, 0, 2];
const HOME_WEIGHTS = runningTotal(HOME_COUNTRIES.map((c) => c.weight));

/**
 * Users who share a country and chronotype share an activity curve over the day. Picking a
 * group by hour, then a member by activity, keeps the tables O(users + 24 × groups) in size.
 */
interface RhythmGroup {
  country: Country;
  shift: number;
  members: number[];
  /** Running total of the members' activity. */
  activityTotal: number[];
}

export interface PopulationOptions {
  users: number;
  merchants: number;
}

export class Population {
  readonly users: User[] = [];
  readonly merchants: Merchant[] = [];
  /** Indices of the home countries' online shops: where users buy across borders without leaving home. */
  readonly onlineMerchants: number[] = [];
  /** Indices of merchants in each country, by country code. */
  private readonly merchantsIn = new Map<string, number[]>();
  private readonly groups: RhythmGroup[] = [];
  /** Per UTC hour: running total of each group's weight at that hour. */
  private readonly groupWeightAt: Float64Array[] = [];
  /** Per UTC hour: overall activity relative to the day's mean (1 = average hour). */
  private readonly hourFactor = new Float64Array(24);

  constructor(
    private readonly rng: Prng,
    options: PopulationOptions,
  ) {
    for (const c of HOME_COUNTRIES) {
      for (const shift of CHRONOTYPE_SHIFT) this.groups.push({ country: c, shift, members: [], activityTotal: [] });
    }
    this.createMerchants(options.merchants);
    for (let i = 0; i < options.users; i++) this.createUser();
    this.refreshHourTables();
  }

  private createMerchants(count: number): void {
    // One in each home country first, so every user has somewhere local to shop.
    for (let i = 0; i < Math.max(count, HOME_COUNTRIES.length); i++) {
      const c = i < HOME_COUNTRIES.length ? HOME_COUNTRIES[i]! : HOME_COUNTRIES[this.rng.weightedIndex(HOME_WEIGHTS)]!;
      this.addMerchant(c, this.rng.chance(0.4));
    }
    for (const m of this.merchants) if (m.online) this.onlineMerchants.push(m.index);
    // One shop in each far country, only ever used by attacks: the impossible-travel purchase has to happen somewhere.
    for (const c of FAR_COUNTRIES) this.addMerchant(c, false);
  }

  private addMerchant(c: Country, online: boolean): void {
    const index = this.merchants.length;
    const scale = this.rng.lognormal(0, 0.5);
    this.merchants.push({ index, id: `mch_${String(index).padStart(4, '0')}`, country: c, online, scale, customers: [] });
    let local = this.merchantsIn.get(c.code);
    if (local === undefined) this.merchantsIn.set(c.code, (local = []));
    local.push(index);
  }

  /** A new user signs up: fresh habits, and from now on they act like everyone else. */
  addUser(): User {
    const user = this.createUser();
    this.refreshHourTables();
    return user;
  }

  private createUser(): User {
    const rng = this.rng;
    const index = this.users.length;
    const groupIndex = rng.weightedIndex(HOME_WEIGHTS) * CHRONOTYPE_SHIFT.length + rng.int(0, CHRONOTYPE_SHIFT.length - 1);
    const group = this.groups[groupIndex]!;
    const c = group.country;
    const devices = [newDeviceId(rng)];
    if (rng.chance(0.4)) devices.push(newDeviceId(rng));
    const ips = [ipAddressIn(c, rng)];
    if (rng.chance(0.5)) ips.push(ipAddressIn(c, rng));
    const channelRoll = rng.uniform();
    const channels = channelRoll < 0.4 ? ['mobile'] : channelRoll < 0.65 ? ['web'] : ['web', 'mobile'];
    const local = this.merchantsIn.get(c.code)!;
    const favourites: number[] = [];
    const wanted = Math.min(rng.int(3, 8), local.length);
    for (let tries = 0; favourites.length < wanted && tries < wanted * 4; tries++) {
      const m = rng.pick(local);
      if (!favourites.includes(m)) favourites.push(m);
    }
    const user: User = {
      index,
      id: `usr_${index}`,
      country: c,
      currency: c.currency,
      devices,
      ips,
      // Most habits fall between 12 and 130 EUR; a few spend far more.
      typicalAmount: Math.min(rng.lognormal(Math.log(40), 0.7), 2000) * c.perEuro,
      activity: rng.lognormal(0, 0.8),
      channels,
      usesAtm: rng.chance(0.85),
      favourites,
      session: `ses_${index}_0`,
      sessions: 1,
    };
    this.users.push(user);
    for (const m of favourites) this.merchants[m]!.customers.push(index);
    group.members.push(index);
    group.activityTotal.push((group.activityTotal[group.activityTotal.length - 1] ?? 0) + user.activity);
    return user;
  }

  /** Group weights per hour change only when someone joins; recomputing is 24 × 33 multiplications. */
  private refreshHourTables(): void {
    let daySum = 0;
    for (let h = 0; h < 24; h++) {
      const table = (this.groupWeightAt[h] ??= new Float64Array(this.groups.length));
      let sum = 0;
      for (let g = 0; g < this.groups.length; g++) {
        const group = this.groups[g]!;
        const activity = group.activityTotal[group.activityTotal.length - 1] ?? 0;
        const localHour = (((h + group.country.utcOffset + group.shift) % 24) + 24) % 24;
        table[g] = sum += activity * LOCAL_HOUR_ACTIVITY[localHour]!;
      }
      this.hourFactor[h] = sum;
      daySum += sum;
    }
    for (let h = 0; h < 24; h++) this.hourFactor[h] = (this.hourFactor[h]! * 24) / daySum;
  }

  /** How busy this UTC hour is compared with the day's average (1 = average). */
  activityAt(utcHour: number): number {
    return this.hourFactor[utcHour]!;
  }

  /** A user likely to be acting at this UTC hour: weighted by their day's rhythm and activity level. */
  pickActive(utcHour: number): User {
    const rng = this.rng;
    const group = this.groups[rng.weightedIndex(this.groupWeightAt[utcHour]!)]!;
    return this.users[group.members[rng.weightedIndex(group.activityTotal)]!]!;
  }

  merchantsInCountry(code: string): readonly number[] {
    return this.merchantsIn.get(code) ?? [];
  }
}
