import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createLogger, ModuleLevelsError, moduleLogger, parseModuleLevels } from '../../src/observe/index.ts';

/** A root logger at `level` writing into `lines`, as pino writes to stdout. */
function capture(level: string): { lines: { level: number; module?: string; msg: string }[]; root: ReturnType<typeof createLogger> } {
  const lines: { level: number; module?: string; msg: string }[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { lines, root: createLogger(level, out) };
}

describe('log levels per module', () => {
  it('lets one module log below the root level and holds another above it; the rest follow the root', () => {
    const { lines, root } = capture('info');
    const levels = parseModuleLevels('store=debug, kafka=warn');
    for (const module of ['store', 'kafka', 'api'] as const) {
      const log = moduleLogger(root, module, levels);
      log.debug(`${module} debug`);
      log.info(`${module} info`);
      log.warn(`${module} warn`);
    }
    assert.deepEqual(
      lines.map((l) => [l.module, l.msg]),
      [
        ['store', 'store debug'],
        ['store', 'store info'],
        ['store', 'store warn'],
        ['kafka', 'kafka warn'],
        ['api', 'api info'],
        ['api', 'api warn'],
      ],
    );
  });

  it('silences a module entirely, and leaves the root alone', () => {
    const { lines, root } = capture('warn');
    moduleLogger(root, 'generator', { generator: 'silent' }).error('dropped');
    root.info('below the root level');
    root.warn('kept');
    assert.deepEqual(lines.map((l) => l.msg), ['kept']);
  });

  it('refuses an unknown module, an unknown level or a malformed entry, naming it', () => {
    assert.deepEqual(parseModuleLevels(''), {});
    assert.throws(() => parseModuleLevels('storage=debug'), (e: unknown) => e instanceof ModuleLevelsError && /unknown module "storage": one of app, api/.test(e.message));
    assert.throws(() => parseModuleLevels('store=loud'), /store: level must be one of fatal, error/);
    assert.throws(() => parseModuleLevels('store'), /"store" must be module=level/);
    assert.throws(() => parseModuleLevels('store=debug=trace'), /must be module=level/);
    assert.throws(
      () => loadConfig({}, { RTDS_LOG_LEVELS: 'store=loud' }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith('RTDS_LOG_LEVELS="store=loud"'),
    );
    assert.deepEqual(loadConfig({}, { RTDS_LOG_LEVELS: 'api=warn,model=debug' }).logLevels, { api: 'warn', model: 'debug' });
  });
});
