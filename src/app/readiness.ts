// Whether this process can do its work now — store reachable and keeping up, log consumed, models readable — and if not, why.
import type { ComponentProblem } from '../api/health.ts';
import { settlesWithin } from '../observe/index.ts';
import type { Database, SinkHealth } from '../store/index.ts';

export interface ReadinessReport {
  ready: boolean;
  /** Why not, one sentence each; empty when ready. */
  reasons: string[];
  /** The same reasons, each with the component it concerns and whether that is down or degraded. */
  problems: ComponentProblem[];
}

export interface ReadinessBounds {
  probeMs: number;
  /** Store writes failing, or a probe unanswered, longer than this: not ready. */
  storeFailingMs: number;
  maxSinkRows: number;
  maxLag: number;
}

export interface ReadinessInputs {
  /** Probed with its claims' database, where that is another (embedded): a decision waits on both. */
  db: Database;
  sink: { health(): SinkHealth };
  lag(): number;
  /** Reads the model registry (its active version); a throw means it is unreadable. */
  readRegistry(): Promise<unknown>;
  /** False while starting or stopping. */
  accepting(): boolean;
}

/** Outcome of a probe: each part's error message, or null when it answered. */
interface Probe {
  store: string | null;
  registry: string | null;
}

/**
 * Probes the store and the registry in the background (a /readyz request must not queue behind
 * a slow store) and judges readiness from the latest probe and the live figures.
 */
export class Readiness {
  private timer: NodeJS.Timeout | undefined;
  private latest: Probe | undefined;
  private running: Promise<void> | undefined;
  private runningSince = 0;

  constructor(
    private readonly inputs: ReadinessInputs,
    private readonly bounds: ReadinessBounds,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.probe();
    this.timer = setInterval(() => this.probe(), this.bounds.probeMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // A probe hanging on a dead connection does not hold the shutdown up.
    await settlesWithin(this.running ?? Promise.resolve(), this.bounds.storeFailingMs);
  }

  report(): ReadinessReport {
    const problems: ComponentProblem[] = [];
    const problem = (component: ComponentProblem['component'], status: ComponentProblem['status'], reason: string): number => problems.push({ component, status, reason });
    const now = this.now();
    if (!this.inputs.accepting()) problem('process', 'degraded', 'starting or stopping');
    const sink = this.inputs.sink.health();
    if (sink.failingSince !== undefined && now - sink.failingSince > this.bounds.storeFailingMs) {
      problem('store', 'down', `store writes failing for ${Math.round((now - sink.failingSince) / 1000)} s: ${sink.lastError ?? 'unknown error'}`);
    }
    if (this.latest?.store != null) problem('store', 'down', `store unreachable: ${this.latest.store}`);
    if (this.latest?.registry != null) problem('model', 'degraded', `model registry unreadable: ${this.latest.registry}`);
    const waited = now - this.runningSince;
    if (this.running !== undefined && waited > this.bounds.storeFailingMs) problem('store', 'down', `store and model registry probe unanswered for ${Math.round(waited / 1000)} s`);
    if (sink.pending > this.bounds.maxSinkRows) problem('store', 'degraded', `store backlog ${sink.pending} rows > ${this.bounds.maxSinkRows}`);
    const lag = this.inputs.lag();
    if (lag > this.bounds.maxLag) problem('log', 'degraded', `consumer lag ${lag} records > ${this.bounds.maxLag}`);
    return { ready: problems.length === 0, reasons: problems.map((p) => p.reason), problems };
  }

  private probeStore(): Promise<unknown> {
    const { db } = this.inputs;
    return Promise.all(db.claims === db ? [db.query('SELECT 1')] : [db.query('SELECT 1'), db.claims.query('SELECT 1')]);
  }

  /** One probe at a time; the previous outcome stands until the next answers, and a probe that hangs shows by its age. */
  private probe(): void {
    if (this.running !== undefined) return;
    const probe: Probe = { store: null, registry: null };
    this.runningSince = this.now();
    const settle = (key: 'store' | 'registry', p: Promise<unknown>): Promise<void> =>
      p.then(
        () => undefined,
        (err: unknown) => void (probe[key] = err instanceof Error ? err.message : String(err)),
      );
    this.running = Promise.all([settle('store', Promise.resolve().then(() => this.probeStore())), settle('registry', Promise.resolve().then(() => this.inputs.readRegistry()))]).then(() => {
      this.latest = probe;
      this.running = undefined;
    });
  }
}
