// How RTDS's Kafka clients retry: quickly at first, then patiently enough to ride out a broker restart.

/**
 * Exponential backoff from 10 ms to 1 s, 40 attempts (≈ 35 s in all). The client's default (a flat
 * 1 s) makes every routine CONCURRENT_TRANSACTIONS retry — the broker still writing the previous
 * transaction's markers — cost a whole second; the Java client waits tens of milliseconds.
 */
export const RETRY = {
  retries: 40,
  retryDelay: (_client: unknown, _operation: string, attempt: number): number => Math.min(10 * 2 ** (attempt - 1), 1000),
};
