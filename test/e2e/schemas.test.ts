// GET /api/v1/schemas: the contracts' versions served as JSON Schema documents, and the decisions RTDS makes valid under the one it calls current.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { CONTRACT_NAMES, currentSchema, type PublishedDecision } from '../../src/contracts/index.ts';
import { collectDecisions } from '../support/decisions.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

describe('the contracts served over HTTP', () => {
  let app: RunningApp;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-schemas-'));
    app = await startApp(loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, logDurability: 'memory' }, {}));
  });
  after(async () => {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists each contract with its versions and the current one', async () => {
    const res = await fetch(`${app.url}/api/v1/schemas`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      schemas: CONTRACT_NAMES.map((name) => ({ name, versions: [1], current: 1, url: `/api/v1/schemas/${name}/1` })),
    });
  });

  it('serves each version as its JSON Schema document, with its $id; an unknown contract or version is 404 saying which exist', async () => {
    for (const name of CONTRACT_NAMES) {
      const res = await fetch(`${app.url}/api/v1/schemas/${name}/1`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/schema+json; charset=utf-8');
      const doc = (await res.json()) as { $id: string };
      assert.equal(doc.$id, `urn:rtds:contract:${name}:1`);
      assert.deepEqual(doc, currentSchema(name));
    }
    const noVersion = await fetch(`${app.url}/api/v1/schemas/event/2`);
    assert.equal(noVersion.status, 404);
    assert.deepEqual(await noVersion.json(), { error: 'the event contract has no version 2; versions 1 to 1' });
    const noContract = await fetch(`${app.url}/api/v1/schemas/invoice/1`);
    assert.equal(noContract.status, 404);
    assert.deepEqual(await noContract.json(), { error: 'no contract invoice; contracts: event, decision, label' });
    assert.equal((await fetch(`${app.url}/api/v1/schemas/event/latest`)).status, 400);
  });

  it('lists the routes in the OpenAPI document, the capture stream with them', async () => {
    const doc = (await (await fetch(`${app.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/api/v1/schemas'], 'the list');
    assert.ok(doc.paths['/api/v1/schemas/{name}/{version}'], 'one version');
    assert.ok(doc.paths['/api/v1/capture'], 'the capture stream');
  });

  it('decisions as /decide answers them and as the live feed publishes them are valid under the current decision schema', async () => {
    const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
    const valid = ajv.compile(currentSchema('decision'));
    const { decided, reached } = collectDecisions(app);
    const res = await fetch(`${app.url}/api/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event_id: 'schema-1', event_type: 'withdrawal', user_id: 'alice', amount: 2500, currency: 'EUR', channel: 'atm', country: 'DE' }),
    });
    assert.equal(res.status, 200);
    const answered = (await res.json()) as PublishedDecision;
    assert.ok(valid(answered), JSON.stringify(valid.errors));
    assert.ok(answered.reasons.length > 0, 'with its reasons');
    await reached(1);
    const published = decided.get('schema-1')!;
    assert.ok(valid(published), JSON.stringify(valid.errors));
    // A decision without a field the contract requires is not one.
    const { risk_score: _dropped, ...incomplete } = published;
    assert.equal(valid(incomplete), false);
  });
});
