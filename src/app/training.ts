// The training workflow: generated labelled history → the processor's own features → MLP → held-out evaluation → registry.
import { validateEvent, type Label } from '../contracts/index.ts';
import { TrafficGenerator } from '../ingest/generator/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { replayFeatures, type EventTimeOptions } from '../process/index.ts';
import { draftFromTraining, evaluateScores, ModelRegistry, ModelScorer, trainModel, ARTIFACT_FORMAT, type ClassWeighting, type EpochProgress, type ModelMetrics } from '../score/index.ts';

export interface TrainingRun {
  modelDir: string;
  /** Events of generated history; the last `testShare` of them (in time) are held out. */
  events: number;
  seed: number;
  epochs: number;
  users?: number;
  features: FeatureSet;
  eventTime: EventTimeOptions;
  /** The log's partition count: history is replayed grouped as the processor sees it. */
  partitions: number;
  /** Thresholds at which the held-out metrics are reported. */
  thresholds: readonly number[];
  testShare?: number;
  /**
   * Weight of the rare fraud class. Default 'sqrt': on generated traffic it keeps recall ≈ 0.92
   * at t = 0.7 with precision 0.95, where 'balanced' inflates scores (precision 0.76) and 'none'
   * loses recall (0.85).
   */
  classWeight?: ClassWeighting;
  activate?: boolean;
  onEpoch?: (progress: EpochProgress) => void;
}

export interface TrainingOutcome {
  version: string;
  /** Metrics on the later, held-out period, scored by the serving path. */
  test: ModelMetrics;
  validation: ModelMetrics | null;
  trainRows: number;
  durationMs: number;
}

export async function trainOnGeneratedHistory(run: TrainingRun): Promise<TrainingOutcome> {
  const started = performance.now();
  const generated = new TrafficGenerator({ seed: run.seed, ...(run.users === undefined ? {} : { users: run.users }) }).take(run.events);
  const labels = new Map<string, Label>();
  const events = generated.map((g) => {
    const checked = validateEvent(g.event);
    if (!checked.ok) throw new Error(`generator produced an invalid event ${g.event.event_id}: ${JSON.stringify(checked.errors)}`);
    labels.set(g.label.event_id, g.label);
    return checked.event;
  });
  // Labels count for label-driven features only from when they are known, as online.
  const rows = replayFeatures(events, run.features, run.eventTime, run.partitions, labels);
  // Split by time, not at random: the model is judged on a period it has never seen, as in production.
  const cut = Math.floor(rows.length * (1 - (run.testShare ?? 0.2)));
  const train = rows.slice(0, cut);
  const test = rows.slice(cut);
  const label = (r: (typeof rows)[number]): number => (labels.get(r.event.event_id)?.is_fraud === true ? 1 : 0);

  const trained = await trainModel(
    train.map((r) => r.vector),
    train.map(label),
    { epochs: run.epochs, seed: run.seed, thresholds: run.thresholds, classWeight: run.classWeight ?? 'sqrt', features: run.features.columns, ...(run.onEpoch === undefined ? {} : { onEpoch: run.onEpoch }) },
  );
  const draft = draftFromTraining(trained, `MLP on ${run.events} generated events (seed ${run.seed}); metrics on the last ${test.length} events`, run.features.version);
  const candidate = ModelScorer.fromArtifact({ model: trained.model, metadata: { ...draft.metadata, format: ARTIFACT_FORMAT, version: 'candidate', created_at: new Date().toISOString() } });
  const scores = candidate.scoreBatch(
    test.map((r) => r.vector),
    test.map((r) => r.event),
  );
  const testMetrics = evaluateScores(
    scores.map((s) => s.score),
    test.map(label),
    run.thresholds,
  );
  draft.metadata.metrics = testMetrics;

  const registry = new ModelRegistry(run.modelDir, { featureSetVersion: run.features.version });
  const version = await registry.save(draft);
  if (run.activate !== false) await registry.activate(version);
  trained.model.dispose();
  return { version, test: testMetrics, validation: trained.metrics, trainRows: train.length, durationMs: performance.now() - started };
}
