// How every `rtds` command reads its arguments: flags by node:util parseArgs, --help anywhere, and a usage error as one line that names the command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CommandError, EXIT_USAGE } from './command-error.ts';

type Flags = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs makes of `args` for these flags, with the operands by name. */
export interface ParsedCommand<F extends Flags> {
  values: ReturnType<typeof parseArgs<{ options: F; strict: true; allowPositionals: true }>>['values'];
  operands: string[];
}

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Strictly above zero (a rate or a duration). */
  positive?: boolean;
}

/** -h or --help among the arguments (before a `--` that ends the flags). */
export function helpAsked(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * One command's (or sub-command's, `models activate`) arguments. `parse` prints the usage and
 * answers undefined when help is asked; every problem with the arguments is a CommandError of
 * exit code 2 whose one line names the command and its --help.
 */
export class CommandLine {
  constructor(
    /** As typed after `rtds`: "replay", "models activate". */
    readonly command: string,
    private readonly help: string,
  ) {}

  /** The flags of `args`, and exactly the operands named in `operands`; undefined once the usage is printed for -h / --help. */
  parse<F extends Flags>(args: readonly string[], flags: F, operands: readonly string[] = []): ParsedCommand<F> | undefined {
    if (helpAsked(args)) return void this.printHelp();
    let parsed: ReturnType<typeof parseArgs<{ options: F; strict: true; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: negativeValuesJoined(args, flags), options: flags, strict: true, allowPositionals: true });
    } catch (err) {
      throw this.usage(parseProblem(err, args));
    }
    const [extra] = parsed.positionals.slice(operands.length);
    if (extra !== undefined) throw this.usage(`unexpected argument "${extra}"`);
    if (parsed.positionals.length < operands.length) throw this.usage(`which ${operands[parsed.positionals.length]}?`);
    return { values: parsed.values, operands: parsed.positionals };
  }

  printHelp(): void {
    process.stdout.write(this.help.endsWith('\n') ? this.help : `${this.help}\n`);
  }

  usage(message: string): CommandError {
    return new CommandError(`rtds ${this.command}: ${message} (see rtds ${this.command} --help)`, EXIT_USAGE);
  }

  /** A flag's number, checked against `rule`; undefined when the flag is absent. */
  number(name: string, raw: string | undefined, rule: NumberRule): number | undefined {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    const { min = -Infinity, max = Infinity, integer = false, positive = false } = rule;
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)) || (positive && n <= 0)) {
      const bounds = [positive ? '> 0' : '', min === -Infinity ? '' : `≥ ${min}`, max === Infinity ? '' : `≤ ${max}`].filter((b) => b !== '');
      throw this.usage(`--${name} must be ${integer ? 'an integer' : 'a number'}${bounds.length === 0 ? '' : ` ${bounds.join(' and ')}`}, got "${raw}"`);
    }
    return n;
  }

  /** `--target` (or `--from`): "kafka", or a base URL without its trailing slashes. */
  target(raw: string | undefined, flag = 'target'): string | undefined {
    const target = raw?.replace(/\/+$/, '');
    if (target !== undefined && target !== 'kafka' && !/^https?:\/\/[^/]/.test(target)) throw this.usage(`--${flag} must be an http(s) URL or kafka, got "${target}"`);
    return target;
  }
}

/**
 * `rtds <group> <sub-command> <operands>` (rtds models activate v3): the sub-command — the first
 * of `operands` when none is named — and its operands, each sub-command's named in `operands`;
 * undefined once the group's usage is printed for --help.
 */
export function parseSubcommand<S extends string>(group: string, help: string, args: readonly string[], operands: Readonly<Record<S, readonly string[]>>): { command: S; operands: string[] } | undefined {
  const named = args[0] !== undefined && !args[0].startsWith('-');
  const command = (named ? args[0] : Object.keys(operands)[0]) as S;
  if (!Object.hasOwn(operands, command)) {
    const line = new CommandLine(group, help);
    if (helpAsked(args)) return void line.printHelp();
    throw line.usage(`unknown command "${command}"`);
  }
  const parsed = new CommandLine(`${group} ${command}`, help).parse(named ? args.slice(1) : args, {}, operands[command]);
  return parsed === undefined ? undefined : { command, operands: parsed.operands };
}

/**
 * `--count -5` as `--count=-5`: parseArgs would take -5 for a flag of its own; joined, the value
 * reaches the flag's own check, which says what it must be.
 */
function negativeValuesJoined(args: readonly string[], flags: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && flags[name]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** parseArgs's refusal in a few words: its own messages run over several lines and suggest its own syntax. */
function parseProblem(err: unknown, args: readonly string[]): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? message.split('\n')[0]}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      if (option === undefined) break;
      const next = args[args.indexOf(option) + 1];
      // `--count -5`: parseArgs reads -5 as a flag of its own.
      if (next !== undefined && next.startsWith('-') && next !== '--') return `${option} ${next}: a value that begins with "-" is written ${option}=${next}`;
      if (/argument missing/.test(message)) return `${option} needs a value`;
      if (/does not take an argument/.test(message)) return `${option} takes no value`;
    }
  }
  return message.split('\n')[0]!.replace(/\.$/, '');
}
