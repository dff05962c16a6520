// Every decision an app publishes from now on, and a promise for each count to reach: how a test waits for decisions without sleeping.
import type { RunningApp } from '../../src/app/index.ts';
import type { PublishedDecision } from '../../src/contracts/index.ts';

interface DecisionLog {
  decided: Map<string, PublishedDecision>;
  /** Resolves once `n` distinct events are decided. */
  reached(n: number): Promise<void>;
}

export function collectDecisions(app: Pick<RunningApp, 'feed'>): DecisionLog {
  const decided = new Map<string, PublishedDecision>();
  const waiters: [number, () => void][] = [];
  app.feed.subscribe((d) => {
    decided.set(d.event_id, d);
    for (const [n, resolve] of waiters) if (decided.size >= n) resolve();
  });
  return { decided, reached: (n) => new Promise((resolve) => (decided.size >= n ? resolve() : waiters.push([n, resolve]))) };
}

/**
 * Three batches of `size` events sent to the app over HTTP: the first decided before `change`
 * runs, the second flowing while it runs, the third sent after it. Resolves with every decision
 * once all are in: how a test shows a hot switch loses no event.
 */
export async function decideAcrossChange(app: Pick<RunningApp, 'feed' | 'url'>, batch: (from: number, n: number) => object[], change: () => Promise<void>, size = 300): Promise<Map<string, PublishedDecision>> {
  const send = async (events: object[]): Promise<void> => {
    const res = await fetch(`${app.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    if (res.status !== 202) throw new Error(`events refused: ${res.status} ${await res.text()}`);
  };
  const { decided, reached } = collectDecisions(app);
  const first = reached(size);
  const all = reached(3 * size);
  await send(batch(0, size));
  await first;
  await send(batch(size, size));
  await change();
  await send(batch(2 * size, size));
  await all;
  return decided;
}
