// A local OTLP/HTTP traces endpoint for the tracing benchmark, in a thread of its own: counts requests and bytes, answers 200.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** The receiver's own event loop: what it costs to take the exports is not charged to the pipeline's thread. */
const RECEIVER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'totals') parentPort.postMessage({ requests, bytes });
  if (m === 'close') server.close(() => parentPort.close());
});
`;

export interface OtlpReceiver {
  /** The traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
  url: string;
  /** Export requests and bytes received so far. */
  totals(): Promise<{ requests: number; bytes: number }>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const worker = new Worker(RECEIVER, { eval: true });
  const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    async totals() {
      worker.postMessage('totals');
      const [totals] = (await once(worker, 'message')) as [{ requests: number; bytes: number }];
      return totals;
    },
    async close() {
      worker.postMessage('close');
      await once(worker, 'exit');
    },
  };
}
