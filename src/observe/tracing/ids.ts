// W3C trace and span ids: random hex cut from a pool refilled in bulk, and handed to the SDK as assigned.
import { randomFillSync } from 'node:crypto';
import { INVALID_SPANID, INVALID_TRACEID } from '@opentelemetry/api';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

/** One call of the system's generator per 4 KiB: an id costs a hex slice, not a syscall. */
const POOL = Buffer.allocUnsafe(4096);
let used = POOL.length;

function randomHex(bytes: number, invalid: string): string {
  for (;;) {
    if (used + bytes > POOL.length) {
      randomFillSync(POOL);
      used = 0;
    }
    const hex = POOL.toString('hex', used, (used += bytes));
    if (hex !== invalid) return hex;
  }
}

export const newTraceId = (): string => randomHex(16, INVALID_TRACEID);
export const newSpanId = (): string => randomHex(8, INVALID_SPANID);

/**
 * The SDK's id generator, told each id before it starts a span: a span recorded while its trace's
 * fate was open is exported under the id its children and downstream records already name.
 */
export class AssignedIds implements IdGenerator {
  traceId = INVALID_TRACEID;
  spanId = INVALID_SPANID;

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    return this.spanId;
  }
}
