// `rtds capture` from a running RTDS: the traffic it took in, recorded in rotated JSONL files, replays into a fresh instance to the same decisions.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { runCapture } from '../../src/cli/capture.ts';
import { runReplay } from '../../src/cli/replay.ts';
import { loadConfig } from '../../src/config/index.ts';
import { runCommand } from '../support/command.ts';
import { collectDecisions } from '../support/decisions.ts';
import { waitFor } from '../support/wait.ts';

const USERS = 12;
const EVENTS = 240;
/** Two hours ago to 40 minutes ago: every verdict below (20 minutes ago) is known by now, and none reaches back into the events' windows. */
const BEGIN = Date.now() - 2 * 3_600_000;
const LABELED_AT = new Date(Date.now() - 20 * 60_000).toISOString();

/**
 * Traffic whose every feature is keyed by something of one user (their own merchant and
 * devices): each decision then depends on that user's events in order alone, which a replay
 * keeps, not on how the log's partitions interleave.
 */
function traffic(): Record<string, unknown>[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const user = `cap-user-${i % USERS}`;
    const kind = i % 7;
    const base = { event_id: `cap-${i}`, user_id: user, timestamp: new Date(BEGIN + i * 20_000 - (i % 3) * 1500).toISOString(), device_id: `${user}-dev-${i % 5 === 0 ? 1 : 0}`, country: i % 11 === 0 ? 'FR' : 'DE' };
    if (kind === 0) return { ...base, event_type: 'login', channel: 'web' };
    if (kind === 1) return { ...base, event_type: 'withdrawal', channel: 'atm', amount: i % 2 === 0 ? 2500 : 200, currency: 'EUR' };
    if (kind === 2 && i % 4 === 0) return { ...base, event_type: 'password_change', channel: 'web' };
    return { ...base, event_type: 'transaction', channel: i % 2 === 0 ? 'web' : 'pos', amount: 10 + ((i * 37) % 900) * (i % 13 === 0 ? 40 : 1), currency: 'EUR', merchant_id: `${user}-shop`, ...(i === 101 ? { country: 'KP' } : {}) };
  });
}

const labels = Array.from({ length: 30 }, (_, k) => ({ event_id: `cap-${k * 8}`, is_fraud: k % 3 === 0, labeled_at: LABELED_AT }));

function config(dataDir: string): ReturnType<typeof loadConfig> {
  return loadConfig({ dataDir, port: 0, generator: false, trainOnStart: false, logLevel: 'silent', sinkFlushMs: 5, logDurability: 'memory' }, {});
}

async function post(app: RunningApp, route: string, body: unknown): Promise<Response> {
  return fetch(`${app.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The recording's lines, in file order. */
async function recorded(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).sort();
  const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
  return texts.flatMap((text) => text.split('\n').filter((line) => line !== ''));
}

/** Each decision's outcome, score and reason codes, by event id, once every event is decided. */
async function outcomes(app: RunningApp, ids: readonly string[]): Promise<Map<string, unknown>> {
  await app.sink.flush();
  const rows = await app.db.query<{ event_id: string; decision: string; risk_score: number; reasons: { code: string }[] }>('SELECT event_id, decision, risk_score, reasons FROM decisions WHERE event_id = ANY($1)', [ids]);
  return new Map(rows.map((r) => [r.event_id, { decision: r.decision, risk_score: r.risk_score, reasons: r.reasons.map((x) => x.code) }]));
}

describe('rtds capture from a running RTDS, replayed into a fresh one', () => {
  let dir: string;
  let original: RunningApp;
  let fresh: RunningApp | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rtds-capture-'));
    original = await startApp(config(path.join(dir, 'original')));
  });
  after(async () => {
    await original.stop();
    await fresh?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('records what the instance accepted — events as sent, labels — in rotated files; replayed into a fresh instance, each event gets the same decision', async () => {
    const out = path.join(dir, 'recording');
    const capture = runCommand(['capture', '--from', original.url, '--labels', '--out', out, '--rotate-lines', '100']);
    await capture.said(/capture: recording .* into /, 30_000);

    const events = traffic();
    const decided = collectDecisions(original);
    for (let i = 0; i < EVENTS; i += 60) assert.equal((await post(original, '/api/v1/events', events.slice(i, i + 60))).status, 202);
    // Neither refused events nor a re-send of a decided one reach the log: neither is recorded.
    assert.equal((await post(original, '/api/v1/events', [{ event_id: 'cap-bad', event_type: 'transaction', user_id: 'x' }])).status, 400);
    await decided.reached(EVENTS);
    assert.equal((await post(original, '/api/v1/events', events[0])).status, 202);
    assert.equal((await post(original, '/api/v1/labels', labels)).status, 202);

    const lines = await waitFor('every event and label recorded', 20_000, async () => {
      const now = await recorded(out);
      return now.length >= EVENTS + labels.length ? now : undefined;
    });
    capture.child.kill('SIGTERM');
    assert.equal(await capture.exited, 0, capture.stderr());
    assert.match(capture.stderr(), /capture: stopped: 240 events \([\d,]+\/s\), 30 labels, [\d,]+ bytes in 3 files: /);

    assert.deepEqual(await readdir(out), ['capture-000001.jsonl', 'capture-000002.jsonl', 'capture-000003.jsonl']);
    assert.equal(lines.length, EVENTS + labels.length, 'nothing more: not the refused event, not the re-send');
    const values = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const recordedEvents = values.filter((v) => !('label' in v));
    // Each user's events in the order sent (the log keeps a user's order, not the order across users).
    const byUser = (list: Record<string, unknown>[]): Map<string, unknown[]> => {
      const users = new Map<string, unknown[]>();
      for (const e of list) users.set(e.user_id as string, [...(users.get(e.user_id as string) ?? []), e]);
      return users;
    };
    assert.deepEqual(byUser(recordedEvents), byUser(events));
    assert.deepEqual(
      values.filter((v) => 'label' in v),
      labels.map((label) => ({ label })),
    );

    const before = await outcomes(original, events.map((e) => e.event_id as string));
    const mix = new Set([...before.values()].map((o) => (o as { decision: string }).decision));
    assert.ok(mix.size >= 2, `the traffic is decided more than one way: ${[...mix].join(', ')}`);

    fresh = await startApp(config(path.join(dir, 'fresh')));
    const replayed = collectDecisions(fresh);
    const tally = await runReplay(['--in', out, '--target', fresh.url, '--quiet']);
    assert.deepEqual(tally, { lines: EVENTS + labels.length, delivered: EVENTS + labels.length, labels: labels.length, heldBack: 0 });
    await replayed.reached(EVENTS);
    assert.deepEqual(await outcomes(fresh, events.map((e) => e.event_id as string)), before);
    const stored = await fresh.db.query<{ event_id: string; is_fraud: boolean }>("SELECT event_id, is_fraud FROM labels WHERE event_id LIKE 'cap-%' ORDER BY event_id");
    assert.deepEqual(
      stored,
      labels.map((l) => ({ event_id: l.event_id, is_fraud: l.is_fraud })).sort((a, b) => a.event_id.localeCompare(b.event_id)),
    );
  });

  it('ends with exit 0 and its files whole when the instance stops', async () => {
    const instance = fresh!;
    const out = path.join(dir, 'until-stopped');
    const capture = runCommand(['capture', '--from', instance.url, '--out', out]);
    await capture.said(/capture: recording /, 30_000);
    const last = { event_id: 'cap-last', event_type: 'login', user_id: 'cap-user-0', timestamp: new Date().toISOString() };
    assert.equal((await post(instance, '/api/v1/events', last)).status, 202);
    await waitFor('the event recorded', 20_000, async () => ((await recorded(out)).length === 1 ? true : undefined));
    await instance.stop();
    assert.equal(await capture.exited, 0, capture.stderr());
    assert.match(capture.stderr(), /capture: the instance closed the stream \(it is stopping\): 1 events/);
    assert.deepEqual((await recorded(out)).map((line) => JSON.parse(line) as unknown), [last]);
  });

  it('--max-bytes stops the recording before the line that would pass it, and exits 0 with the files whole', async () => {
    const out = path.join(dir, 'capped');
    const capture = runCommand(['capture', '--from', original.url, '--out', out, '--max-bytes', '1k', '--rotate-bytes', '600']);
    await capture.said(/capture: recording /, 30_000);
    const events = Array.from({ length: 20 }, (_, i) => ({ event_id: `capped-${i}`, event_type: 'login', user_id: `capped-user-${i}`, timestamp: new Date(BEGIN + i).toISOString() }));
    assert.equal((await post(original, '/api/v1/events', events)).status, 202);
    assert.equal(await capture.exited, 0, capture.stderr());
    assert.match(capture.stderr(), /capture: stopped at --max-bytes/);
    const files = await readdir(out);
    const sizes = await Promise.all(files.map(async (f) => (await readFile(path.join(out, f))).length));
    const lines = await recorded(out);
    const lineBytes = Buffer.byteLength(`${lines[0]}\n`);
    assert.ok(files.length >= 2 && sizes.every((n) => n <= 600), `rotated below 600 bytes: ${sizes.join(', ')}`);
    assert.ok(sizes.reduce((a, b) => a + b, 0) <= 1024 && sizes.reduce((a, b) => a + b, 0) > 1024 - lineBytes - 20, `filled up to the cap: ${sizes.join(', ')}`);
    assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), events.slice(0, lines.length), 'the first events, whole');
  });

  it('refuses a folder that holds a recording, an unreachable instance and bad sizes in one line each', async () => {
    const out = path.join(dir, 'recording');
    await assert.rejects(runCapture(['--from', original.url, '--out', out]), /^CommandError: rtds capture: .*recording holds a recording already \(capture-000001\.jsonl … capture-000003\.jsonl\)/);
    await assert.rejects(runCapture(['--from', 'http://127.0.0.1:1', '--out', path.join(dir, 'nowhere')]), /rtds capture: cannot reach http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    await assert.rejects(runCapture(['--from', original.url, '--out', path.join(dir, 'x'), '--rotate-bytes', '12 parsecs']), /--rotate-bytes must be a whole number of bytes/);
    await assert.rejects(runCapture(['--out', path.join(dir, 'x')]), /--from <url> of a running RTDS, or --from kafka/);
    await assert.rejects(runCapture(['--from', 'kafka', '--out', path.join(dir, 'x'), '--api-key', 'k']), /--api-key goes with --from <url>/);
  });
});
