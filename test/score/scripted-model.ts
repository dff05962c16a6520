// Test helper: a model whose behaviour a test sets batch by batch — healthy, failing, or slow on the test's clock.
import type { RtdsEvent } from '../../src/contracts/index.ts';
import type { Score, Scorer } from '../../src/score/index.ts';

export class ScriptedModel implements Scorer {
  readonly degraded = 'none' as const;
  mode: 'healthy' | 'failing' | 'slow' = 'healthy';
  calls = 0;
  /** `inner` scores when the model is not failing (default: 0.1 for every event); slow batches take 5 ms per event on `clock`. */
  constructor(
    private readonly clock: { ms: number },
    private readonly inner?: Scorer,
  ) {}

  get version(): string | null {
    return this.inner?.version ?? 'v-test';
  }

  scoreBatch(vectors: readonly Float64Array[], events: readonly RtdsEvent[]): Score[] {
    this.calls++;
    if (this.mode === 'failing') throw new Error('model crashed');
    if (this.mode === 'slow') this.clock.ms += 5 * vectors.length;
    return this.inner?.scoreBatch(vectors, events) ?? vectors.map(() => ({ score: 0.1, reasons: [] }));
  }
}
