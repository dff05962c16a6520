import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Readiness } from '../../src/app/readiness.ts';
import { openDatabase } from '../../src/store/index.ts';

describe('readiness', () => {
  it('probes the embedded claims database too: a claim that cannot be answered means not ready', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-readiness-'));
    const db = await openDatabase({ dataDir });
    let clock = 0;
    const readiness = new Readiness(
      { db, sink: { health: () => ({ pending: 0, failingSince: undefined, lastError: undefined }) }, lag: () => 0, readRegistry: async () => null, accepting: () => true },
      { probeMs: 60_000, storeFailingMs: 1_000, maxSinkRows: 1_000_000, maxLag: 1_000_000 },
      () => clock,
    );
    try {
      // The claims' one connection is busy: the probe's question waits behind it, as every claim would.
      const busy = db.claims.query('SELECT pg_sleep(1.5)');
      readiness.start();
      // The main database answers in order: once this has, so has the probe's question to it.
      await db.query('SELECT 1');
      for (let i = 0; i < 5; i++) await turn();
      clock = 5_000;
      const held = readiness.report();
      assert.equal(held.ready, false);
      assert.match(held.reasons.join('; '), /probe unanswered for 5 s/);
      await busy;
      // Answered in order: once this has, so has the probe's question queued behind the sleep.
      await db.claims.query('SELECT 1');
      for (let i = 0; i < 5; i++) await turn();
      assert.deepEqual(readiness.report().reasons, []);
    } finally {
      await readiness.stop();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
