// /ws: a live stream of decisions (batched a few times a second) and the one-second summary.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiContext } from './server.ts';

const DECISION_TICK_MS = 250;
/** A viewer sees at most this many decisions per tick; counts come from the summary. */
const MAX_PER_TICK = 50;

export function registerLiveFeed(app: FastifyInstance, ctx: ApiContext): void {
  const sockets = new Set<WebSocket>();
  let batch: unknown[] = [];

  const unsubscribe = ctx.feed.subscribe((decision) => {
    if (sockets.size === 0) return;
    if (batch.length >= MAX_PER_TICK) batch.shift();
    batch.push(decision);
  });
  const send = (message: unknown): void => {
    const text = JSON.stringify(message);
    for (const s of sockets) if (s.readyState === s.OPEN) s.send(text);
  };
  const decisionsTimer = setInterval(() => {
    if (batch.length === 0) return;
    send({ type: 'decisions', data: batch });
    batch = [];
  }, DECISION_TICK_MS);
  const summaryTimer = setInterval(() => send({ type: 'summary', data: ctx.summary() }), 1000);

  app.addHook('onClose', async () => {
    clearInterval(decisionsTimer);
    clearInterval(summaryTimer);
    unsubscribe();
    for (const s of sockets) s.close(1001, 'server shutting down');
  });

  app.get('/ws', { websocket: true, schema: { hide: true } }, (socket) => {
    sockets.add(socket);
    socket.send(JSON.stringify({ type: 'summary', data: ctx.summary() }));
    socket.on('close', () => sockets.delete(socket));
  });
}
