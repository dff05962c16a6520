// Rule conditions in CEL (the Common Expression Language), compiled once per rule set into plain JS closures.
import { celEnv, parse, plan } from '@bufbuild/cel';
import type { RtdsEvent } from '../contracts/index.ts';

type Expr = NonNullable<ReturnType<typeof parse>['expr']>;
/** The standard CEL environment, shared by every interpreted condition. */
const CEL_ENV = celEnv();

/** What a condition sees: the event (contract fields), its features by name, and the risk score. */
export interface ConditionInput {
  event: RtdsEvent;
  features: Float64Array | undefined;
  score: number;
}

export class ConditionError extends Error {
  override readonly name = 'ConditionError';
}

/** The event fields a condition may read, with their CEL types. */
const EVENT_FIELDS: Record<string, 'string' | 'double'> = {
  event_type: 'string',
  user_id: 'string',
  session_id: 'string',
  ip_address: 'string',
  country: 'string',
  channel: 'string',
  amount: 'double',
  currency: 'string',
  merchant_id: 'string',
  device_id: 'string',
};

/**
 * A CEL error (a missing field, no overload): absorbed by `&&` and `||` as CEL does, and a
 * condition that ends in one does not fire.
 */
const ERR = Symbol('cel error');
type Value = boolean | number | string | typeof ERR | readonly (number | string)[];
type Kind = 'bool' | 'int' | 'double' | 'string' | 'list';
interface Node {
  kind: Kind;
  run: (input: ConditionInput) => Value;
}

/** Outside the compiled subset: the expression is run by the CEL interpreter instead. */
class Unsupported extends Error {}

const isNumber = (k: Kind): boolean => k === 'int' || k === 'double';

/**
 * One rule's condition. The common subset — comparisons, `&&` `||` `!`, `in` a list literal,
 * `has()`, string `startsWith` / `endsWith` / `contains`, arithmetic on doubles — is compiled to
 * closures (tens of millions of evaluations a second); anything else in CEL runs on
 * @bufbuild/cel's interpreter, with the same meaning and about a tenth of the speed. Tested
 * against the interpreter on random expressions.
 */
export class Condition {
  /** Whether it runs compiled (true) or interpreted. */
  readonly compiled: boolean;
  private readonly run: (input: ConditionInput) => boolean | undefined;

  constructor(
    readonly source: string,
    private readonly featureIndex: ReadonlyMap<string, number>,
  ) {
    let parsed: ReturnType<typeof parse>;
    let expr: Expr;
    try {
      parsed = parse(source);
      if (parsed.expr === undefined) throw new Error('empty expression');
      expr = parsed.expr;
    } catch (err) {
      throw new ConditionError(`not a CEL expression: ${(err as Error).message}`);
    }
    this.checkNames(expr);
    try {
      const node = this.compile(expr);
      if (node.kind !== 'bool') throw new ConditionError(`must be true or false; this gives a ${node.kind}`);
      this.run = (input) => {
        const v = node.run(input);
        return v === ERR ? undefined : (v as boolean);
      };
      this.compiled = true;
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      const interpreted = plan(CEL_ENV, parsed);
      this.run = (input) => {
        const v = interpreted({ event: input.event as unknown as Record<string, string>, features: this.featureMap(input.features), score: input.score });
        return typeof v === 'boolean' ? v : undefined;
      };
      this.compiled = false;
    }
  }

  /** True or false; undefined when the expression errs (a field the event lacks, say): the rule then does not fire. */
  test(input: ConditionInput): boolean | undefined {
    return this.run(input);
  }

  private featureMap(vector: Float64Array | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    if (vector !== undefined) for (const [name, i] of this.featureIndex) out[name] = vector[i]!;
    return out;
  }

  /** Only `event`, `features` and `score` exist; a feature must be one the set computes. Caught when the rule set loads. */
  private checkNames(expr: Expr): void {
    const visit = (e: Expr | undefined): void => {
      if (e === undefined) return;
      const k = e.exprKind;
      switch (k.case) {
        case 'identExpr':
          if (!['event', 'features', 'score'].includes(k.value.name)) throw new ConditionError(`unknown name "${k.value.name}": use event, features or score`);
          return;
        case 'selectExpr': {
          const operand = k.value.operand?.exprKind;
          if (operand?.case === 'identExpr' && operand.value.name === 'features' && !this.featureIndex.has(k.value.field)) throw new ConditionError(`no feature "${k.value.field}" in the feature set`);
          if (operand?.case === 'identExpr' && operand.value.name === 'event' && !(k.value.field in EVENT_FIELDS) && k.value.field !== 'metadata') throw new ConditionError(`no event field "${k.value.field}"`);
          return visit(k.value.operand);
        }
        case 'callExpr':
          visit(k.value.target);
          return k.value.args.forEach(visit);
        case 'listExpr':
          return k.value.elements.forEach(visit);
        case 'structExpr':
          return k.value.entries.forEach((entry) => visit(entry.value));
        case 'comprehensionExpr':
          // Iteration variables are names of their own: left to the interpreter, which knows them.
          return;
        default:
          return;
      }
    };
    visit(expr);
  }

  private compile(e: Expr): Node {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr': {
        const c = k.value.constantKind;
        if (c.case === 'boolValue') return constant('bool', c.value);
        if (c.case === 'int64Value') return constant('int', Number(c.value));
        if (c.case === 'doubleValue') return constant('double', c.value);
        if (c.case === 'stringValue') return constant('string', c.value);
        throw new Unsupported();
      }
      case 'identExpr':
        if (k.value.name === 'score') return { kind: 'double', run: (i) => i.score };
        throw new Unsupported();
      case 'selectExpr':
        return this.select(k.value.operand, k.value.field, k.value.testOnly);
      case 'listExpr': {
        // A list of literals only: it is built once, at compile time.
        if (!k.value.elements.every((x) => x.exprKind.case === 'constExpr')) throw new Unsupported();
        const items = k.value.elements.map((x) => this.compile(x));
        const first = items[0]?.kind;
        if (first === undefined || !items.every((i) => i.kind === first && (first === 'string' || isNumber(first))) || k.value.optionalIndices.length > 0) throw new Unsupported();
        const values = items.map((i) => i.run(undefined as unknown as ConditionInput) as number | string);
        return { kind: 'list', run: () => values };
      }
      case 'callExpr':
        return this.call(k.value.function, k.value.target, k.value.args);
      default:
        throw new Unsupported();
    }
  }

  private select(operand: Expr | undefined, field: string, testOnly: boolean): Node {
    const o = operand?.exprKind;
    if (o?.case !== 'identExpr') throw new Unsupported();
    if (o.value.name === 'features') {
      const index = this.featureIndex.get(field)!;
      if (testOnly) return { kind: 'bool', run: (i) => i.features !== undefined };
      return { kind: 'double', run: (i) => (i.features === undefined ? ERR : i.features[index]!) };
    }
    if (o.value.name === 'event' && field in EVENT_FIELDS) {
      const kind = EVENT_FIELDS[field]!;
      const key = field as keyof RtdsEvent;
      if (testOnly) return { kind: 'bool', run: (i) => i.event[key] !== undefined };
      return { kind, run: (i) => (i.event[key] as string | number | undefined) ?? ERR };
    }
    throw new Unsupported();
  }

  private call(fn: string, target: Expr | undefined, argExprs: readonly Expr[]): Node {
    if (target !== undefined) return this.method(fn, this.compile(target), argExprs);
    const args = argExprs.map((a) => this.compile(a));
    const [a, b] = args as [Node, Node];
    switch (fn) {
      case '_&&_':
      case '_||_': {
        if (a.kind !== 'bool' || b.kind !== 'bool') throw new Unsupported();
        // CEL's logic is commutative over errors: false && error is false, error || true is true.
        const decisive = fn === '_||_';
        return {
          kind: 'bool',
          run: (i) => {
            const x = a.run(i);
            if (x === decisive) return decisive;
            const y = b.run(i);
            if (y === decisive) return decisive;
            return x === ERR || y === ERR ? ERR : !decisive;
          },
        };
      }
      case '!_':
        if (a.kind !== 'bool') throw new Unsupported();
        return { kind: 'bool', run: (i) => lift1(a.run(i), (x) => !x) };
      case '_==_':
      case '_!=_': {
        if (a.kind === 'list' || b.kind === 'list') throw new Unsupported();
        const comparable = (isNumber(a.kind) && isNumber(b.kind)) || a.kind === b.kind;
        const equal = fn === '_==_';
        // Values of different types are simply not equal in CEL.
        if (!comparable) return { kind: 'bool', run: (i) => lift2(a.run(i), b.run(i), () => !equal) };
        return { kind: 'bool', run: (i) => lift2(a.run(i), b.run(i), (x, y) => (x === y) === equal) };
      }
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_': {
        // Strings order by code point in CEL, not by UTF-16 unit as in JS: those go to the interpreter.
        if (!isNumber(a.kind) || !isNumber(b.kind)) throw new Unsupported();
        const compare = COMPARE[fn]!;
        return { kind: 'bool', run: (i) => lift2(a.run(i), b.run(i), (x, y) => compare(x as number, y as number)) };
      }
      case '_+_':
      case '_-_':
      case '_*_':
      case '_/_': {
        // Integer arithmetic (overflow, truncation) and mixed int/double (an error in CEL) stay with the interpreter.
        if (a.kind !== 'double' || b.kind !== 'double') throw new Unsupported();
        const op = ARITHMETIC[fn]!;
        return { kind: 'double', run: (i) => lift2(a.run(i), b.run(i), (x, y) => op(x as number, y as number)) };
      }
      case '@in': {
        if (b.kind !== 'list') throw new Unsupported();
        const list = b.run(undefined as unknown as ConditionInput) as readonly (number | string)[];
        const numeric = typeof list[0] === 'number';
        if (numeric !== isNumber(a.kind) || (!numeric && a.kind !== 'string')) throw new Unsupported();
        const set = new Set<number | string>(list);
        return { kind: 'bool', run: (i) => lift1(a.run(i), (x) => set.has(x as number | string)) };
      }
      default:
        throw new Unsupported();
    }
  }

  private method(fn: string, receiver: Node, argExprs: readonly Expr[]): Node {
    const test = STRING_METHODS[fn];
    const arg = argExprs.length === 1 ? this.compile(argExprs[0]!) : undefined;
    if (test === undefined || receiver.kind !== 'string' || arg?.kind !== 'string') throw new Unsupported();
    return { kind: 'bool', run: (i) => lift2(receiver.run(i), arg.run(i), (x, y) => test(x as string, y as string)) };
  }
}

const constant = (kind: Kind, value: boolean | number | string): Node => ({ kind, run: () => value });
const lift1 = (x: Value, f: (x: Value) => Value): Value => (x === ERR ? ERR : f(x));
const lift2 = (x: Value, y: Value, f: (x: Value, y: Value) => Value): Value => (x === ERR || y === ERR ? ERR : f(x, y));

const COMPARE: Record<string, (x: number, y: number) => boolean> = {
  '_<_': (x, y) => x < y,
  '_<=_': (x, y) => x <= y,
  '_>_': (x, y) => x > y,
  '_>=_': (x, y) => x >= y,
};
const ARITHMETIC: Record<string, (x: number, y: number) => number> = {
  '_+_': (x, y) => x + y,
  '_-_': (x, y) => x - y,
  '_*_': (x, y) => x * y,
  '_/_': (x, y) => x / y,
};
const STRING_METHODS: Record<string, (x: string, y: string) => boolean> = {
  startsWith: (x, y) => x.startsWith(y),
  endsWith: (x, y) => x.endsWith(y),
  contains: (x, y) => x.includes(y),
};

