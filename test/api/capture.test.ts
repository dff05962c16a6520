// GET /api/v1/capture: what the tap records, streamed to each recorder in order, ended cleanly at close, and cut off when a recorder falls behind.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerCaptureRoute } from '../../src/api/capture.ts';
import { TrafficTap } from '../../src/ingest/traffic-tap.ts';
import { createLogger } from '../../src/observe/index.ts';
import { waitFor } from '../support/wait.ts';

/** A server with only the capture route, over a tap whose log keeps nothing. */
async function serve(maxBehindBytes?: number): Promise<{ app: FastifyInstance; tap: TrafficTap; log: ReturnType<TrafficTap['recording']>; port: number }> {
  const app = Fastify();
  const tap = new TrafficTap();
  registerCaptureRoute(app, tap, createLogger('silent'), maxBehindBytes);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, tap, log: tap.recording({ append: () => undefined }), port: (app.server.address() as AddressInfo).port };
}

/** A recorder: the response, once its headers came. */
function record(port: number, query = ''): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/api/v1/capture${query}`, resolve).on('error', reject));
}

/** Everything a response carries until it ends, and how it ended. */
function drain(res: http.IncomingMessage): Promise<{ text: string; complete: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    res.on('close', () => resolve({ text, complete: res.complete }));
  });
}

describe('GET /api/v1/capture', () => {
  it('streams each appended event as JSON Lines in append order, labels only to a recorder that asked, and ends cleanly when the server closes', async () => {
    const { app, tap, log, port } = await serve();
    const events = await record(port);
    const both = await record(port, '?labels=true');
    assert.equal(events.headers['content-type'], 'application/x-ndjson');
    const [eventsText, bothText] = [drain(events), drain(both)];
    // Subscribed before the headers were sent: nothing appended from here on is missed.
    assert.equal(tap.active, true);
    for (let i = 0; i < 5; i++) await log.append('u', { event_id: `e-${i}` });
    tap.labels([{ event_id: 'e-1', is_fraud: true }]);
    await log.append('u', { event_id: 'e-5' });
    await app.close();
    const eventLines = Array.from({ length: 6 }, (_, i) => `{"event_id":"e-${i}"}`);
    assert.deepEqual(await eventsText, { text: `${eventLines.join('\n')}\n`, complete: true });
    assert.deepEqual(await bothText, { text: `${[...eventLines.slice(0, 5), '{"label":{"event_id":"e-1","is_fraud":true}}', eventLines[5]].join('\n')}\n`, complete: true });
    assert.equal(tap.active, false, 'unsubscribed');
  });

  it('cuts off a recorder that stops reading once it falls the bound behind, and unsubscribes it', async () => {
    const { app, tap, log, port } = await serve(64 * 1024);
    const res = await record(port);
    res.pause();
    const line = { event_id: 'x'.repeat(1000) };
    // Far more than socket buffers hold: the server's own buffer passes the bound.
    for (let i = 0; i < 20_000 && tap.active; i++) {
      log.append('u', line);
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor('the recorder cut off', 10_000, () => (tap.active ? undefined : true));
    const ended = drain(res);
    res.resume();
    assert.equal((await ended).complete, false, 'the stream broke off instead of ending');
    await app.close();
  });
});
