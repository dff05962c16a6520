import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { DEFAULT_FEATURE_SET, FeatureSet, FeatureSpecError, parseFeatureSpecs, type FeatureSpec } from '../../src/features/index.ts';
import { Watermark } from '../../src/process/index.ts';
import { seededRandom } from '../../src/score/mlp.ts';
import { arbEvent, arbSpec, closeTo, stream, toEvents, type Verdict } from '../support/feature-streams.ts';

// The compiled engine against the interpreter it replaced, kept as the reference: same vectors on
// random specs, streams, verdicts and expressions. Counts, extremes, last values, times, distinct
// counts and fraud counts are equal exactly; sums, means and standard deviations within 1e-9
// relative (a running tally adds events one by one where the interpreter merges tiles), and so
// are the expressions over them.

const EXACT = new Set(['count', 'min', 'max', 'last', 'time_since_last', 'distinct', 'fraud_count']);

/** The two engines' vectors agree: exactly where the aggregation is exact, else within 1e-9. */
function assertSame(specs: readonly FeatureSpec[], got: Float64Array[], want: Float64Array[], events: readonly RtdsEvent[]): void {
  for (let i = 0; i < want.length; i++) {
    specs.forEach((spec, f) => {
      const a = got[i]![f]!;
      const b = want[i]![f]!;
      const exact = 'aggregate' in spec && EXACT.has(spec.aggregate);
      if (exact ? !Object.is(a, b) && !(a === b) : !closeTo(a, b)) {
        throw new Error(`event ${i} (${JSON.stringify(events[i])}), feature ${JSON.stringify(spec)}: compiled ${a}, interpreted ${b}`);
      }
    });
  }
}

/** A stream through every stage apart, each with its own state and watermark, as StageTasks runs them on one partition per stage. */
function byStages(set: FeatureSet, events: readonly RtdsEvent[], outOfOrdernessMs: number, allowedLatenessMs: number, verdicts: readonly (Verdict | undefined)[]): Float64Array[] {
  const states = set.stages.map(() => set.newState());
  const watermarks = set.stages.map(() => new Watermark(outOfOrdernessMs));
  return events.map((event, i) => {
    const v = new Float64Array(set.names.length);
    let unknown = false;
    set.stages.forEach((_, s) => {
      if (s > 0 && set.stageKey(s, event) === undefined) return set.stageDefaults(s, v);
      const watermark = watermarks[s]!;
      const tooLate = event.event_time < watermark.current - allowedLatenessMs;
      watermark.observe(event.event_time);
      unknown = set.computeStage(s, states[s]!, event, { tooLate, earliest: watermark.current - allowedLatenessMs }, v) || unknown;
    });
    set.derive(event, v, unknown);
    const verdict = verdicts[i];
    if (verdict !== undefined) for (const state of states) set.label(state, { event, is_fraud: verdict.fraud, labeled_at: verdict.labeledAt });
    return v;
  });
}

/**
 * Streams in any order, in time order, or nearly (every third pair swapped), over 3 hours or 30
 * minutes: a running tally answers the reads of events that follow one another in a tile, which
 * a stream in random order rarely has, so most streams here are (nearly) in order.
 */
const arbStream = fc.tuple(fc.array(arbEvent, { minLength: 1, maxLength: 80 }), fc.constantFrom('random', 'ordered', 'nearly', 'nearly'), fc.constantFrom(1, 6)).map(([raw, order, denser]) => {
  if (order === 'random') return raw;
  // Denser: the same events within 30 minutes instead of 3 hours, several to a tile.
  const sorted = raw.map((e) => ({ ...e, offsetS: Math.floor(e.offsetS / denser) })).sort((a, b) => a.offsetS - b.offsetS);
  if (order === 'nearly') for (let i = 0; i + 1 < sorted.length; i += 3) [sorted[i], sorted[i + 1]] = [sorted[i + 1]!, sorted[i]!];
  return sorted;
});

// ---- Random expressions in filtrex's syntax, over the features and the event ----

const NUMBERS = ['amount', 'event_time', 'hour_of_day', 'day_of_week', 'partial_history', 'pi', "'amount'", '0', '1', '2.5', '010', '09', '1000'];
const TEXTS = ['country', 'channel', 'event_type', 'merchant_id', 'device_id', '"web"', '"login"', '"DE"', '""'];
const spaced = (op: string): string => (/^[a-z]/.test(op) ? ` ${op} ` : op);

/**
 * Expressions of mostly the right types — numbers, conditions, text — so that most evaluate to a
 * value, mixed with ill-typed ones (arithmetic on text, `and` on numbers, unknown names and
 * functions), which filtrex makes 0.
 */
const arbExpression = (features: readonly string[]): fc.Arbitrary<string> =>
  fc.letrec<{ num: string; cond: string; text: string; any: string }>((tie) => ({
    num: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...features, ...NUMBERS),
      tie('num').map((a) => `-${a}`),
      tie('num').map((a) => `(${a})`),
      fc.tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '^', 'mod', '%'), tie('num')).map(([a, op, b]) => `${a}${spaced(op)}${b}`),
      fc.tuple(tie('cond'), tie('num'), tie('num')).map(([c, a, b]) => `if ${c} then ${a} else ${b}`),
      fc.tuple(tie('cond'), tie('num'), tie('num')).map(([c, a, b]) => `${c} ? ${a} : ${b}`),
      fc.tuple(fc.constantFrom('abs', 'max', 'min', 'log1p', 'sqrt', 'round', 'sign', 'floor', 'log'), fc.array(tie('num'), { minLength: 1, maxLength: 3 })).map(([f, args]) => `${f}(${args.join(', ')})`),
    ),
    cond: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(tie('num'), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), tie('num')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('num'), fc.constantFrom('<', '<=', '=='), tie('num'), fc.constantFrom('<', '>', '!='), tie('num')).map(([a, p, b, q, c]) => `${a} ${p} ${b} ${q} ${c}`),
      fc.tuple(tie('text'), fc.constantFrom('==', '!='), tie('text')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('text'), fc.constantFrom('in', 'not in'), tie('text'), tie('text')).map(([a, op, b, c]) => `${a} ${op} (${b}, ${c})`),
      fc.tuple(tie('num'), fc.constantFrom('in', 'not in'), tie('num'), tie('num')).map(([a, op, b, c]) => `${a} ${op} (${b}, ${c})`),
      fc.tuple(tie('cond'), fc.constantFrom('and', 'or'), tie('cond')).map(([a, op, b]) => `${a} ${op} ${b}`),
      tie('cond').map((a) => `not ${a}`),
      tie('cond').map((a) => `(${a})`),
      fc.tuple(tie('text'), tie('text')).map(([a, b]) => `${a} ~= ${b}`),
      tie('any').map((a) => `exists(${a})`),
      tie('text').map((a) => `empty(${a})`),
    ),
    text: fc.oneof({ depthSize: 'small' }, fc.constantFrom(...TEXTS), fc.tuple(tie('text'), tie('text')).map(([a, b]) => `${a} + ${b}`)),
    any: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('num'),
      tie('cond'),
      tie('text'),
      fc.constantFrom('amount.amount', 'true', 'abs'),
      fc.tuple(tie('any'), fc.constantFrom('+', '-', '*', '==', '<', 'and', 'or', 'in', 'mod'), tie('any')).map(([a, op, b]) => `${a}${spaced(op)}${b}`),
      fc.tuple(tie('any'), tie('any')).map(([a, b]) => `(${a}, ${b})`),
      fc.tuple(tie('any'), tie('any'), tie('any')).map(([c, a, b]) => `if ${c} then ${a} else ${b}`),
      tie('any').map((a) => `not ${a}`),
      tie('any').map((a) => `-${a}`),
      // Names as functions: filtrex has no function `abs` takes text, nor one named like a feature.
      fc.array(tie('any'), { maxLength: 2 }).map((args) => `amount(${args.join(', ')})`),
    ),
  })).any;

/** A set of two aggregates and `n` derived features over them, some named as event values (which then shadow them). */
const arbDerivedSpecs = fc.array(fc.constantFrom('d', 'd', 'd', 'pi', 'amount', 'country', 'abs'), { minLength: 1, maxLength: 5 }).chain((kinds) => {
  const names = kinds.map((k, i) => (k === 'd' || kinds.indexOf(k) !== i ? `d${i}` : k));
  // An expression reads the aggregates and the expressions before it (validation refuses others).
  return fc.tuple(...names.map((_, i) => arbExpression(['f0', 'f1', ...names.slice(0, i)]))).map((expressions): unknown[] => [
    { name: 'f0', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'count' },
    { name: 'f1', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'sum', field: 'amount' },
    ...names.map((name, i) => ({ name, expression: expressions[i] })),
  ]);
});

/** Both engines' sets of the specs, or undefined when the specs are refused (an expression filtrex cannot parse, a name not declared earlier). */
function bothEngines(raw: unknown[]): [FeatureSet, FeatureSet, FeatureSpec[]] | undefined {
  try {
    const specs = parseFeatureSpecs(raw);
    return [new FeatureSet(specs), new FeatureSet(specs, { engine: 'interpreted' }), specs];
  } catch (err) {
    if (err instanceof FeatureSpecError) return undefined;
    throw err;
  }
}

describe('the compiled feature engine against the interpreter', () => {
  it('compiles the default set, expressions included', () => {
    assert.equal(DEFAULT_FEATURE_SET.engine, 'compiled');
    assert.equal(DEFAULT_FEATURE_SET.expressionsCompiled, true);
  });

  it('computes the interpreter\'s vectors on random specs, streams and verdicts, all stages at once and stage by stage', () => {
    fc.assert(
      fc.property(
        arbStream,
        fc.array(arbSpec, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(0, 5000, 60_000),
        fc.constantFrom(0, 30_000, 600_000),
        fc.constantFrom(0, 1_800_000),
        fc.array(fc.option(fc.record({ fraud: fc.boolean(), afterS: fc.integer({ min: 0, max: 7200 }) }), { nil: undefined }), { maxLength: 80 }),
        (raw, rawSpecs, outOfOrdernessMs, allowedLatenessMs, lateHistoryMs, rawVerdicts) => {
          const aggregates = rawSpecs.map((s, i) => ({ name: `f${i}`, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) }));
          // Expressions over them, as the default set's are.
          const specs = parseFeatureSpecs([...aggregates, { name: 'ratio', expression: 'f0 / max(f' + (aggregates.length - 1) + ', 1)' }, { name: 'flag', expression: 'if f0 > 1 and partial_history == 0 then 1 else 0' }]);
          const compiled = new FeatureSet(specs);
          const interpreted = new FeatureSet(specs, { engine: 'interpreted' });
          const events = toEvents(raw);
          const verdicts = events.map((e, i) => {
            const v = rawVerdicts[i];
            return v === undefined ? undefined : { fraud: v.fraud, labeledAt: e.event_time + v.afterS * 1000 };
          });
          assertSame(specs, stream(compiled, events, outOfOrdernessMs, allowedLatenessMs, verdicts, lateHistoryMs), stream(interpreted, events, outOfOrdernessMs, allowedLatenessMs, verdicts, lateHistoryMs), events);
          assertSame(specs, byStages(compiled, events, outOfOrdernessMs, allowedLatenessMs, verdicts), byStages(interpreted, events, outOfOrdernessMs, allowedLatenessMs, verdicts), events);
        },
      ),
      { numRuns: 300, seed: 18 },
    );
  });

  it('evaluates random expressions exactly as filtrex does: operators, precedence, functions, types, unknown names', () => {
    let compiledSets = 0;
    let values = 0;
    fc.assert(
      fc.property(arbDerivedSpecs, fc.array(arbEvent, { minLength: 1, maxLength: 8 }), fc.array(fc.constantFrom(0, 1, 2, -3, 0.5, 1e300, NaN), { minLength: 2, maxLength: 2 }), (raw, rawEvents, aggregates) => {
        const sets = bothEngines(raw);
        if (sets === undefined) return;
        const [compiled, interpreted, specs] = sets;
        if (compiled.expressionsCompiled) compiledSets++;
        for (const event of toEvents(rawEvents)) {
          // Aggregates given, NaN (unknown) only with partial history, as the stages leave them.
          const partial = aggregates.some((a) => Number.isNaN(a));
          const got = new Float64Array(specs.length);
          const want = new Float64Array(specs.length);
          got.set(aggregates);
          want.set(aggregates);
          compiled.derive(event, got, partial);
          interpreted.derive(event, want, partial);
          for (let f = 2; f < specs.length; f++) {
            if (want[f] !== 0) values++;
            if (!Object.is(got[f], want[f])) throw new Error(`${JSON.stringify((specs[f] as { expression: string }).expression)} on ${JSON.stringify(event)} with ${aggregates}: compiled ${got[f]}, filtrex ${want[f]}`);
          }
        }
      }),
      { numRuns: 1500, seed: 18 },
    );
    assert.ok(compiledSets > 1000, `${compiledSets} sets compiled: the generator must reach the compiler`);
    assert.ok(values > 3000, `${values} values other than 0: the generator must reach filtrex's values, not only its errors`);
  });

  it('reads filtrex\'s grammar as filtrex does, case by case', () => {
    // [expression, its value for a web login of amount 0, as filtrex computes it]
    const cases: [string, number][] = [
      ['1 > 0 or 1 > 0 and 0 > 1', 1], // and binds tighter than or
      ['3 > 2 > 1', 1], // a chain: 3 > 2 and 2 > 1
      ['1 == 1 == 1', 1],
      ['-2 ^ 2', -4], // ^ binds tighter than unary minus
      ['2 ^ 3 ^ 2', 512], // and to the right
      ['not 1 > 0', 0], // not binds tighter than >: not 1 is a type error
      ['if 0 > 1 then 2 else 3 + 4', 7], // else takes the rest
      ['1 > 0 ? 5 : 6', 5],
      ['1 + 2 * 3 - 4 / 2', 5],
      ['-5 mod 3', 1],
      ['010 + 09', 17], // sloppy-mode literals: 010 is octal
      ['amount == ""', 0], // strict equality
      ['amount + 1 == 1', 1],
      ['channel in ("web", "pos")', 1],
      ['channel not in ("web", "pos")', 0],
      ['channel in "web"', 1],
      ['1 in (0, 1) == 1', 0], // in binds looser than ==: 1 in (false)
      ['"a" + 1', 0], // text is no feature value
      ["'amount' + 2", 2],
      ['max()', 0],
      ['(1, 2)', 0],
      ['true', 0], // filtrex has no boolean literals: an unknown name
      ['abs', 0],
      ['amount.amount', 0],
      ['channel ~= "^w"', 1],
      ['exists(channel) and empty(merchant_id)', 1],
      ['hour_of_day > 1 and day_of_week >= 0', 1],
    ];
    const event: RtdsEvent = { event_id: 'g', event_type: 'login', event_time: Date.parse('2026-11-26T12:00:00Z'), timestamp: 0, event_time_source: 'event', user_id: 'u', channel: 'web', amount: 0 };
    const specs = parseFeatureSpecs(cases.map(([expression], i) => ({ name: `c${i}`, expression })));
    const got = new Float64Array(specs.length);
    const want = new Float64Array(specs.length);
    const compiled = new FeatureSet(specs);
    assert.equal(compiled.expressionsCompiled, true);
    compiled.derive(event, got, false);
    new FeatureSet(specs, { engine: 'interpreted' }).derive(event, want, false);
    cases.forEach(([expression, value], i) => {
      assert.equal(want[i], value, `filtrex: ${expression}`);
      assert.equal(got[i], value, `compiled: ${expression}`);
    });
  });

  it('keeps running window tallies in step with tiles leaving, joining late and labelled', () => {
    // A dense user: 10 events a minute for 3 hours through 1-hour windows of 10-minute tiles, with
    // out-of-order events and verdicts; the running tally answers most reads.
    const specs = parseFeatureSpecs([
      { name: 'n', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'count' },
      { name: 's', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'sum', field: 'amount' },
      { name: 'sd', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'std', field: 'amount' },
      { name: 'hi', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'max', field: 'amount' },
      { name: 'lo', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'min', field: 'amount' },
      { name: 'fr', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, label_delay: '10m', aggregate: 'fraud_rate' },
    ]);
    const events: RtdsEvent[] = Array.from({ length: 1800 }, (_, i) => ({
      event_id: `r${i}`,
      event_type: 'transaction',
      // Every 7th event 2 minutes behind: out of order, within the allowed lateness.
      event_time: 1_764_000_000_000 + i * 6000 - (i % 7 === 0 ? 120_000 : 0),
      timestamp: 0,
      event_time_source: 'event',
      user_id: 'dense',
      amount: 1000 + ((i * 7919) % 5000) / 7,
    }));
    // Verdicts known at once, 15 or 30 minutes on: the later ones land in tiles the tally already holds.
    const verdicts = events.map((e, i) => (i % 5 === 0 ? { fraud: i % 10 === 0, labeledAt: e.event_time + (i % 3) * 900_000 } : undefined));
    const got = stream(new FeatureSet(specs), events, 60_000, 120_000, verdicts);
    const want = stream(new FeatureSet(specs, { engine: 'interpreted' }), events, 60_000, 120_000, verdicts);
    assertSame(specs, got, want, events);
    assert.ok(want[1799]![0]! > 500 && want[1799]![5]! > 0, 'the windows are full and labelled');
  });

  it('counts a shared address\'s and device\'s many distinct users from the unions it keeps as the interpreter does from the tiles', () => {
    // One address, three devices: 30, 150 and 600 users an hour (exact tiles; tiles past 64 values,
    // then sketches), with events out of order, late within the allowed lateness (with 15 minutes of
    // it, into tiles before a short window's), too late, and a user's own value read as if it had
    // joined. The running windows keep their unions; the interpreter unions every tile at every read.
    const specs = parseFeatureSpecs([
      { name: 'ip_users', entity: 'ip_address', window: { kind: 'hopping', size: '2h', hop: '10m' }, aggregate: 'distinct', field: 'user_id' },
      { name: 'ip_events', entity: 'ip_address', window: { kind: 'hopping', size: '2h', hop: '10m' }, aggregate: 'count' },
      { name: 'ip_countries', entity: 'ip_address', window: { kind: 'hopping', size: '2h', hop: '10m' }, aggregate: 'distinct', field: 'country' },
      { name: 'device_users', entity: 'device_id', window: { kind: 'hopping', size: '1h', hop: '5m' }, aggregate: 'distinct', field: 'user_id' },
      { name: 'ip_users_2m', entity: 'ip_address', window: { kind: 'hopping', size: '2m', hop: '1m' }, aggregate: 'distinct', field: 'user_id' },
    ]);
    for (const [usersPerHour, latenessMs] of [[30, 60_000], [150, 60_000], [600, 60_000], [3000, 900_000]] as const) {
      const random = seededRandom(usersPerHour);
      const gapMs = 3_600_000 / usersPerHour;
      const events: RtdsEvent[] = Array.from({ length: 3000 }, (_, i) => {
        // Every 9th event behind within the lateness, every 97th 2 minutes beyond it (too late: read
        // as if it had joined, mostly in the tile the union is of).
        const behind = i % 97 === 0 ? latenessMs + 120_000 : i % 9 === 0 ? Math.floor(random() * (latenessMs - 10_000)) : 0;
        const time = 1_764_000_000_000 + Math.floor(i * gapMs) - behind;
        const user = `u${Math.floor(random() * usersPerHour * 3)}`;
        return { event_id: `s${i}`, event_type: 'login', event_time: time, timestamp: time, event_time_source: 'event', user_id: user, ip_address: '10.0.0.1', device_id: `kiosk-${i % 3}`, country: random() < 0.9 ? 'DE' : 'FR' };
      });
      const compiled = new FeatureSet(specs);
      const state = compiled.newState();
      const watermark = new Watermark(60_000);
      const got = events.map((event) => {
        const tooLate = event.event_time < watermark.current - latenessMs;
        watermark.observe(event.event_time);
        return compiled.compute(state, event, { tooLate, earliest: watermark.current - latenessMs });
      });
      const want = stream(new FeatureSet(specs, { engine: 'interpreted' }), events, 60_000, latenessMs);
      assertSame(specs, got, want, events);
      const kept = state.entities.some((map) => [...map.values()].some((e) => (e as { unions?: unknown[] }).unions?.some((u) => u !== undefined) === true));
      assert.ok(kept, `${usersPerHour} users an hour: a window kept its union`);
      assert.ok(want[2999]![0]! > 32, `${usersPerHour} users an hour: ${want[2999]![0]} distinct users`);
    }
  });

  it('drops a kept union whose tiles a horizon forgot, even one that later moves back', () => {
    const specs = parseFeatureSpecs([{ name: 'users', entity: 'ip_address', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'distinct', field: 'user_id' }]);
    const at = (i: number, minute: number): RtdsEvent => ({ event_id: `h${i}`, event_type: 'login', event_time: 1_764_000_000_000 + minute * 60_000, timestamp: 0, event_time_source: 'event', user_id: `u${i}`, ip_address: 'ip' });
    // 40 users in the tile of minute 1, one at 31 (the union is kept from its read on), one at 32
    // whose horizon (minute 70) forgets the tile of minute 1, one at 35 with the horizon back at 0.
    const run = (set: FeatureSet): number[] => {
      const state = set.newState();
      const feed = (i: number, minute: number, horizon: number): number => set.compute(state, at(i, minute), { tooLate: false, earliest: at(i, horizon).event_time })[0]!;
      for (let i = 0; i < 40; i++) feed(i, 1, 0);
      return [feed(40, 31, 0), feed(41, 32, 70), feed(42, 35, 0)];
    };
    const want = run(new FeatureSet(specs, { engine: 'interpreted' }));
    assert.deepEqual(run(new FeatureSet(specs)), want);
    assert.deepEqual(want, [41, 2, 3], 'the tile of minute 1 left with the horizon at minute 70');
  });

  it('drops a running tally whose tiles a horizon forgot, even one that later moves back', () => {
    const specs = parseFeatureSpecs([{ name: 'n', entity: 'user_id', window: { kind: 'hopping', size: '1h', hop: '10m' }, aggregate: 'count' }]);
    const at = (i: number, minute: number): RtdsEvent => ({ event_id: `h${i}`, event_type: 'login', event_time: 1_764_000_000_000 + minute * 60_000, timestamp: 0, event_time_source: 'event', user_id: 'u' });
    // Horizons (minutes) per event: the third's is at minute 70, which forgets the tile of minute 1
    // (the 1-hour window of minute 70 starts at minute 20); the fourth's is back at 0, and it reads
    // the tile the tally was anchored at.
    const run = (set: FeatureSet): number[] => {
      const state = set.newState();
      return [[1, 0], [31, 0], [32, 70], [35, 0]].map(([minute, horizon], i) => set.compute(state, at(i, minute!), { tooLate: false, earliest: at(i, horizon!).event_time })[0]!);
    };
    const want = run(new FeatureSet(specs, { engine: 'interpreted' }));
    assert.deepEqual(run(new FeatureSet(specs)), want);
    assert.deepEqual(want, [1, 2, 2, 3], 'the tile of minute 1 left with the horizon at minute 70');
  });
});
