// The traffic generator: reproducible, contract-valid, labelled traffic whose attacks have the shape their names promise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { validateEvent, validateLabel } from '../../src/contracts/index.ts';
import { FRAUD_SCENARIOS, Prng, SCENARIOS, TrafficGenerator, type GeneratedEvent, type Scenario } from '../../src/ingest/generator/index.ts';
import { isoTimestamp } from '../../src/ingest/generator/timestamp.ts';
import { runGenerate } from '../../src/cli/generate.ts';

const MINUTE = 60_000;

/** One shared sample: generating it once keeps the suite fast, and a seed keeps it the same every run. */
const SAMPLE_SIZE = 50_000;
const sample = new TrafficGenerator({ seed: 7, fraudRate: 0.025 }).take(SAMPLE_SIZE);

function byAttack(scenario: Scenario): GeneratedEvent[][] {
  const attacks = new Map<number, GeneratedEvent[]>();
  for (const g of sample) {
    if (g.scenario !== scenario) continue;
    let events = attacks.get(g.attack);
    if (events === undefined) attacks.set(g.attack, (events = []));
    events.push(g);
  }
  return [...attacks.values()];
}

/** What a user's ordinary traffic in the sample looks like: the yardstick attacks are measured against. */
interface Habits {
  amounts: number[];
  countries: Set<string>;
  devices: Set<string>;
}
const habits = new Map<string, Habits>();
for (const g of sample) {
  if (g.scenario !== 'normal') continue;
  let h = habits.get(g.event.user_id);
  if (h === undefined) habits.set(g.event.user_id, (h = { amounts: [], countries: new Set(), devices: new Set() }));
  if (g.event.event_type === 'transaction' && g.event.amount !== undefined) h.amounts.push(g.event.amount);
  if (g.event.country !== undefined) h.countries.add(g.event.country);
  if (g.event.device_id !== undefined) h.devices.add(g.event.device_id);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const snapshot = (events: GeneratedEvent[]): string => JSON.stringify(events.map((g) => [g.event, g.label, g.scenario]));

describe('TrafficGenerator', () => {
  it('the same seed gives identical events and labels; another seed gives different ones', () => {
    const first = new TrafficGenerator({ seed: 123 }).take(5000);
    const again = new TrafficGenerator({ seed: 123 }).take(5000);
    const other = new TrafficGenerator({ seed: 124 }).take(5000);
    assert.equal(snapshot(again), snapshot(first));
    assert.notEqual(snapshot(other), snapshot(first));
    assert.equal(first[0]!.event.event_id, 'evt_123_1');
  });

  it('every generated event passes the event contract and every label the label contract', () => {
    const generator = new TrafficGenerator({ seed: 11, fraudRate: 0.05 });
    for (let i = 0; i < 20_000; i++) {
      const g = generator.next();
      // validateEvent adds event_time to what it is given; validate a copy to keep the event contract-shaped.
      const result = validateEvent({ ...g.event });
      assert.ok(result.ok, `${g.event.event_id} (${g.scenario}) invalid: ${JSON.stringify(result.ok ? [] : result.errors)} ${JSON.stringify(g.event)}`);
      assert.equal(result.event.event_time, g.time);
      assert.ok(validateLabel(g.label).ok, JSON.stringify(g.label));
      assert.equal(g.label.event_id, g.event.event_id);
    }
  });

  it('event ids are unique and count up in delivery order when disorder is off', () => {
    const ids = sample.map((g) => g.event.event_id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(ids.slice(0, 3), ['evt_7_1', 'evt_7_2', 'evt_7_3']);
  });

  it('all six fraud scenarios occur in 50,000 events; attack events are labelled fraud and normal ones are not', () => {
    const counts = new Map<Scenario, number>();
    for (const g of sample) {
      counts.set(g.scenario, (counts.get(g.scenario) ?? 0) + 1);
      assert.equal(g.label.is_fraud, g.scenario !== 'normal', `${g.event.event_id} is ${g.scenario} but is_fraud=${g.label.is_fraud}`);
      assert.equal(g.attack === 0, g.scenario === 'normal');
    }
    for (const scenario of FRAUD_SCENARIOS) assert.ok((counts.get(scenario) ?? 0) > 0, `no ${scenario} in ${SAMPLE_SIZE} events`);
    assert.deepEqual(new Set(counts.keys()), new Set(SCENARIOS));
  });

  it('the share of fraud events stays close to the configured fraud rate', () => {
    const rate = (events: GeneratedEvent[]): number => events.filter((g) => g.label.is_fraud).length / events.length;
    assert.ok(Math.abs(rate(sample) - 0.025) < 0.004, `fraud rate ${rate(sample)} for 0.025`);
    const higher = new TrafficGenerator({ seed: 8, fraudRate: 0.08 }).take(SAMPLE_SIZE);
    assert.ok(Math.abs(rate(higher) - 0.08) < 0.01, `fraud rate ${rate(higher)} for 0.08`);
    const none = new TrafficGenerator({ seed: 8, fraudRate: 0 }).take(10_000);
    assert.equal(rate(none), 0);
  });

  it('a card-testing burst is 5–30 small purchases on 2–6 cards from one new device and one IP address within two minutes', () => {
    const bursts = byAttack('card_testing');
    assert.ok(bursts.length >= 5, `${bursts.length} bursts`);
    for (const burst of bursts) {
      assert.ok(burst.length >= 5 && burst.length <= 30, `burst of ${burst.length}`);
      const times = burst.map((g) => g.time);
      assert.ok(Math.max(...times) - Math.min(...times) <= 2 * MINUTE, 'burst spans more than two minutes');
      const cards = new Set(burst.map((g) => g.event.user_id));
      assert.ok(cards.size >= 2 && cards.size <= 6, `${cards.size} cards`);
      assert.equal(new Set(burst.map((g) => g.event.device_id)).size, 1);
      assert.equal(new Set(burst.map((g) => g.event.ip_address)).size, 1, 'one address for the whole batch');
      const device = burst[0]!.event.device_id!;
      for (const card of cards) assert.ok(!habits.get(card)?.devices.has(device), 'card testing from one of the owner’s own devices');
      assert.ok(new Set(burst.map((g) => g.event.merchant_id)).size > 1 || burst.length < 3, 'one merchant only');
      for (const g of burst) {
        assert.equal(g.event.event_type, 'transaction');
        assert.ok(g.event.amount! >= 0.5 && g.event.amount! <= 5, `amount ${g.event.amount}`);
        assert.ok(g.event.channel === 'api' || g.event.channel === 'web', `channel ${g.event.channel}`);
      }
    }
  });

  it('a shared device logs in to 4–12 accounts within about four hours, each from its own address in the owner’s country, and moves money out of each', () => {
    // A ring still under way when the sample ends has steps beyond it.
    const rings = byAttack('shared_device').filter((steps) => steps[0]!.time + 245 * MINUTE < sample.at(-1)!.time);
    assert.ok(rings.length >= 3, `${rings.length} shared devices`);
    for (const steps of rings) {
      assert.equal(new Set(steps.map((g) => g.event.device_id)).size, 1);
      const accounts = new Map<string, GeneratedEvent[]>();
      for (const g of steps) accounts.set(g.event.user_id, [...(accounts.get(g.event.user_id) ?? []), g]);
      // The ring can meet an account twice (drawn by activity): its steps then double up.
      assert.ok(accounts.size >= 2 && steps.length >= 8 && steps.length <= 24, `${accounts.size} accounts, ${steps.length} steps`);
      assert.ok(steps.at(-1)!.time - steps[0]!.time <= 245 * MINUTE);
      assert.ok(new Set(steps.map((g) => g.event.ip_address)).size >= accounts.size, 'an address shared between accounts');
      for (const [user, own] of accounts) {
        const types = own.map((g) => g.event.event_type).sort();
        assert.equal(types.filter((t) => t === 'login').length, types.filter((t) => t === 'transfer').length, `${user}: ${types.join(',')}`);
        const owner = habits.get(user);
        if (owner !== undefined) assert.ok(!owner.devices.has(steps[0]!.event.device_id!), 'the ring’s device is one of the owner’s');
        for (const g of own) if (owner !== undefined) assert.ok(owner.countries.has(g.event.country!), `from ${g.event.country}, where the owner never acts`);
      }
    }
  });

  it('an account takeover logs in from a new device abroad, changes the password, then transfers many times the usual amount', () => {
    let compared = 0;
    const takeovers = byAttack('account_takeover');
    assert.ok(takeovers.length >= 5);
    for (const steps of takeovers) {
      const types = steps.map((g) => g.event.event_type);
      assert.deepEqual(types.slice(0, 2), ['login', 'password_change']);
      assert.ok(types.length >= 3 && types.slice(2).every((t) => t === 'transfer'), types.join(','));
      assert.ok(steps.at(-1)!.time - steps[0]!.time <= 25 * MINUTE, 'takeover slower than 25 minutes');
      const owner = habits.get(steps[0]!.event.user_id);
      const login = steps[0]!.event;
      assert.equal(new Set(steps.map((g) => g.event.device_id)).size, 1);
      if (owner === undefined) continue;
      assert.ok(!owner.devices.has(login.device_id!), 'login from one of the owner’s devices');
      assert.ok(!owner.countries.has(login.country!), `login from ${login.country}, where the owner also acts`);
      if (owner.amounts.length < 3) continue;
      const usual = median(owner.amounts);
      for (const transfer of steps.slice(2)) assert.ok(transfer.event.amount! >= 5 * usual, `transfer ${transfer.event.amount} vs usual ${usual}`);
      compared++;
    }
    assert.ok(compared >= 5, `only ${compared} takeovers of users with a purchase history`);
  });

  it('impossible travel is a purchase at home and, within half an hour, a purchase in a far country', () => {
    const trips = byAttack('impossible_travel');
    assert.ok(trips.length >= 5);
    for (const trip of trips) {
      assert.ok(trip.length >= 2);
      const [home, ...abroad] = trip;
      const owner = habits.get(home!.event.user_id);
      for (const g of abroad) assert.notEqual(g.event.country, home!.event.country);
      assert.ok(abroad[0]!.time - home!.time <= 30 * MINUTE && abroad[0]!.time > home!.time, 'second country not within 30 minutes');
      if (owner !== undefined) {
        assert.ok(owner.countries.has(home!.event.country!), 'first purchase not in a country the owner uses');
        assert.ok(!owner.countries.has(abroad[0]!.event.country!), 'far purchase in a country the owner uses');
      }
    }
  });

  it('an amount spike is one purchase or withdrawal far above the owner’s usual amount', () => {
    let compared = 0;
    for (const spike of byAttack('amount_spike')) {
      assert.equal(spike.length, 1);
      const g = spike[0]!;
      assert.ok(g.event.event_type === 'transaction' || g.event.event_type === 'withdrawal', g.event.event_type);
      const owner = habits.get(g.event.user_id);
      if (owner === undefined || owner.amounts.length < 3) continue;
      assert.ok(g.event.amount! >= 4 * median(owner.amounts), `spike ${g.event.amount} vs usual ${median(owner.amounts)}`);
      compared++;
    }
    assert.ok(compared >= 5, `only ${compared} spikes of users with a purchase history`);
  });

  it('a compromised merchant charges many different customers within two hours', () => {
    const episodes = byAttack('compromised_merchant');
    assert.ok(episodes.length >= 1);
    for (const charges of episodes) {
      assert.equal(new Set(charges.map((g) => g.event.merchant_id)).size, 1);
      assert.equal(new Set(charges.map((g) => g.event.user_id)).size, charges.length, 'a customer charged twice');
      assert.ok(charges.length >= 3, `${charges.length} victims`);
      assert.ok(charges.at(-1)!.time - charges[0]!.time <= 120 * MINUTE);
    }
  });

  it('event time never decreases when disorder is off, and the timestamp spells the event time', () => {
    let previous = -Infinity;
    for (const g of sample) {
      assert.ok(g.time >= previous, `${g.event.event_id} at ${g.time} after ${previous}`);
      assert.equal(g.event.timestamp, new Date(g.time).toISOString());
      previous = g.time;
    }
  });

  it('with disorder, some events arrive out of order but never more than disorderMs behind, and none are lost', () => {
    const disorderMs = 5000;
    const delivered = new TrafficGenerator({ seed: 3, disorderMs, eventTimeRate: 20 }).take(20_000);
    const inOrder = new TrafficGenerator({ seed: 3, eventTimeRate: 20 }).take(20_100);
    let newest = -Infinity;
    let late = 0;
    let worst = 0;
    for (const g of delivered) {
      if (g.time < newest) {
        late++;
        worst = Math.max(worst, newest - g.time);
      }
      newest = Math.max(newest, g.time);
    }
    assert.ok(late > 100, `only ${late} events out of order`);
    assert.ok(worst <= disorderMs, `an event arrived ${worst} ms behind`);
    // Disorder reorders the same stream: every delivered event is the in-order one with its id.
    const byId = new Map(inOrder.map((g) => [g.event.event_id, snapshot([g])]));
    for (const g of delivered) assert.equal(snapshot([g]), byId.get(g.event.event_id));
  });

  it('a warm start gives a fast stream its fraud share from the first events; a cold one builds up to it', () => {
    const fast = { seed: 2, eventTimeRate: 5000, dailyRhythm: false, fraudRate: 0.025 };
    const share = (events: GeneratedEvent[]): number => events.filter((g) => g.label.is_fraud).length / events.length;
    const warm = share(new TrafficGenerator({ ...fast, warmStart: true }).take(50_000));
    const cold = share(new TrafficGenerator(fast).take(50_000));
    // 50,000 events are ten seconds of event time here, far shorter than a takeover or a bad merchant's spree.
    assert.ok(warm > 0.018 && warm < 0.032, `warm share ${warm}`);
    assert.ok(cold < 0.01, `cold share ${cold}`);
  });

  it('takeUntil hands out the events before an instant, and the stream goes on from the first one at or after it', () => {
    const whole = new TrafficGenerator({ seed: 9 }).take(3000);
    const generator = new TrafficGenerator({ seed: 9 });
    const end = whole[2000]!.time + 1;
    const before = generator.takeUntil(end);
    assert.ok(before.length > 2000 && before.every((g) => g.time < end));
    assert.ok(whole[before.length]!.time >= end, 'stopped at the first event at or after the instant');
    assert.equal(generator.takeUntil(end).length, 0, 'nothing more before the same instant');
    assert.equal(generator.count, before.length, 'the event looked at is not counted as handed out');
    const after = generator.take(3000 - before.length);
    assert.equal(snapshot([...before, ...after]), snapshot(whole), 'one stream, as if taken one by one');
  });

  it('a sparse past is a sample of the stream: a keep share of its events, the same fraud share, and the whole stream from its end on', () => {
    const hour = 60 * MINUTE;
    const options = { seed: 4, users: 20_000, eventTimeRate: 20, dailyRhythm: false, warmStart: true, start: Date.UTC(2025, 0, 1) } as const;
    const until = options.start + 24 * hour;
    const keep = 0.02;
    const events = new TrafficGenerator({ ...options, sparsePast: { until, keep } }).takeUntil(until + 2 * hour);
    const past = events.filter((g) => g.time < until);
    const whole = events.filter((g) => g.time >= until);
    const expected = keep * 20 * 24 * 3600;
    assert.ok(Math.abs(past.length - expected) < 4 * Math.sqrt(expected), `${past.length} events in the sparse day, about ${expected} expected`);
    assert.ok(Math.abs(whole.length - 20 * 7200) < 4 * Math.sqrt(20 * 7200), `${whole.length} events in the two whole hours`);
    const share = (sample: GeneratedEvent[]): number => sample.filter((g) => g.label.is_fraud).length / sample.length;
    assert.ok(Math.abs(share(past) - 0.025) < 0.008, `fraud share ${share(past)} in the sparse past`);
    assert.ok(Math.abs(share(whole) - 0.025) < 0.006, `fraud share ${share(whole)} after it`);
    // Sampled, not in bursts: an attack's steps rarely survive together.
    const perAttack = new Map<number, number>();
    for (const g of past) if (g.attack > 0) perAttack.set(g.attack, (perAttack.get(g.attack) ?? 0) + 1);
    const together = [...perAttack.values()].filter((n) => n > 1).length;
    assert.ok(perAttack.size >= 20 && together / perAttack.size < 0.5, `${together} of ${perAttack.size} attacks with more than one step kept`);
    assert.ok(events.every((g, i) => i === 0 || g.time >= events[i - 1]!.time), 'in event-time order');
    assert.equal(snapshot(new TrafficGenerator({ ...options, sparsePast: { until, keep } }).take(500)), snapshot(events.slice(0, 500)), 'reproducible');
  });

  it('sign-ups add new users to the population over time', () => {
    const generator = new TrafficGenerator({ seed: 5, users: 500 });
    const signups = generator.take(20_000).filter((g) => g.event.event_type === 'signup');
    assert.ok(signups.length > 0);
    assert.ok(generator.population.users.length === 500 + signups.length);
  });

  it('refuses options outside their range', () => {
    assert.throws(() => new TrafficGenerator({ fraudRate: 0.9 }), /fraudRate/);
    assert.throws(() => new TrafficGenerator({ users: 0 }), /users/);
    assert.throws(() => new TrafficGenerator({ eventTimeRate: 0 }), /eventTimeRate/);
    assert.throws(() => new TrafficGenerator({ sparsePast: { until: Date.UTC(2025, 1, 1), keep: 0 } }), /sparsePast\.keep/);
  });
});

describe('Prng and timestamps', () => {
  it('a seeded Prng repeats its sequence and stays within its ranges', () => {
    const a = new Prng(99);
    const b = new Prng(99);
    for (let i = 0; i < 1000; i++) {
      const u = a.uniform();
      assert.equal(u, b.uniform());
      assert.ok(u >= 0 && u < 1);
      const n = a.int(3, 5);
      b.int(3, 5);
      assert.ok(n >= 3 && n <= 5 && Number.isInteger(n));
    }
    assert.notEqual(new Prng(1).uniform(), new Prng(2).uniform());
  });

  it('isoTimestamp spells the same text as Date#toISOString', () => {
    const rng = new Prng(4);
    for (let i = 0; i < 5000; i++) {
      const ms = Math.floor(rng.between(0, 4_102_444_800_000));
      assert.equal(isoTimestamp(ms), new Date(ms).toISOString());
    }
  });
});

describe('runGenerate', () => {
  it('--count 1000 --out --labels writes 1000 valid events and 1000 labels with matching ids', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rtds-generate-'));
    try {
      const events = path.join(dir, 'events.jsonl');
      const labels = path.join(dir, 'labels.jsonl');
      await runGenerate(['--count', '1000', '--out', events, '--labels', labels, '--seed', '9', '--start', '2025-01-06T00:00:00Z', '--quiet']);
      const eventLines = (await readFile(events, 'utf8')).trimEnd().split('\n');
      const labelLines = (await readFile(labels, 'utf8')).trimEnd().split('\n');
      assert.equal(eventLines.length, 1000);
      assert.equal(labelLines.length, 1000);
      for (let i = 0; i < 1000; i++) {
        const result = validateEvent(JSON.parse(eventLines[i]!));
        assert.ok(result.ok, eventLines[i]);
        const label = JSON.parse(labelLines[i]!) as unknown;
        assert.ok(validateLabel(label).ok, labelLines[i]);
        assert.equal((label as { event_id: string }).event_id, result.event.event_id);
      }
      // With an explicit --start, the CLI writes exactly what the generator makes for the same seed.
      const expected = new TrafficGenerator({ seed: 9 }).take(1000);
      assert.deepEqual(
        eventLines.map((l) => JSON.parse(l) as unknown),
        expected.map((g) => g.event),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without --start, --count events end now: the latest is the time generate began, labels moved with them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rtds-generate-'));
    try {
      const out = path.join(dir, 'recent.jsonl');
      const began = Date.now();
      await runGenerate(['--count', '2000', '--with-labels', '--out', out, '--seed', '5', '--quiet']);
      const ended = Date.now();
      const lines = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { event: { event_id: string; timestamp: string }; label: { labeled_at: string } });
      const times = lines.map((l) => Date.parse(l.event.timestamp));
      const latest = Math.max(...times);
      assert.ok(latest >= began && latest <= ended, `latest event ${new Date(latest).toISOString()} within [${new Date(began).toISOString()}, ${new Date(ended).toISOString()}]`);
      assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!), 'in event-time order');
      // Labels moved with their events: the truth still surfaces 1–14 days after the event.
      for (const [i, l] of lines.entries()) {
        const delay = Date.parse(l.label.labeled_at) - times[i]!;
        assert.ok(delay >= 86_400_000 && delay <= 14 * 86_400_000 + 1, `label delay ${delay} ms`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--with-labels writes one {event, label, scenario} object per line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rtds-generate-'));
    try {
      const out = path.join(dir, 'traffic.jsonl');
      await runGenerate(['--count', '200', '--out', out, '--with-labels', '--fraud-rate', '0.2', '--quiet']);
      const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
      assert.equal(lines.length, 200);
      for (const line of lines) {
        const { event, label, scenario } = JSON.parse(line) as { event: { event_id: string }; label: { event_id: string; is_fraud: boolean }; scenario: Scenario };
        assert.equal(label.event_id, event.event_id);
        assert.equal(label.is_fraud, scenario !== 'normal');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unbounded run into a file and a malformed number', async () => {
    await assert.rejects(runGenerate(['--out', path.join(tmpdir(), 'never-written.jsonl')]), /--count or --duration/);
    await assert.rejects(runGenerate(['--count', 'many']), /--count must be an integer/);
  });
});
