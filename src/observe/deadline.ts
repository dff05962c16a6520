// Waiting on work with a bound: a shutdown, a /decide answer or a flush must not wait on a dead store forever.

/** Whether `work` is done within `ms`; its failure is thrown. Past the bound the work goes on, unwaited. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) return work.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}
