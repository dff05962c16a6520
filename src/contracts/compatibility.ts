// Whether a new version of a contract's JSON Schema still accepts everything the previous one did (backward compatible): new optional fields only.

/** Where a new version refuses what its predecessor accepted, and how. */
export interface Incompatibility {
  /** The field, dotted (`reasons[].source`, `*` for any unlisted field); `(root)` for the document itself. */
  path: string;
  problem: string;
}

type Node = Readonly<Record<string, unknown>>;

/** Keywords that say nothing about which documents are valid. */
const ANNOTATIONS = new Set(['$id', '$schema', 'title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly']);
/** Bounds that refuse more as they rise, and as they fall. */
const LOWER_BOUNDS = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'];
const UPPER_BOUNDS = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'];
/** Keywords this check judges; a schema using any other is reported, never passed unseen. */
const JUDGED = new Set(['type', 'enum', 'const', 'required', 'properties', 'additionalProperties', 'items', 'anyOf', 'oneOf', 'pattern', 'format', ...LOWER_BOUNDS, ...UPPER_BOUNDS]);

/**
 * What `current` refuses that `previous` accepted, judged keyword by keyword: a field removed, a
 * type no longer accepted (`integer` widening to `number` is fine), a field newly required, an
 * enum or const that lost values, properties closed (`additionalProperties: false`), a bound
 * tightened, a pattern or format changed, an alternative (`anyOf`/`oneOf`) of the previous
 * version that no alternative of the new one accepts — in nested objects and array items alike.
 * A keyword outside that list is reported too, so nothing the check cannot judge passes unseen.
 * Empty: every document valid under `previous` is valid under `current`.
 */
export function backwardIncompatibilities(previous: unknown, current: unknown): Incompatibility[] {
  const found: Incompatibility[] = [];
  compare(asNode(previous), asNode(current), '(root)', found);
  return found;
}

function asNode(schema: unknown): Node {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new TypeError('a JSON Schema here is an object');
  return schema as Node;
}

const child = (path: string, name: string): string => (path === '(root)' ? name : `${path}.${name}`);

function compare(previous: Node, current: Node, path: string, found: Incompatibility[]): void {
  const report = (problem: string): void => void found.push({ path, problem });
  for (const node of [previous, current]) {
    for (const keyword of Object.keys(node)) if (!JUDGED.has(keyword) && !ANNOTATIONS.has(keyword)) report(`uses ${keyword}, which this check does not judge: compare the versions by hand`);
  }
  compareTypes(previous, current, report);
  compareValues(previous, current, report);
  const before = new Set(asStrings(previous.required));
  for (const name of asStrings(current.required)) if (!before.has(name)) report(`${name} is now required`);
  compareProperties(previous, current, path, found, report);
  if (current.items !== undefined) compare(previous.items === undefined ? {} : asNode(previous.items), asNode(current.items), `${path}[]`, found);
  compareBounds(previous, current, report);
  for (const keyword of ['pattern', 'format']) {
    if (current[keyword] !== undefined && current[keyword] !== previous[keyword]) report(`${keyword} ${previous[keyword] === undefined ? 'added' : 'changed'}: ${JSON.stringify(current[keyword])}`);
  }
  compareAlternatives(previous, current, report);
}

/** Types a node accepts; undefined: any. */
function typesOf(node: Node): string[] | undefined {
  const type = node.type;
  return type === undefined ? undefined : asStrings(Array.isArray(type) ? type : [type]);
}

function compareTypes(previous: Node, current: Node, report: (problem: string) => void): void {
  const now = typesOf(current);
  if (now === undefined) return;
  const before = typesOf(previous);
  if (before === undefined) return report(`type restricted to ${now.join(' or ')}`);
  for (const type of before) {
    const kept = now.includes(type) || (type === 'integer' && now.includes('number'));
    if (!kept) report(`no longer accepts type ${type}`);
  }
}

/** The values a node is limited to (`enum`, or `const` as one value); undefined: no such limit. */
function valuesOf(node: Node): string[] | undefined {
  if (Array.isArray(node.enum)) return node.enum.map((v) => JSON.stringify(v));
  return node.const === undefined ? undefined : [JSON.stringify(node.const)];
}

function compareValues(previous: Node, current: Node, report: (problem: string) => void): void {
  const now = valuesOf(current);
  if (now === undefined) return;
  const before = valuesOf(previous);
  if (before === undefined) return report(`restricted to the values ${now.join(', ')}`);
  for (const value of before) if (!now.includes(value)) report(`no longer accepts the value ${value}`);
}

function compareProperties(previous: Node, current: Node, path: string, found: Incompatibility[], report: (problem: string) => void): void {
  const before = (previous.properties ?? {}) as Record<string, unknown>;
  const now = (current.properties ?? {}) as Record<string, unknown>;
  for (const [name, schema] of Object.entries(before)) {
    if (!Object.hasOwn(now, name)) report(`field ${name} removed`);
    else compare(asNode(schema), asNode(now[name]), child(path, name), found);
  }
  const closedNow = current.additionalProperties === false;
  if (closedNow && previous.additionalProperties !== false) report('no longer accepts fields it does not list (additionalProperties: false)');
  else if (typeof current.additionalProperties === 'object' && current.additionalProperties !== null) {
    const open = typeof previous.additionalProperties === 'object' && previous.additionalProperties !== null ? asNode(previous.additionalProperties) : {};
    if (previous.additionalProperties !== false) compare(open, asNode(current.additionalProperties), child(path, '*'), found);
  }
}

function compareBounds(previous: Node, current: Node, report: (problem: string) => void): void {
  for (const keyword of LOWER_BOUNDS) {
    const now = current[keyword];
    const before = previous[keyword];
    if (typeof now === 'number' && (typeof before !== 'number' || now > before)) report(`${keyword} raised to ${now}${typeof before === 'number' ? ` from ${before}` : ''}`);
  }
  for (const keyword of UPPER_BOUNDS) {
    const now = current[keyword];
    const before = previous[keyword];
    if (typeof now === 'number' && (typeof before !== 'number' || now < before)) report(`${keyword} lowered to ${now}${typeof before === 'number' ? ` from ${before}` : ''}`);
  }
}

/** The alternatives a node offers (anyOf or oneOf); undefined: none, the node itself is the one. */
function alternativesOf(node: Node): Node[] | undefined {
  const list = node.anyOf ?? node.oneOf;
  return Array.isArray(list) ? list.map(asNode) : undefined;
}

/**
 * Every alternative of the previous version (or, without any, the unconstrained rest of it) must
 * be accepted whole by some alternative of the new one.
 */
function compareAlternatives(previous: Node, current: Node, report: (problem: string) => void): void {
  const now = alternativesOf(current);
  if (now === undefined) return;
  const before = alternativesOf(previous) ?? [{}];
  before.forEach((alternative, i) => {
    const accepted = now.some((candidate) => backwardIncompatibilities(alternative, candidate).length === 0);
    if (!accepted) report(before.length === 1 && alternativesOf(previous) === undefined ? 'alternatives added where any value was accepted' : `no alternative accepts what alternative ${i + 1} did`);
  });
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
