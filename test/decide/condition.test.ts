import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '@bufbuild/cel';
import fc from 'fast-check';
import type { RtdsEvent } from '../../src/contracts/index.ts';
import { Condition, ConditionError } from '../../src/decide/condition.ts';

const FEATURES = new Map([
  ['count_1h', 0],
  ['amount_to_avg', 1],
  ['new_device', 2],
]);

/** Expressions over the compiled subset and around it (int arithmetic, ternaries go to the interpreter). */
const numeric = fc.letrec<{ num: string }>((tie) => ({
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('event.amount', 'score', 'features.count_1h', 'features.amount_to_avg', 'features.new_device'),
    fc.integer({ min: -5, max: 2000 }).map(String),
    fc.double({ min: -10, max: 2000, noNaN: true }).map((x) => (Number.isInteger(x) ? `${x}.0` : String(x))),
    fc.tuple(tie('num'), fc.constantFrom('+', '-', '*', '/'), tie('num')).map(([a, op, b]) => `(${a} ${op} ${b})`),
  ),
})).num;
const text = fc.oneof(fc.constantFrom('event.country', 'event.channel', 'event.event_type'), fc.constantFrom("'DE'", "'KP'", "'atm'", "'web'", "'transfer'"));
const bool = fc.letrec<{ b: string }>((tie) => ({
  b: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(numeric, fc.constantFrom('<', '<=', '>', '>=', '==', '!='), numeric).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(text, fc.constantFrom('==', '!='), fc.oneof(text, numeric)).map(([a, op, b]) => `${a} ${op} ${b}`),
    text.map((t) => `${t} in ['KP', 'IR', 'atm', 'transfer']`),
    fc.constantFrom('has(event.amount)', 'has(event.country)', "event.channel.startsWith('a')", "event.country.contains('E')", 'true', 'false'),
    fc.tuple(tie('b'), tie('b'), tie('b')).map(([c, x, y]) => `(${c} ? ${x} : ${y})`),
    fc.tuple(tie('b'), fc.constantFrom('&&', '||'), tie('b')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('b').map((x) => `!(${x})`),
  ),
})).b;
const event = fc.record(
  {
    event_id: fc.constant('e'),
    event_type: fc.constantFrom('transaction', 'transfer', 'login'),
    timestamp: fc.constant(0),
    event_time: fc.constant(0),
    user_id: fc.constant('u'),
    amount: fc.double({ min: 0, max: 5000, noNaN: true }),
    country: fc.constantFrom('DE', 'KP', 'FR'),
    channel: fc.constantFrom('atm', 'web', 'pos'),
  },
  { requiredKeys: ['event_id', 'event_type', 'timestamp', 'event_time', 'user_id'] },
) as fc.Arbitrary<RtdsEvent>;

describe('rule conditions in CEL', () => {
  it('mean what the CEL interpreter says they mean, compiled or not, on random expressions and events', () => {
    let compiled = 0;
    let total = 0;
    fc.assert(
      fc.property(bool, event, fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 3, maxLength: 3 }), (expr, generated, score, values) => {
        // fast-check's records have no prototype; events as the pipeline has them do.
        const e = { ...generated };
        const condition = new Condition(expr, FEATURES);
        total++;
        if (condition.compiled) compiled++;
        const features = Float64Array.from(values);
        const oracle = run(expr, { event: e as unknown as Record<string, string>, features: { count_1h: values[0]!, amount_to_avg: values[1]!, new_device: values[2]! }, score });
        const expected = typeof oracle === 'boolean' ? oracle : undefined;
        assert.equal(condition.test({ event: e, features, score }), expected, `${expr} on ${JSON.stringify(e)}, score ${score}, features ${values}`);
      }),
      { numRuns: 3000, seed: 20261127 },
    );
    assert.ok(compiled > total / 3, `${compiled} of ${total} compiled`);
  });

  it('run compiled for the common forms, and refuse names that do not exist', () => {
    for (const expr of ["event.amount > 1000 && event.channel == 'atm'", "features.count_1h >= 10.0 || score > 0.9", "event.country in ['KP', 'IR']", 'has(event.amount) && !(event.amount < 5.0)']) {
      assert.ok(new Condition(expr, FEATURES).compiled, expr);
    }
    assert.equal(new Condition('event.amount * 2 > 10', FEATURES).compiled, false, 'int arithmetic is the interpreter’s');
    assert.throws(() => new Condition('features.nope > 1', FEATURES), (e: unknown) => e instanceof ConditionError && /no feature "nope"/.test(e.message));
    assert.throws(() => new Condition('amount > 1', FEATURES), /unknown name "amount"/);
    assert.throws(() => new Condition('event.amout > 1', FEATURES), /no event field "amout"/);
    assert.throws(() => new Condition('event.amount >', FEATURES), /not a CEL expression/);
    assert.throws(() => new Condition('event.amount + 1.0', FEATURES), /must be true or false/);
  });
});
