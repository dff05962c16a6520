// The HTTP port, bound before anything else starts: it serves the dashboard and says "starting" while the system assembles (a first model trains), then hands its requests to the full API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dashboardAssets, dashboardAt } from './dashboard.ts';

/** The port cannot be had: another process listens on it, or this user may not bind it. */
export class PortUnavailableError extends Error {
  override readonly name = 'PortUnavailableError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string,
  ) {
    const why = code === 'EADDRINUSE' ? 'another process listens on it' : code === 'EACCES' ? 'permission denied (a port below 1024 needs privileges)' : code === 'EADDRNOTAVAIL' ? 'no such address on this machine' : code;
    super(`cannot listen on ${host}:${port}: ${why} (RTDS_PORT, --port; RTDS_HOST)`);
  }
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Seconds a client is told to wait before asking a starting server again. */
const STARTING_RETRY_S = 2;

/**
 * A listening HTTP server whose requests go to the starting answers until `serve` hands them to
 * the full API (Fastify, built with `serverFactory` so that its server is this one: WebSocket
 * upgrades included). While starting: the dashboard's files and pages, /healthz 200, /readyz 503
 * with the step under way, everything else 503 with the same words.
 */
export class HttpPort {
  /** What is being done, as /readyz says it after "starting: " — e.g. "training the first model (42 %)". */
  step = 'opening the store';
  private handler: Handler = startingAnswers(() => this.reason);
  private fullApi: Handler | undefined;
  private readonly server = http.createServer((req, res) => this.handler(req, res));

  private constructor() {}

  /** Listens on `host`:`port` (0: any free port) at once, or throws a PortUnavailableError. */
  static async bind(host: string, port: number): Promise<HttpPort> {
    const self = new HttpPort();
    await new Promise<void>((resolve, reject) => {
      self.server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === undefined ? err : new PortUnavailableError(host, port, err.code)));
      self.server.listen({ host, port }, resolve);
    });
    return self;
  }

  /** Base URL of the port as bound: its address and the port number (the one chosen for port 0). */
  get url(): string {
    const { address, family, port } = this.server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  get reason(): string {
    return `starting: ${this.step}`;
  }

  /** For Fastify's `serverFactory`: the full API's handler is kept until `serve`, and its server is this one. */
  readonly serverFactory = (handler: Handler): http.Server => {
    this.fullApi = handler;
    return this.server;
  };

  /** From now on every request goes to the full API (once it is ready: `await app.ready()` first). */
  serve(): void {
    if (this.fullApi === undefined) throw new Error('HttpPort.serve: no API was built on this port (serverFactory unused)');
    this.handler = this.fullApi;
  }

  /** Stops listening; idle keep-alive connections are closed, requests under way finish. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}

function startingAnswers(reason: () => string): Handler {
  const assets = dashboardAssets();
  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache', ...(status === 503 ? { 'retry-after': String(STARTING_RETRY_S) } : {}) });
    res.end(JSON.stringify(body));
  };
  return (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const reading = req.method === 'GET' || req.method === 'HEAD';
    if (reading && pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (reading && pathname === '/readyz') return json(res, 503, { status: 'not ready', starting: true, reasons: [reason()] });
    const asset = reading ? dashboardAt(assets, pathname) : undefined;
    if (asset === undefined) return json(res, 503, { error: reason(), code: 'starting' });
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}
