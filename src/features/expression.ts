// Derived expressions compiled to plain JavaScript with filtrex's semantics: its lexer, precedence and type rules, without its per-call overhead.

/**
 * What a name in an expression reads, decided once per set: a feature's slot in the vector, an
 * event value (a local of the generated function), or nothing (filtrex's unknown-property error).
 */
export type NameSource = { from: 'vector'; index: number } | { from: 'event'; local: string; type: 'n' | 's' } | { from: 'carried'; index: number; before: number | undefined } | { from: 'none' };

/** Static types: number, string (text), boolean, list, or any (only known at run time). */
type Type = 'n' | 's' | 'b' | 'l' | 'a';

interface Code {
  js: string;
  type: Type;
}

/** The expression is outside what this compiler handles; the caller keeps filtrex for it. */
export class UnsupportedExpression extends Error {}

// filtrex's lexer rules, in its order: the first that matches wins (jison without `flex`).
const RULES: [RegExp, string][] = [
  [/^(?:\*)/, '*'],
  [/^(?:\/)/, '/'],
  [/^(?:-)/, '-'],
  [/^(?:\+)/, '+'],
  [/^(?:\^)/, '^'],
  [/^(?:\()/, '('],
  [/^(?:\))/, ')'],
  [/^(?:,)/, ','],
  [/^(?:==)/, '=='],
  [/^(?:!=)/, '!='],
  [/^(?:~=)/, '~='],
  [/^(?:>=)/, '>='],
  [/^(?:<=)/, '<='],
  [/^(?:<)/, '<'],
  [/^(?:>)/, '>'],
  [/^(?:not\s+in[^\w])/, 'notIn'],
  [/^(?:and[^\w])/, 'and'],
  [/^(?:or[^\w])/, 'or'],
  [/^(?:not[^\w])/, 'not'],
  [/^(?:in[^\w])/, 'in'],
  [/^(?:of[^\w])/, 'of'],
  [/^(?:if[^\w])/, 'if'],
  [/^(?:then[^\w])/, 'then'],
  [/^(?:else[^\w])/, 'else'],
  [/^(?:mod[^\w])/, 'mod'],
  [/^(?:\s+)/, ''],
  [/^(?:[0-9]+(?:\.[0-9]+)?(?![0-9.]))/, 'Number'],
  [/^(?:[a-zA-Z$_][.a-zA-Z0-9$_]*)/, 'Symbol'],
  [/^(?:'(?:\\'|\\\\|[^'\\])*')/, 'QuotedSymbol'],
  [/^(?:"(?:\\"|\\\\|[^"\\])*")/, 'String'],
  [/^(?:%)/, '%'],
  [/^(?:\?)/, '?'],
  [/^(?::)/, ':'],
];

interface Token {
  kind: string;
  text: string;
}

function lex(expression: string): Token[] {
  const tokens: Token[] = [];
  let rest = expression;
  while (rest.length > 0) {
    let matched = false;
    for (const [re, kind] of RULES) {
      const m = re.exec(rest);
      if (m === null) continue;
      rest = rest.slice(m[0].length);
      if (kind !== '') tokens.push({ kind, text: m[0] });
      matched = true;
      break;
    }
    if (!matched) throw new UnsupportedExpression(`no token at ${JSON.stringify(rest.slice(0, 10))}`);
  }
  tokens.push({ kind: 'End', text: '' });
  return tokens;
}

/** filtrex's string literal: `\\` and the escaped quote only. */
function unquote(text: string): string {
  let built = '';
  for (let i = 1; i < text.length - 1; i++) {
    if (text[i] === '\\') {
      i++;
      if (text[i] !== '\\' && text[i] !== text[0]) throw new UnsupportedExpression('escape');
    }
    built += text[i];
  }
  return built;
}

/** A number literal's value as filtrex's sloppy-mode `new Function` reads its text (`010` is octal). */
function numberLiteral(text: string): string {
  // The lexer admits digits and one dot only: safe to evaluate.
  const value = new Function(`return ${text}`)() as number;
  return Number.isFinite(value) ? `(${JSON.stringify(value)})` : 'Infinity';
}

// Binding powers, filtrex's precedence table from lowest (if … then … else, ?:) to highest (of).
const BINARY: Record<string, number> = { or: 2, and: 3, in: 4, notIn: 4, '==': 6, '!=': 6, '<': 6, '<=': 6, '>': 6, '>=': 6, '~=': 6, '+': 8, '-': 8, '*': 9, '/': 9, mod: 9, '%': 9, '^': 11, '?': 1 };
const RELATIONS = new Set(['==', '!=', '<', '<=', '>', '>=', '~=']);
const PREFIX = 10;
/** Functions filtrex offers (with the set's extras), all Math's own but exists and empty. */
const MATH = new Set(['abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'log1p', 'exp', 'sin', 'cos', 'tanh', 'sign']);

/**
 * Compiles one expression to a JavaScript expression over `v` (the vector), the event locals and
 * `$` (filtrex's coercions). Type checks filtrex makes at run time are made at compile time where
 * the types are known; the rest call the same checks.
 */
class ExpressionCompiler {
  private at = 0;
  temps = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly resolve: (name: string) => NameSource,
    private readonly tempBase: string,
  ) {}

  compile(): Code {
    const code = this.parse(0);
    this.expect('End');
    return code;
  }

  private peek(): Token {
    return this.tokens[this.at]!;
  }

  private next(): Token {
    return this.tokens[this.at++]!;
  }

  private expect(kind: string): void {
    if (this.next().kind !== kind) throw new UnsupportedExpression(`expected ${kind}`);
  }

  private parse(rbp: number): Code {
    let left = this.prefix();
    for (;;) {
      const op = this.peek().kind;
      const lbp = BINARY[op];
      if (lbp === undefined || lbp <= rbp) return left;
      this.next();
      left = this.infix(op, lbp, left);
    }
  }

  private prefix(): Code {
    const token = this.next();
    switch (token.kind) {
      case 'Number':
        return { js: numberLiteral(token.text), type: 'n' };
      case 'String':
        return { js: JSON.stringify(unquote(token.text)), type: 's' };
      case 'Symbol':
      case 'QuotedSymbol': {
        const name = token.kind === 'Symbol' ? token.text : unquote(token.text);
        // A quoted symbol is a symbol too: `'max'(1, 2)` calls max.
        if (this.peek().kind === '(') return this.call(name);
        if (this.peek().kind === 'of') {
          this.next();
          const object = this.parse(12);
          return { js: `$.prop(${JSON.stringify(name)}, ${object.js})`, type: 'a' };
        }
        return this.symbol(name);
      }
      case '-': {
        const a = this.parse(PREFIX);
        return { js: `(-${num(a)})`, type: 'n' };
      }
      case 'not': {
        const a = this.parse(PREFIX);
        return { js: `(!${bool(a)})`, type: 'b' };
      }
      case 'if': {
        const condition = this.parse(0);
        this.expect('then');
        const yes = this.parse(0);
        this.expect('else');
        const no = this.parse(0);
        return choice(condition, yes, no);
      }
      case '(': {
        const first = this.parse(0);
        if (this.peek().kind !== ',') {
          this.expect(')');
          return first;
        }
        const items = [first.js];
        while (this.peek().kind === ',') {
          this.next();
          items.push(this.parse(0).js);
        }
        this.expect(')');
        return { js: `[${items.join(', ')}]`, type: 'l' };
      }
      default:
        throw new UnsupportedExpression(`unexpected ${token.kind}`);
    }
  }

  private call(name: string): Code {
    this.expect('(');
    const args: string[] = [];
    if (this.peek().kind === ')') this.next();
    else {
      args.push(this.parse(0).js);
      while (this.peek().kind === ',') {
        this.next();
        args.push(this.parse(0).js);
      }
      this.expect(')');
    }
    // filtrex hands the arguments to the function as they are: Math's own coercions apply.
    if (MATH.has(name)) return { js: `Math.${name}(${args.join(', ')})`, type: 'n' };
    if (name === 'exists' || name === 'empty') return { js: `$.${name}(${args.join(', ')})`, type: 'b' };
    return { js: `$.fail(${args.join(', ')})`, type: 'a' };
  }

  private symbol(name: string): Code {
    const source = this.resolve(name);
    switch (source.from) {
      case 'vector':
        return { js: `v[${source.index}]`, type: 'n' };
      case 'event':
        return { js: source.local, type: source.type };
      case 'carried':
        // A feature declared later, under the name of no event value: what its last evaluation left.
        return { js: `(carried[${source.index}] ?? ${source.before === undefined ? '$.fail()' : `(${JSON.stringify(source.before)})`})`, type: source.before === undefined ? 'a' : 'n' };
      case 'none':
        return { js: '$.fail()', type: 'a' };
    }
  }

  private infix(op: string, lbp: number, left: Code): Code {
    if (RELATIONS.has(op)) return this.relation(op, left);
    if (op === '?') {
      const yes = this.parse(0);
      this.expect(':');
      return choice(left, yes, this.parse(0));
    }
    // `^` is right-associative; the rest left.
    const right = this.parse(op === '^' ? lbp - 1 : lbp);
    switch (op) {
      case 'or':
        return { js: `(${bool(left)} || ${bool(right)})`, type: 'b' };
      case 'and':
        return { js: `(${bool(left)} && ${bool(right)})`, type: 'b' };
      case 'in':
        return { js: `$.isSubset(${left.js}, ${right.js})`, type: 'b' };
      case 'notIn':
        return { js: `(!$.isSubset(${left.js}, ${right.js}))`, type: 'b' };
      case '+': {
        const text = (c: Code): boolean => c.type === 'n' || c.type === 's';
        if (text(left) && text(right)) return { js: `(${left.js} + ${right.js})`, type: left.type === 's' || right.type === 's' ? 's' : 'n' };
        return { js: `($.numstr(${left.js}) + $.numstr(${right.js}))`, type: 'a' };
      }
      case '-':
      case '*':
      case '/':
        return { js: `(${num(left)} ${op} ${num(right)})`, type: 'n' };
      case '^':
        return { js: `Math.pow(${num(left)}, ${num(right)})`, type: 'n' };
      default:
        // mod, and the deprecated %.
        return { js: `$.mod(${num(left)}, ${num(right)})`, type: 'n' };
    }
  }

  /** A chain `a < b <= c` means `a < b and b <= c`, each operand evaluated once, left to right, stopping at the first false. */
  private relation(first: string, left: Code): Code {
    const operands = [left];
    const ops = [first];
    for (;;) {
      operands.push(this.parse(6));
      if (!RELATIONS.has(this.peek().kind)) break;
      ops.push(this.next().kind);
    }
    if (ops.length === 1) return { js: compare(ops[0]!, left, operands[1]!), type: 'b' };
    const parts: string[] = [];
    let previous = left;
    ops.forEach((op, i) => {
      const temp = `${this.tempBase}${this.temps++}`;
      const operand = operands[i + 1]!;
      parts.push(compare(op, previous, { js: `(${temp} = ${operand.js})`, type: operand.type }));
      previous = { js: temp, type: operand.type };
    });
    return { js: `(${parts.join(' && ')})`, type: 'b' };
  }
}

function num(c: Code): string {
  return c.type === 'n' ? c.js : `$.num(${c.js})`;
}

function bool(c: Code): string {
  return c.type === 'b' ? c.js : `$.bool(${c.js})`;
}

function choice(condition: Code, yes: Code, no: Code): Code {
  return { js: `(${bool(condition)} ? ${yes.js} : ${no.js})`, type: yes.type === no.type ? yes.type : 'a' };
}

function compare(op: string, a: Code, b: Code): string {
  switch (op) {
    case '==':
      return `(${a.js} === ${b.js})`;
    case '!=':
      return `(${a.js} !== ${b.js})`;
    case '~=':
      return `$.matches(${a.js}, ${b.js})`;
    default:
      return `(${num(a)} ${op} ${num(b)})`;
  }
}

/** A JavaScript expression for filtrex's result turned into a feature value: booleans 1/0, a finite number itself, anything else 0. */
export function compileExpression(expression: string, resolve: (name: string) => NameSource, tempBase: string): { js: string; type: Type; temps: number } {
  const compiler = new ExpressionCompiler(lex(expression), resolve, tempBase);
  const code = compiler.compile();
  return { ...code, temps: compiler.temps };
}

// ---- filtrex's run-time checks, for the operands whose type is known only at run time ----

class TypeMismatch extends Error {}

function unwrap(value: unknown): unknown {
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (typeof value !== 'object') return value;
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value.valueOf();
  return undefined;
}

function arr(value: unknown): unknown[] {
  if (value === undefined || value === null) throw new TypeMismatch('list');
  return Array.isArray(value) ? value : [value];
}

/** The helpers generated code calls as `$`: each throws where filtrex would, and the expression's value is then 0. */
export const RUNTIME = {
  num(value: unknown): number {
    const v = unwrap(value);
    if (typeof v === 'number') return v;
    throw new TypeMismatch('number');
  },
  numstr(value: unknown): number | string {
    const v = unwrap(value);
    if (typeof v === 'number' || typeof v === 'string') return v;
    throw new TypeMismatch('text or number');
  },
  str(value: unknown): string {
    const v = unwrap(value);
    if (typeof v === 'string') return v;
    throw new TypeMismatch('text');
  },
  bool(value: unknown): boolean {
    const v = unwrap(value);
    if (typeof v === 'boolean') return v;
    throw new TypeMismatch('logical value');
  },
  mod(a: number, b: number): number {
    return ((a % b) + b) % b;
  },
  isSubset(a: unknown, b: unknown): boolean {
    const B = arr(b);
    return arr(a).every((value) => B.includes(value));
  },
  matches(a: unknown, b: unknown): boolean {
    return RegExp(RUNTIME.str(b)).test(RUNTIME.str(a));
  },
  prop(name: string, object: unknown): unknown {
    if ((typeof object === 'object' && object !== null) || typeof object === 'function') {
      if (Object.prototype.hasOwnProperty.call(object, name)) return (object as Record<string, unknown>)[name];
    }
    throw new TypeMismatch(`unknown property ${name}`);
  },
  exists(value: unknown): boolean {
    return value !== undefined && value !== null;
  },
  empty(value: unknown): boolean {
    return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
  },
  /** An unknown name or function. */
  fail(): never {
    throw new TypeMismatch('unknown name');
  },
};
