import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { parseApiKeys, type ApiKey } from '../../src/api/api-keys.ts';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { defaultRuleSet } from '../../src/decide/index.ts';
import { launchBrowser, screenshotWidths } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

interface Decided {
  decision: string;
  rules_version: string;
  reasons: { code: string; message: string }[];
}

const T0 = Date.parse('2026-11-30T09:00:00Z');
let sent = 0;
/** A web payment by a user of its own: the same amount gets the same features, so the same score, every time. */
const payment = (amount: number, extra: Record<string, string> = {}) => {
  sent++;
  return { event_id: `adm-${sent}`, event_type: 'transaction', timestamp: T0 + sent * 1000, user_id: `adm-user-${sent}`, amount, channel: 'web', country: 'DE', ...extra };
};

/** A candidate that rejects payments above 2,000 and otherwise decides by the built-in thresholds, as YAML. */
const OVER_2000 = `version: over-2000
thresholds:
  default: 0.7
rules:
  - id: over_2000
    kind: condition
    when: event.amount > 2000.0
    outcome: rejected
    message: amount {event.amount} over 2000
`;
/** Two schema problems: a threshold above 1 and an amount limit without its max. */
const INVALID = `version: broken-1
thresholds:
  default: 3
rules:
  - id: no_max
    kind: amount_limit
    outcome: flagged
`;

/** Wait until the element at `selector` says `text`. */
const waitForText = (page: Page, selector: string, text: string): Promise<unknown> =>
  page.waitForFunction(([s, t]) => document.querySelector(s!)?.textContent?.includes(t!) === true, [selector, text]);

const cells = (page: Page, selector: string): Promise<string[]> => page.$$eval(`${selector} td`, (tds) => tds.map((td) => td.textContent ?? ''));
const count = (cell: string): number => Number(/^[\d,]+/.exec(cell)![0].replace(/,/g, ''));

/**
 * Inside a describe: an embedded RTDS without the generator on a throw-away PostgreSQL database
 * (quicker to start than PGlite), and a browser; `skip` says why there is none.
 */
function testbed(apiKeys: ApiKey[] = []): { readonly app: RunningApp; readonly browser: Browser; readonly skip: string | undefined } {
  const bed: { app?: RunningApp; browser?: Browser; skip?: string } = {};
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  before(async () => {
    const [launched, made] = await Promise.all([launchBrowser(), createTestDatabase()]);
    if (!('skip' in launched)) bed.browser = launched;
    if (!('skip' in made)) database = made;
    bed.skip = 'skip' in launched ? launched.skip : 'skip' in made ? made.skip : undefined;
    if (bed.skip !== undefined) return;
    dataDir = mkdtempSync(path.join(tmpdir(), 'rtds-admin-'));
    // Changes apply through the API's own follow: no background poll races the test.
    bed.app = await startApp(loadConfig({ dataDir, databaseUrl: database!.url, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, rulesPollMs: 3_600_000, apiKeys }, {}));
  });
  after(async () => {
    await bed.browser?.close();
    await bed.app?.stop();
    await database?.drop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get app() {
      return bed.app!;
    },
    get browser() {
      return bed.browser!;
    },
    get skip() {
      return bed.skip;
    },
  };
}

function watchErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  return problems;
}

describe('the admin page in a real browser', () => {
  const bed = testbed();
  const call = async (method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${bed.app.url}${url}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: await res.json() };
  };
  const decide = async (event: object): Promise<Decided> => {
    const { status, body } = await call('POST', '/api/v1/decide', event);
    assert.equal(status, 200);
    return body as Decided;
  };


  it('shows each problem of a refused rule set by its path beside the text, and stores nothing', async (t) => {
    if (bed.skip !== undefined) return t.skip(bed.skip);
    const page = await bed.browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${bed.app.url}/admin`);
    await waitForText(page, '#rules-state', 'Deciding with builtin-1');

    await page.fill('#rule-text', INVALID);
    await page.click('#rule-form button[type=submit]');
    await page.waitForSelector('#rule-problems li');
    const shown = await page.$$eval('#rule-problems li', (lis) => lis.map((li) => ({ path: li.querySelector('code.path')?.textContent, text: li.textContent })));
    // The page lists exactly what the API answers for the same text, each problem under its path.
    const answer = await fetch(`${bed.app.url}/api/v1/rules`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: INVALID });
    assert.equal(answer.status, 422);
    const { problems } = (await answer.json()) as { problems: string[] };
    assert.deepEqual(
      shown.map((p) => p.text),
      problems,
    );
    assert.ok(shown.some((p) => p.path === '/thresholds/default' && p.text!.includes('must be <= 1')), JSON.stringify(shown));
    assert.ok(shown.some((p) => p.path === '/rules/0' && p.text!.includes("'max'")), JSON.stringify(shown));
    assert.equal(await page.getAttribute('#rule-text', 'aria-invalid'), '');
    assert.match((await page.textContent('#rules-status'))!, new RegExp(`Invalid: the rule set was not stored: ${problems.length} problems, listed beside the text`));

    await page.click('#rule-rollback');
    await waitForText(page, '#rules-status', 'nothing to roll back to');
    assert.match((await page.textContent('#rules-status'))!, /^Refused: no rule set was active before none/);
    assert.match((await page.textContent('#rule-versions'))!, /No rule set is stored yet/);
    assert.deepEqual(((await call('GET', '/api/v1/rules')).body as { versions: unknown[] }).versions, [], 'nothing refused was stored');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('stores a rule set from a file, backtests it, activates it so decisions switch, and rolls back to the old outcome', async (t) => {
    if (bed.skip !== undefined) return t.skip(bed.skip);
    // A stored baseline, active: what the rollback returns to.
    await call('POST', '/api/v1/rules', { ...defaultRuleSet(bed.app.config.threshold), version: 'baseline' });
    assert.equal((await call('POST', '/api/v1/rules/baseline/activate')).status, 200);
    const amounts = [120, 900, 2500, 40, 3100, 2001, 1999, 2500];
    const events = amounts.map((amount) => payment(amount));
    const history = await Promise.all(events.map(async (e) => ({ amount: e.amount, decision: (await decide(e)).decision })));
    const passed = history.at(-1)!;
    assert.notEqual(passed.decision, 'rejected', 'a payment of 2,500 passes the baseline');
    // Labelled: fraud above 1,000, so precision and recall differ between live and candidate.
    const fraud = amounts.map((a) => a > 1000);
    assert.equal((await call('POST', '/api/v1/labels', events.map((e, i) => ({ event_id: e.event_id, is_fraud: fraud[i] })))).status, 202);
    await bed.app.sink.flush();

    const page = await bed.browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${bed.app.url}/admin`);
    await waitForText(page, '#rules-state', 'Deciding with baseline');
    await page.setInputFiles('#rule-file', { name: 'over-2000.yaml', mimeType: 'text/yaml', buffer: Buffer.from(OVER_2000) });
    await page.waitForFunction(() => (document.getElementById('rule-text') as HTMLTextAreaElement).value.startsWith('version: over-2000'));
    await page.click('#rule-form button[type=submit]');
    await waitForText(page, '#rules-status', 'Stored over-2000');
    await page.waitForSelector('#rule-versions tr[data-version="over-2000"]');

    await page.click('button[aria-label="View over-2000"]');
    await page.waitForSelector('#rule-view pre');
    const stored = (await call('GET', '/api/v1/rules/over-2000')).body;
    assert.deepEqual(JSON.parse((await page.textContent('#rule-view pre'))!), stored);
    await page.click('#rule-view button');
    assert.deepEqual(JSON.parse(await page.inputValue('#rule-text')), stored, 'a new version starts from the stored body');

    // The report, against what the candidate must decide: reject above 2,000, the decision made otherwise.
    await page.click('button[aria-label="Backtest over-2000"]');
    await page.waitForSelector('#backtest-report .report');
    const candidate = history.map((h) => (h.amount > 2000 ? 'rejected' : h.decision));
    for (const outcome of ['approved', 'flagged', 'rejected']) {
      const [live, cand] = await cells(page, `#backtest-report tr[data-outcome="${outcome}"]`);
      assert.equal(count(live!), history.filter((h) => h.decision === outcome).length, `live ${outcome}`);
      assert.equal(count(cand!), candidate.filter((c) => c === outcome).length, `candidate ${outcome}`);
    }
    const [hits] = await cells(page, '#backtest-report tr[data-rule="over_2000"]');
    assert.equal(count(hits!), amounts.filter((a) => a > 2000).length);
    const stopped = (outcomes: string[]) => ({ caught: outcomes.filter((o, i) => o !== 'approved' && fraud[i]).length, missed: outcomes.filter((o, i) => o === 'approved' && fraud[i]).length });
    for (const [measure, key] of [['fraud stopped', 'caught'], ['fraud approved', 'missed']] as const) {
      const [live, cand] = await cells(page, `#backtest-report tr[data-measure="${measure}"]`);
      assert.equal(count(live!), stopped(history.map((h) => h.decision))[key], `live ${measure}`);
      assert.equal(count(cand!), stopped(candidate)[key], `candidate ${measure}`);
    }
    const moves = await page.$$eval('#backtest-report tr[data-move]', (trs) => Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.move, Number(tr.querySelector('td')!.textContent)])));
    const expectedMoves: Record<string, number> = {};
    history.forEach((h, i) => {
      if (h.decision !== candidate[i]) expectedMoves[`${h.decision}→${candidate[i]}`] = (expectedMoves[`${h.decision}→${candidate[i]}`] ?? 0) + 1;
    });
    assert.ok(Object.keys(expectedMoves).length > 0);
    assert.deepEqual(moves, expectedMoves);
    assert.match((await page.textContent('#backtest-report'))!, new RegExp(`${history.length} stored decisions replayed through over-2000`));

    await page.click('button[aria-label="Activate over-2000"]');
    await waitForText(page, '#rules-status', 'Activated over-2000');
    await waitForText(page, '#rules-served', 'over-2000');
    assert.equal(await page.isDisabled('button[aria-label="Activate over-2000"]'), true, 'the active version is not activated again');
    assert.match((await page.textContent('#rule-versions tr[data-version="over-2000"]'))!, /active/);
    assert.deepEqual(await page.$$eval('#rule-activations li b', (bs) => bs.map((b) => b.textContent)), ['over-2000', 'baseline']);
    const switched = await decide(payment(2500));
    assert.equal(switched.decision, 'rejected');
    assert.equal(switched.rules_version, 'over-2000');
    assert.ok(switched.reasons.some((r) => r.code === 'over_2000' && r.message === 'amount 2500 over 2000'), JSON.stringify(switched.reasons));

    const overflow = await screenshotWidths(page, 'admin');
    assert.deepEqual(overflow, { 390: 0, 1440: 0 }, 'no sideways scroll at 390 or 1440 px');

    // By keyboard, as without a mouse.
    await page.focus('#rule-rollback');
    await page.keyboard.press('Enter');
    await waitForText(page, '#rules-status', 'Rolled back to baseline');
    await waitForText(page, '#rules-served', 'baseline');
    const back = await decide(payment(2500));
    assert.equal(back.decision, passed.decision, 'the old outcome again');
    assert.equal(back.rules_version, 'baseline');
    assert.ok(!back.reasons.some((r) => r.code === 'over_2000'));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('blocks a merchant from the page so its events are rejected, and approves them again once removed', async (t) => {
    if (bed.skip !== undefined) return t.skip(bed.skip);
    const shady = { merchant_id: 'm-shady' };
    assert.equal((await decide(payment(25, shady))).decision, 'approved', 'decided by its score before it is listed');

    const page = await bed.browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${bed.app.url}/admin`);
    await waitForText(page, '#list-block h3', 'Block list — 0 entries');
    const version = Number(await page.textContent('#lists-version'));
    await page.selectOption('#list-kind', 'block');
    await page.selectOption('#list-field', 'merchant_id');
    await page.fill('#list-value', 'm-shady');
    await page.click('#list-form button[type=submit]');
    await page.waitForSelector('#list-block tr[data-field="merchant_id"][data-value="m-shady"]');
    await waitForText(page, '#lists-status', 'Added merchant_id m-shady to the block list');
    assert.equal(Number(await page.textContent('#lists-version')), version + 1);
    assert.equal(await page.inputValue('#list-value'), '', 'the form is ready for the next entry');

    const blocked = await decide(payment(25, shady));
    assert.equal(blocked.decision, 'rejected');
    assert.ok(blocked.reasons.some((r) => r.code === 'block_list'));
    assert.equal((await decide(payment(25))).decision, 'approved', 'other merchants are untouched');

    await page.click('button[aria-label="Remove merchant_id m-shady from the block list"]');
    await waitForText(page, '#lists-status', 'Removed merchant_id m-shady from the block list');
    await waitForText(page, '#list-block h3', 'Block list — 0 entries');
    assert.equal(Number(await page.textContent('#lists-version')), version + 2);
    assert.equal((await decide(payment(25, shady))).decision, 'approved');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('the admin page with API keys', () => {
  const KEYS = { admin: 'admin-key-0123456789', read: 'read-key-0123456789a' };
  const bed = testbed(parseApiKeys(`admin:${KEYS.admin},read:${KEYS.read}`));
  const asAdmin = (method: string, url: string, body?: unknown): Promise<Response> =>
    fetch(`${bed.app.url}${url}`, { method, headers: { authorization: `Bearer ${KEYS.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });


  /** Enter `key` through the header's dialog, reached from the page's Access section. */
  async function enterKey(page: Page, key: string, role: string): Promise<void> {
    await page.click('#access-key');
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', key);
    await page.click('#key-dialog button[value=save]');
    await waitForText(page, '#access-role', `the ${role} role`);
  }

  it('refuses activation with a read key and says why, then activates with an admin key', async (t) => {
    if (bed.skip !== undefined) return t.skip(bed.skip);
    assert.equal((await asAdmin('POST', '/api/v1/rules', { version: 'keyed-1', thresholds: { default: 0.9 }, rules: [] })).status, 201);
    const page = await bed.browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${bed.app.url}/admin`);
    await waitForText(page, '#access-role', 'no role');
    assert.match((await page.textContent('#rules-state'))!, /No valid API key: an API key with the read role is required/);

    await enterKey(page, KEYS.read, 'read');
    assert.equal(await page.textContent('#access tr[data-role="read"] td:last-child'), 'this tab’s key');
    assert.equal(await page.textContent('#access tr[data-role="admin"] td:last-child'), '');
    await page.waitForSelector('#rule-versions tr[data-version="keyed-1"]');
    await page.click('button[aria-label="Activate keyed-1"]');
    await waitForText(page, '#rules-status', 'Not allowed');
    assert.match((await page.textContent('#rules-status'))!, /Not allowed: this API key has the read role; POST \/api\/v1\/rules\/:version\/activate needs admin/);
    assert.equal(((await (await asAdmin('GET', '/api/v1/rules')).json()) as { active: string | null }).active, null, 'nothing was activated');
    const refused = await screenshotWidths(page, 'admin-read-key');
    assert.deepEqual(refused, { 390: 0, 1440: 0 });

    await enterKey(page, KEYS.admin, 'admin');
    await page.click('button[aria-label="Activate keyed-1"]');
    await waitForText(page, '#rules-status', 'Activated keyed-1');
    assert.equal(((await (await asAdmin('GET', '/api/v1/rules')).json()) as { active: string | null }).active, 'keyed-1');
    assert.ok(!page.url().includes(KEYS.admin) && !page.url().includes(KEYS.read), 'the key is never in the URL');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
