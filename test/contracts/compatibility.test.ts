// Contract versions stay backward compatible: the checker catches each kind of break, and every contract's versions pass it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { backwardIncompatibilities, CONTRACT_NAMES, contractVersions, currentSchema, currentVersion, DEGRADATIONS, decisionJsonSchema, EVENT_TIME_SOURCES, eventJsonSchema, HISTORIES, labelJsonSchema, OUTCOMES } from '../../src/contracts/index.ts';

/** A small contract in the shape of the real ones: what each break below starts from. */
const base = {
  type: 'object',
  required: ['id', 'kind'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    kind: { enum: ['a', 'b'] },
    amount: { type: 'number', minimum: 0 },
    at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'integer', minimum: 0 }] },
    reasons: { type: 'array', items: { type: 'object', required: ['code'], properties: { code: { type: 'string' }, source: { enum: ['model', 'rule'] } } } },
    meta: { type: 'object', properties: { note: { type: 'string' } } },
  },
  additionalProperties: false,
};

/** `base` with `change` applied to a deep copy. */
function changed(change: (schema: typeof base) => void): typeof base {
  const copy = structuredClone(base);
  change(copy);
  return copy;
}

describe('backwardIncompatibilities', () => {
  it('finds nothing between a schema and itself, or when only optional fields and wider values are added', () => {
    assert.deepEqual(backwardIncompatibilities(base, base), []);
    const wider = changed((s) => {
      (s.properties as Record<string, unknown>).channel = { type: 'string' };
      s.properties.kind.enum.push('c');
      (s.properties.amount as { type: unknown }).type = ['number', 'null'];
      s.properties.id.maxLength = 256;
      (s.properties.reasons.items.properties as Record<string, unknown>).weight = { type: 'number' };
      s.properties.at.anyOf.push({ type: 'string', format: 'date' } as never);
      (s as { description?: string }).description = 'annotations change nothing';
    });
    assert.deepEqual(backwardIncompatibilities(base, wider), []);
    // integer → number widens.
    const integer = changed((s) => ((s.properties.amount as { type: string }).type = 'integer'));
    assert.deepEqual(backwardIncompatibilities(integer, base), []);
  });

  const breaks: [string, (s: typeof base) => void, { path: string; problem: RegExp }][] = [
    ['a removed field', (s) => delete (s.properties as Partial<typeof s.properties>).amount, { path: '(root)', problem: /^field amount removed$/ }],
    ['a removed nested field', (s) => delete (s.properties.meta.properties as { note?: unknown }).note, { path: 'meta', problem: /^field note removed$/ }],
    ['a changed type', (s) => ((s.properties.amount as { type: string }).type = 'string'), { path: 'amount', problem: /^no longer accepts type number$/ }],
    ['number narrowed to integer', (s) => ((s.properties.amount as { type: string }).type = 'integer'), { path: 'amount', problem: /^no longer accepts type number$/ }],
    ['a new required field', (s) => s.required.push('amount'), { path: '(root)', problem: /^amount is now required$/ }],
    ['a new required field in array items', (s) => s.properties.reasons.items.required.push('source'), { path: 'reasons[]', problem: /^source is now required$/ }],
    ['a narrowed enum', (s) => (s.properties.kind.enum = ['a']), { path: 'kind', problem: /^no longer accepts the value "b"$/ }],
    ['a narrowed enum in array items', (s) => (s.properties.reasons.items.properties.source.enum = ['rule']), { path: 'reasons[].source', problem: /"model"/ }],
    ['an enum where any value went', (s) => ((s.properties.meta.properties.note as Record<string, unknown>).enum = ['x']), { path: 'meta.note', problem: /^restricted to the values "x"$/ }],
    ['a changed item type', (s) => ((s.properties.reasons.items as { type: string }).type = 'string'), { path: 'reasons[]', problem: /^no longer accepts type object$/ }],
    ['a tightened bound', (s) => (s.properties.id.maxLength = 64), { path: 'id', problem: /^maxLength lowered to 64 from 128$/ }],
    ['a new bound', (s) => ((s.properties.amount as Record<string, unknown>).maximum = 1e6), { path: 'amount', problem: /^maximum lowered to 1000000$/ }],
    ['a new pattern', (s) => ((s.properties.id as Record<string, unknown>).pattern = '^[a-z]+$'), { path: 'id', problem: /^pattern added/ }],
    ['a dropped alternative', (s) => s.properties.at.anyOf.pop(), { path: 'at', problem: /^no alternative accepts what alternative 2 did$/ }],
    ['closed properties', (s) => ((s.properties.meta as Record<string, unknown>).additionalProperties = false), { path: 'meta', problem: /additionalProperties: false/ }],
    ['a keyword it cannot judge', (s) => ((s.properties.meta as Record<string, unknown>).allOf = [{ type: 'object' }]), { path: 'meta', problem: /^uses allOf, which this check does not judge/ }],
  ];
  for (const [what, change, expected] of breaks) {
    it(`catches ${what}`, () => {
      const found = backwardIncompatibilities(base, changed(change));
      assert.ok(
        found.some((f) => f.path === expected.path && expected.problem.test(f.problem)),
        `expected ${expected.path}: ${expected.problem} among ${JSON.stringify(found)}`,
      );
    });
  }
});

/**
 * Each published version's content (its JSON, key order as written): a published version is never
 * edited, since producers and readers elsewhere hold it. A change is a new version. Only a change
 * that accepts and refuses exactly what it did (a description) may move a pin.
 */
const PUBLISHED: Record<string, string> = {
  'event/1': '02ce72b754c1d605f18b9fc54819d6ada54ad04303522dc1063eb1102ca6facb',
  'decision/1': '77801a6fe577ec37ddbe2b3399e105ebc217a486ac489679a54fbdb033fdf0ff',
  'label/1': 'b6e4a002794a554f2b0a71b331663da94bc2bff0ab904208eb3be247982aee62',
};

describe('the contracts', () => {
  it('validate with their current version: the runtime validators and the API use the same documents', () => {
    assert.equal(eventJsonSchema, currentSchema('event'));
    assert.equal(decisionJsonSchema, currentSchema('decision'));
    assert.equal(labelJsonSchema, currentSchema('label'));
  });

  it("the decision schema's values are the ones the code decides with", () => {
    const { properties } = decisionJsonSchema;
    assert.deepEqual(properties.decision.enum, [...OUTCOMES]);
    assert.deepEqual(properties.degraded.enum, [...DEGRADATIONS]);
    assert.deepEqual(properties.history.enum, [...HISTORIES]);
    assert.deepEqual(properties.event_time_source.enum, [...EVENT_TIME_SOURCES]);
  });

  it('each version is backward compatible with the one before it', () => {
    for (const name of CONTRACT_NAMES) {
      const versions = contractVersions(name);
      assert.equal(currentVersion(name), versions.length);
      for (let v = 1; v < versions.length; v++) {
        assert.deepEqual(backwardIncompatibilities(versions[v - 1], versions[v]), [], `${name} version ${v + 1} against version ${v}`);
      }
    }
  });

  it('each version names itself in its $id, and no published version was edited', () => {
    const seen: Record<string, string> = {};
    for (const name of CONTRACT_NAMES) {
      contractVersions(name).forEach((schema, i) => {
        assert.equal(schema.$id, `urn:rtds:contract:${name}:${i + 1}`);
        seen[`${name}/${i + 1}`] = createHash('sha256').update(JSON.stringify(schema)).digest('hex');
      });
    }
    for (const [version, pin] of Object.entries(PUBLISHED)) {
      assert.equal(seen[version], pin, `${version} differs from the version published: add a new version (src/contracts/schemas/) instead of editing it`);
    }
  });
});
