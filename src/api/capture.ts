// GET /api/v1/capture: the traffic this instance takes in, streamed as recorded lines for `rtds capture`.
import type { FastifyInstance } from 'fastify';
import type { TrafficTap } from '../ingest/traffic-tap.ts';
import type { Logger } from '../observe/index.ts';

/**
 * A recorder this far behind (bytes written to its response and not yet taken by its connection)
 * is cut off rather than let it grow the server's memory or slow the ingest: its stream breaks
 * (no clean end), and `rtds capture` says so.
 */
const MAX_BEHIND_BYTES = 32 * 1024 * 1024;

export function registerCaptureRoute(app: FastifyInstance, tap: TrafficTap, logger: Logger, maxBehindBytes = MAX_BEHIND_BYTES): void {
  /** Open recordings: each ends cleanly when the server closes. */
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(
    '/api/v1/capture',
    {
      schema: {
        tags: ['ops'],
        summary:
          'The events this instance accepts (HTTP and its generator), each as sent, once its log has it — and with labels=true the labels it stores, each as {"label": …} — streamed as JSON Lines (application/x-ndjson) until the client or the server closes it: what `rtds capture --from <url>` records. Not the events other producers write straight onto Kafka: capture those with --from kafka. A client that falls 32 MiB behind is cut off.',
        querystring: { type: 'object', properties: { labels: { type: 'boolean', default: false } }, additionalProperties: false },
        response: { 200: { description: 'one recorded event or label per line', type: 'string' } },
      },
    },
    (req, reply) => {
      const { labels } = req.query as { labels: boolean };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      // The client knows it records from now on once the headers arrive.
      res.flushHeaders();
      const log = logger.child({ component: 'capture', remote: req.ip, labels });
      log.info('recording started');
      let pending = '';
      let scheduled = false;
      // Lines taken in during one turn of the event loop go out as one write.
      const write = (): void => {
        scheduled = false;
        if (pending === '' || res.destroyed) return;
        res.write(pending);
        pending = '';
        if (res.writableLength > maxBehindBytes) {
          log.warn({ behind_bytes: res.writableLength }, 'recording cut off: the client fell too far behind');
          res.destroy();
        }
      };
      const unsubscribe = tap.subscribe(
        (line) => {
          pending += `${line}\n`;
          if (!scheduled) {
            scheduled = true;
            setImmediate(write);
          }
        },
        { labels },
      );
      const end = (): void => {
        unsubscribe();
        write();
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      res.on('close', () => {
        unsubscribe();
        open.delete(end);
        log.info('recording ended');
      });
    },
  );
}
