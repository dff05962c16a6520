// Structured JSON logs (pino); a child logger per module, at the module's own level when one is configured, and per event its event_id.
import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The parts of RTDS that log, each under its own name (the `module` field of its lines). */
export const LOG_MODULES = {
  app: 'starting, stopping, the first model',
  api: 'HTTP requests: refusals, failures',
  process: 'the processor: decisions at debug, dead letters',
  store: 'store writes, claims and their retries',
  kafka: 'the Kafka transport: consumer groups, transactions, topics',
  log: 'the embedded log',
  model: 'the served model: switches, circuit breaker, scoring failures',
  rules: 'rule sets and block and allow lists',
  labels: 'the label feed and labels topic',
  generator: 'the in-process traffic generator',
} as const;
export type LogModule = keyof typeof LOG_MODULES;

/** Levels of some modules, overriding the root level for them. */
export type ModuleLevels = Partial<Record<LogModule, LogLevel>>;

export class ModuleLevelsError extends Error {
  override readonly name = 'ModuleLevelsError';
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'rtds' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** `module=level,module=level` (RTDS_LOG_LEVELS); empty means every module at the root level. */
export function parseModuleLevels(raw: string): ModuleLevels {
  const levels: ModuleLevels = {};
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const [module, level, extra] = entry.split('=').map((part) => part.trim());
    if (level === undefined || extra !== undefined) throw new ModuleLevelsError(`"${entry}" must be module=level`);
    if (!(module! in LOG_MODULES)) throw new ModuleLevelsError(`unknown module "${module}": one of ${Object.keys(LOG_MODULES).join(', ')}`);
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ModuleLevelsError(`${module}: level must be one of ${LOG_LEVELS.join(', ')}`);
    levels[module as LogModule] = level as LogLevel;
  }
  return levels;
}

/** The logger of one module: a child of `root` naming it, at its configured level (lower or higher than the root's). */
export function moduleLogger(root: Logger, module: LogModule, levels: ModuleLevels): Logger {
  const level = levels[module];
  return root.child({ module }, level === undefined ? {} : { level });
}
