// `rtds replay`: recorded lines go back into a running RTDS one for one — valid events decided, broken ones dead-lettered with the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, type RunningApp } from '../../src/app/index.ts';
import { runGenerate } from '../../src/cli/generate.ts';
import { readLine, replaySchedule, runReplay } from '../../src/cli/replay.ts';
import { loadConfig } from '../../src/config/index.ts';

const T0 = Date.parse('2026-11-26T09:00:00Z');

function event(id: string, offsetMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { event_id: id, event_type: 'transaction', timestamp: new Date(T0 + offsetMs).toISOString(), user_id: `user-${id}`, amount: 25, currency: 'EUR', channel: 'web', country: 'DE', ...extra };
}

const jsonl = (lines: readonly unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

describe('readLine', () => {
  it('keeps a bare event untouched, keyed by its user, timed by its timestamp', () => {
    const text = JSON.stringify(event('r-1', 1000));
    assert.deepEqual(readLine(text), { event: { key: 'user-r-1', value: text, json: text }, eventTime: T0 + 1000, label: undefined, labeledAt: undefined });
  });

  it('takes the event and the label out of a --with-labels line', () => {
    const line = readLine(JSON.stringify({ event: event('r-2', 0), label: { event_id: 'r-2', is_fraud: true }, scenario: 'card_testing' }));
    assert.equal(line.event?.key, 'user-r-2');
    assert.deepEqual(JSON.parse(line.event!.value), event('r-2', 0));
    assert.deepEqual(line.label, { key: 'r-2', value: '{"event_id":"r-2","is_fraud":true}' });
  });

  it('takes a label alone out of a `rtds capture --labels` line, with no event to deliver; --retime moves its labeled_at', () => {
    const label = { event_id: 'r-3', is_fraud: false, labeled_at: new Date(T0).toISOString() };
    assert.deepEqual(readLine(JSON.stringify({ label })), { event: undefined, eventTime: undefined, label: { key: 'r-3', value: JSON.stringify(label) }, labeledAt: T0 });
    const moved = readLine(JSON.stringify({ label }), () => 60_000);
    assert.equal(moved.labeledAt, T0 + 60_000);
    assert.equal(JSON.parse(moved.label!.value).labeled_at, new Date(T0 + 60_000).toISOString());
  });

  it('keeps a line that is not JSON as it is: the raw value for Kafka with no key, a JSON string for HTTP', () => {
    const text = '{"event_id": "broken", ';
    assert.deepEqual(readLine(text), { event: { key: '', value: text, json: JSON.stringify(text) }, eventTime: undefined, label: undefined, labeledAt: undefined });
    // As rtds capture records such a Kafka record: the same delivery again.
    assert.deepEqual(readLine(JSON.stringify(text)), readLine(text));
  });
});

describe('replaySchedule', () => {
  it('--speed divides the event-time gaps from the first timed line; untimed and earlier lines are due at once', () => {
    const due = replaySchedule({ speed: 10 });
    assert.deepEqual(
      [T0 + 5000, T0 + 6000, undefined, T0 + 5500, T0 + 4000, T0 + 25_000].map((t) => due(t)),
      [0, 100, undefined, 50, -100, 2000],
    );
    assert.equal(replaySchedule({ speed: 0.5 })(T0), 0);
  });

  it('--rate spaces lines evenly whatever their timestamps', () => {
    const due = replaySchedule({ rate: 4 });
    assert.deepEqual([T0, undefined, T0 - 9000, T0].map((t) => due(t)), [0, 250, 500, 750]);
  });

  it('without pacing every line is due at once', () => {
    assert.equal(replaySchedule(undefined)(T0), undefined);
  });
});

describe('runReplay arguments', () => {
  it('refuses --rate with --speed, a missing --target or --in, a bad target and a missing file', async () => {
    await assert.rejects(runReplay(['--in', 'x.jsonl', '--target', 'kafka', '--rate', '10', '--speed', '2']), /--rate and --speed exclude each other/);
    await assert.rejects(runReplay(['--in', 'x.jsonl']), /--target <url>.*--target kafka/);
    await assert.rejects(runReplay(['--target', 'kafka']), /--in <file\|folder> is required/);
    await assert.rejects(runReplay(['--in', 'x.jsonl', '--target', 'ftp://host']), /--target must be an http\(s\) URL or kafka/);
    await assert.rejects(runReplay(['--in', path.join(tmpdir(), 'rtds-replay-missing.jsonl'), '--target', 'http://127.0.0.1:1']), /cannot read --in .*ENOENT/);
    await assert.rejects(runReplay(['--in', 'x.jsonl', '--target', 'kafka', '--speed', '0']), /--speed must be a number > 0/);
  });
});

describe('runReplay against the live stream: the lateness warning and --retime', () => {
  let server: Server;
  let url: string;
  let dir: string;
  /** The bodies POSTed, by route. */
  const received: { route: string; items: unknown[] }[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rtds-retime-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ route: req.url ?? '', items: JSON.parse(body) as unknown[] });
        res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  /** Replay `lines` with `args`; what went out and what was said on stderr. */
  async function replayed(lines: readonly unknown[], args: string[]): Promise<{ events: unknown[]; labels: Record<string, unknown>[]; stderr: string }> {
    const file = path.join(dir, `rec-${received.length}.jsonl`);
    await writeFile(file, jsonl(lines));
    received.length = 0;
    let stderr = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
    try {
      await runReplay(['--in', file, '--target', url, '--quiet', ...args]);
    } finally {
      process.stderr.write = write;
    }
    const of = (route: string): unknown[] => received.filter((r) => r.route === route).flatMap((r) => r.items);
    return { events: of('/api/v1/events'), labels: of('/api/v1/labels') as Record<string, unknown>[], stderr };
  }

  const recording = [
    event('old-0', 0),
    { ...event('old-1', 1500), timestamp: T0 + 1500 },
    '{"event_id": "old-broken", ',
    { ...event('old-2', -500), timestamp: 'yesterday' },
    { event: event('old-3', 3000), label: { event_id: 'old-3', is_fraud: true, labeled_at: new Date(T0 + 3000 + 86_400_000).toISOString() }, scenario: 'card_testing' },
  ];

  it('warns, in one line on stderr, that a recording far behind now will be decided late, and sends it as it is', async () => {
    const { events, stderr } = await replayed(recording, []);
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    assert.match(stderr, /^replay: warning: the recording's latest event \(2026-11-26T09:00:03\.000Z\) is [\d.]+ days behind now, more than the 5 s .*decide its events late; --retime/);
    assert.deepEqual(events, [...recording.slice(0, 4), event('old-3', 3000)]);
  });

  it('--retime moves every timestamp by one offset so the latest event is now: gaps, forms and labels kept, unreadable lines untouched', async () => {
    const began = Date.now();
    const { events, labels, stderr } = await replayed(recording, ['--retime']);
    const ended = Date.now();
    assert.equal(stderr, '', 'no warning once retimed');
    assert.equal(events.length, 5);
    const [rfc, epoch, broken, untimed, wrapped] = events as [Record<string, unknown>, Record<string, unknown>, string, Record<string, unknown>, Record<string, unknown>];
    const latest = Date.parse(wrapped.timestamp as string);
    assert.ok(latest >= began && latest <= ended, `latest event ${new Date(latest).toISOString()} within [${new Date(began).toISOString()}, ${new Date(ended).toISOString()}]`);
    assert.match(rfc.timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'RFC 3339 stays RFC 3339');
    assert.equal(Date.parse(rfc.timestamp as string), latest - 3000, 'the gaps are kept');
    assert.equal(epoch.timestamp, latest - 1500, 'epoch ms stay a number');
    assert.equal(broken, '{"event_id": "old-broken", ', 'a line that is not JSON goes as it was');
    assert.deepEqual(untimed, recording[3], 'a line without a readable timestamp goes as it was');
    assert.deepEqual({ ...rfc, timestamp: 0 }, { ...event('old-0', 0), timestamp: 0 }, 'nothing but the time changes');
    // The label moves with its event, a day ahead of now: a verdict not known yet, held back.
    assert.equal(readLine(JSON.stringify(recording[4]), () => latest - (T0 + 3000)).labeledAt, latest + 86_400_000);
    assert.deepEqual(labels, []);
  });
});

describe('runReplay over HTTP into an embedded RTDS', () => {
  let app: RunningApp;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rtds-replay-'));
    app = await startApp(loadConfig({ dataDir: path.join(dir, 'data'), port: 0, generator: false, trainOnStart: false, logLevel: 'silent' }, {}));
  });
  after(async () => {
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Decisions come from the processor after the POST is answered: wait for the live feed to
   * announce the ones not stored yet, then read them back from the store. A decision announced
   * before the subscription was handed to the sink before it, so the flush covers it.
   */
  async function decided(ids: readonly string[]): Promise<Set<string>> {
    const stored = async (): Promise<Set<string>> => {
      await app.sink.flush();
      const rows = await app.db.query<{ event_id: string }>('SELECT event_id FROM decisions WHERE event_id = ANY($1)', [ids]);
      return new Set(rows.map((r) => r.event_id));
    };
    const waiting = new Set(ids);
    let unsubscribe = (): void => undefined;
    const announced = new Promise<void>((resolve) => {
      unsubscribe = app.feed.subscribe((d) => {
        waiting.delete(d.event_id);
        if (waiting.size === 0) resolve();
      });
    });
    try {
      const found = await stored();
      for (const id of found) waiting.delete(id);
      // Every id stored, or announced while the store was read (then stored by the next flush).
      if (waiting.size === 0) return found.size === ids.length ? found : await stored();
      await Promise.race([announced, sleep(10_000, undefined, { ref: false })]); // the bound only turns a missing decision into a failure
      return await stored();
    } finally {
      unsubscribe();
    }
  }

  it('delivers every line: valid events are decided, a broken line and a contract-breaking event are dead-lettered with their reasons', async () => {
    const valid = Array.from({ length: 5 }, (_, i) => event(`replay-${i}`, i * 1000));
    const broken = '{"event_id": "replay-broken", "user_id": ';
    const contractBreaking = event('replay-bad-amount', 2500, { amount: -3 });
    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, jsonl([...valid.slice(0, 3), broken, ...valid.slice(3), contractBreaking]));

    // Batches of 3: the last holds only the contract-breaking event, which RTDS refuses whole (400).
    const tally = await runReplay(['--in', file, '--target', `${app.url}/`, '--batch', '3', '--quiet']);
    assert.deepEqual(tally, { lines: 7, delivered: 7, labels: 0, heldBack: 0 });

    const ids = valid.map((e) => e.event_id as string);
    assert.deepEqual([...(await decided(ids))].sort(), ids);
    const letters = await app.db.query<{ event_id: string | null; payload: string; errors: { field: string; reason: string }[] }>(
      "SELECT event_id, payload, errors FROM dead_letters WHERE payload LIKE '%replay-%' ORDER BY id",
    );
    assert.equal(letters.length, 2);
    const [notJson, badAmount] = letters;
    assert.equal(JSON.parse(notJson!.payload), broken, 'the broken line arrives as it was written');
    assert.deepEqual(notJson!.errors, [{ field: '(root)', reason: 'must be a JSON object' }]);
    assert.equal(badAmount!.event_id, 'replay-bad-amount');
    assert.deepEqual(badAmount!.errors, [{ field: 'amount', reason: 'must be ≥ 0' }]);
  });

  it('replays a `rtds generate --with-labels` file: each event decided, each label stored', async () => {
    const file = path.join(dir, 'traffic.jsonl');
    // Begun a month ago, so every label's labeled_at (1–14 days after its event) has passed: none lies ahead of the clock.
    const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString();
    await runGenerate(['--count', '40', '--with-labels', '--out', file, '--id-prefix', 'replay_gen_', '--start', monthAgo, '--quiet']);
    const tally = await runReplay(['--in', file, '--target', app.url, '--quiet']);
    assert.deepEqual(tally, { lines: 40, delivered: 40, labels: 40, heldBack: 0 });
    const ids = Array.from({ length: 40 }, (_, i) => `replay_gen_${i + 1}`);
    assert.equal((await decided(ids)).size, 40);
    const [row] = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM labels WHERE event_id LIKE 'replay_gen_%'");
    assert.equal(row!.n, 40);
  });

  it('holds back the labels of a recording that ends now: their verdicts are not known yet', async () => {
    const file = path.join(dir, 'recent.jsonl');
    await runGenerate(['--count', '40', '--with-labels', '--out', file, '--id-prefix', 'replay_now_', '--quiet']);
    const tally = await runReplay(['--in', file, '--target', app.url, '--quiet']);
    assert.equal(tally?.delivered, 40);
    // Every label lies 1–14 days after its event, and the events end now: none is known yet.
    assert.deepEqual([tally?.labels, tally?.heldBack], [0, 40]);
    const [stored] = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM labels WHERE event_id LIKE 'replay_now_%'");
    const [refused] = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM dead_letters WHERE payload LIKE '%replay_now_%'");
    assert.deepEqual([stored!.n, refused!.n], [0, 0]);
  });

  it('--speed keeps the event-time gaps, shortened by the factor', async () => {
    const file = path.join(dir, 'paced.jsonl');
    await writeFile(file, jsonl([event('replay-paced-0', 0), event('replay-paced-1', 1500), event('replay-paced-2', 3000)]));
    const began = performance.now();
    const tally = await runReplay(['--in', file, '--target', app.url, '--speed', '10', '--quiet']);
    const elapsed = performance.now() - began;
    assert.equal(tally?.delivered, 3);
    assert.ok(elapsed >= 280 && elapsed < 2000, `3 s of event time at --speed 10 took ${Math.round(elapsed)} ms`);
  });
});
