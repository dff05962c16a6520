// The world the traffic lives in: home countries with their currency, time zone and address space, and far countries fraud comes from.
import type { Prng } from './prng.ts';

export interface Country {
  code: string;
  currency: string;
  /** Share of the user population living there (home countries only). */
  weight: number;
  /** Hours from UTC (standard time; daylight saving is not worth modelling here). */
  utcOffset: number;
  /** Rough units of the local currency per euro, so amounts look local (a 40 EUR habit is ~170 PLN). */
  perEuro: number;
  /**
   * First octets of the IPv4 addresses handed out there. Illustrative, not real geo-IP: what
   * matters is that a country's addresses look alike and differ from other countries'.
   */
  ipOctets: readonly number[];
}

const country = (code: string, currency: string, weight: number, utcOffset: number, perEuro: number, ipOctets: number[]): Country => ({
  code,
  currency,
  weight,
  utcOffset,
  perEuro,
  ipOctets,
});

/** Where the users live: a European card issuer with a US branch. */
export const HOME_COUNTRIES: readonly Country[] = [
  country('DE', 'EUR', 0.2, 1, 1, [46, 79, 84, 91]),
  country('FR', 'EUR', 0.14, 1, 1, [37, 78, 90]),
  country('GB', 'GBP', 0.14, 0, 0.85, [51, 81, 86]),
  country('US', 'USD', 0.14, -5, 1.08, [24, 50, 66, 98]),
  country('NL', 'EUR', 0.07, 1, 1, [62, 77]),
  country('ES', 'EUR', 0.08, 1, 1, [83, 88]),
  country('IT', 'EUR', 0.08, 1, 1, [87, 93]),
  country('PL', 'PLN', 0.06, 1, 4.3, [89, 94]),
  country('SE', 'SEK', 0.03, 1, 11.5, [85]),
  country('BE', 'EUR', 0.03, 1, 1, [109]),
  country('AT', 'EUR', 0.03, 1, 1, [80]),
];

/** Countries no user lives in and that are a long flight from every home country: where stolen credentials get used. */
export const FAR_COUNTRIES: readonly Country[] = [
  country('NG', 'NGN', 0, 1, 1600, [105, 197]),
  country('IN', 'INR', 0, 5, 90, [49, 117]),
  country('ID', 'IDR', 0, 7, 17000, [36, 114]),
  country('VN', 'VND', 0, 7, 27000, [113]),
  country('PH', 'PHP', 0, 8, 62, [112]),
  country('BR', 'BRL', 0, -3, 6, [177, 179]),
  country('CN', 'CNY', 0, 8, 7.8, [58, 61]),
  country('ZA', 'ZAR', 0, 2, 20, [41, 102]),
  country('AU', 'AUD', 0, 10, 1.65, [101, 110]),
  country('JP', 'JPY', 0, 9, 160, [126, 133]),
];

/** A fresh IPv4 address in the country's address space. */
export function ipAddressIn(c: Country, rng: Prng): string {
  return `${rng.pick(c.ipOctets)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/** A device id nobody has used before (random, so ids do not reveal which are fraudulent). */
export function newDeviceId(rng: Prng): string {
  return `dev_${rng.next32().toString(16).padStart(8, '0')}${(rng.next32() & 0xffff).toString(16).padStart(4, '0')}`;
}

/** Money rounded to cents, never below one cent (amounts must be ≥ 0 and look like prices). */
export function cents(amount: number): number {
  return Math.max(0.01, Math.round(amount * 100) / 100);
}
