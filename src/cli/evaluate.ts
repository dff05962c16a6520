// `rtds evaluate`: a registered model judged on labelled history by the serving path — printed, and saved with the model.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deployedThresholds, eventTimeOptions, loadConfig } from '../config/index.ts';
import { withModelRegistry } from '../app/model-registry.ts';
import { generatedHistory } from '../app/training.ts';
import { loadFeatureSet } from '../features/index.ts';
import { replayFeatures } from '../process/index.ts';
import { calibration, evaluateScores, fallbackOf, FolderRegistry, ModelScorer, scoreDistribution, type CalibrationBin, type ModelMetrics, type ScoreDistribution } from '../score/index.ts';
import { CommandError, EXIT_FAILED } from './command-error.ts';
import { CommandLine } from './command-line.ts';
import { readHistoryFiles } from './history-files.ts';
import { Progress } from './progress.ts';

const HELP = `rtds evaluate — judge a registered model on labelled history

usage: rtds evaluate [--model <version>] (--events <file> [--labels <file>] | --generated <n> [--seed <n>] [--users <n>])

  --model <version>  the version to evaluate (default: the active one) in the registry (RTDS_MODEL_REGISTRY)
  --events <file>    JSONL events (the event contract); --labels <file> their labels (JSONL)
  --generated <n>    or n events of generated labelled traffic (--seed, default 99; --users, default 2000)

Features are computed by the processor's own step (RTDS_FEATURES_FILE, the log's partitions,
labels counted from their labeled_at), scores by the serving path. Events without a label are left
out. Printed: ROC-AUC, average precision, precision / recall / F1 and the confusion matrix at the
deployed thresholds (RTDS_THRESHOLD − 0.2 flags, RTDS_THRESHOLD rejects), calibration and the score
distribution by class. Saved as JSON, evaluations/<time>.json, in the model's folder (a folder
registry) or under <RTDS_DATA_DIR>/evaluations/<version>/ (a store registry).`;

export interface Evaluation {
  model_version: string;
  feature_set: string;
  source: string;
  evaluated_at: string;
  /** Events scored but left out for want of a label. */
  unlabelled: number;
  metrics: ModelMetrics;
  /** The fallback logistic regression trained with the model, on the same events; null for a model without one. */
  fallback_metrics: ModelMetrics | null;
  calibration: CalibrationBin[];
  distribution: ScoreDistribution;
}

const BATCH = 512;

const line = new CommandLine('evaluate', HELP);

/** Returns the evaluation, or undefined when only the help was asked for. */
export async function runEvaluate(args: string[]): Promise<Evaluation | undefined> {
  const parsed = line.parse(args, { model: { type: 'string' }, events: { type: 'string' }, labels: { type: 'string' }, generated: { type: 'string' }, seed: { type: 'string', default: '99' }, users: { type: 'string', default: '2000' } });
  if (parsed === undefined) return undefined;
  const { values } = parsed;
  if ((values.events === undefined) === (values.generated === undefined)) throw line.usage('give either --events <file> or --generated <n>');
  // Checked before the registry is opened and the model loaded.
  const generation =
    values.generated === undefined
      ? undefined
      : { events: line.number('generated', values.generated, { integer: true, min: 1 })!, seed: line.number('seed', values.seed, { integer: true, min: 0 })!, users: line.number('users', values.users, { integer: true, min: 1 })! };
  const config = loadConfig();
  const features = loadFeatureSet(config.featuresFile);
  const { version, artifact, evaluationsDir } = await withModelRegistry(config, features.version, async (registry) => {
    const version = values.model ?? (await registry.active());
    if (version === null) throw new CommandError(`rtds evaluate: no active model in ${registry.location}; name one with --model or train one with rtds train`, EXIT_FAILED);
    // Beside the model when it is a folder; a store registry keeps models only, so under the data folder.
    const evaluationsDir = registry instanceof FolderRegistry ? path.join(registry.dir, version, 'evaluations') : path.join(config.dataDir, 'evaluations', version);
    return { version, artifact: await registry.load(version), evaluationsDir };
  });

  const progress = new Progress('evaluate', true);
  const { events, labels: verdicts } = generation === undefined ? await readHistoryFiles(values.events!, values.labels) : generatedHistory(generation.events, generation.seed, generation.users);
  const replayed = (done: number): void => progress.phase('features', done, events.length, 'events');
  const rows = replayFeatures(events, features, eventTimeOptions(config), config.partitions, verdicts, replayed);
  replayed(events.length);
  // Explanations cost time and say nothing to a metric.
  const scorer = ModelScorer.fromArtifact(artifact, { topFeatures: 0 });
  const fallbackModel = fallbackOf(artifact.metadata, { topFeatures: 0 });
  const scores: number[] = [];
  const fallbackScores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    const vectors = batch.map((r) => r.vector);
    const events = batch.map((r) => r.event);
    const scored = scorer.scoreBatch(vectors, events);
    const fallbackScored = fallbackModel?.scoreBatch(vectors, events);
    batch.forEach((r, j) => {
      const label = verdicts.get(r.event.event_id);
      if (label === undefined) return;
      scores.push(scored[j]!.score);
      if (fallbackScored !== undefined) fallbackScores.push(fallbackScored[j]!.score);
      labels.push(label.is_fraud ? 1 : 0);
    });
  }
  artifact.model.dispose();
  if (labels.length === 0) throw new CommandError('rtds evaluate: no labelled event to evaluate on', EXIT_FAILED);

  const evaluation: Evaluation = {
    model_version: version,
    feature_set: features.version,
    source: values.events !== undefined ? `${values.events}${values.labels === undefined ? '' : ` + ${values.labels}`}` : `${values.generated} generated events (seed ${values.seed}, ${values.users} users)`,
    evaluated_at: new Date().toISOString(),
    unlabelled: rows.length - labels.length,
    metrics: evaluateScores(scores, labels, deployedThresholds(config)),
    fallback_metrics: fallbackModel === undefined ? null : evaluateScores(fallbackScores, labels, deployedThresholds(config)),
    calibration: calibration(scores, labels),
    distribution: scoreDistribution(scores, labels),
  };
  await mkdir(evaluationsDir, { recursive: true });
  const file = path.join(evaluationsDir, `${evaluation.evaluated_at.replaceAll(':', '-')}.json`);
  await writeFile(file, JSON.stringify(evaluation, null, 2) + '\n');
  process.stdout.write(report(evaluation) + `\nsaved: ${file}\n`);
  return evaluation;
}

const pct = (x: number): string => (Number.isNaN(x) ? '   —  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

/** The evaluation as a terminal report. */
export function report(e: Evaluation): string {
  const m = e.metrics;
  const out = [
    `model ${e.model_version} (${e.feature_set}) on ${e.source}`,
    `${m.rows} labelled events, ${m.positives} fraud (${pct(m.positives / m.rows).trim()}); ${e.unlabelled} unlabelled left out`,
    `ROC-AUC ${m.roc_auc.toFixed(4)}   average precision ${m.average_precision.toFixed(4)}`,
    ...(e.fallback_metrics === null ? [] : [`its fallback (logistic regression): ROC-AUC ${e.fallback_metrics.roc_auc.toFixed(4)}   average precision ${e.fallback_metrics.average_precision.toFixed(4)}`]),
    '',
    'threshold  precision  recall     F1      TP      FP      TN      FN',
    ...m.at.map((t) => `${t.threshold.toFixed(2).padStart(9)}  ${pct(t.precision).padStart(9)}  ${pct(t.recall)}  ${pct(t.f1)}  ${[t.confusion.tp, t.confusion.fp, t.confusion.tn, t.confusion.fn].map((c) => String(c).padStart(6)).join('  ')}`),
    '',
    'calibration: score bin → events, mean score, fraud rate',
    ...e.calibration.filter((b) => b.rows > 0).map((b) => `  [${b.from.toFixed(1)}, ${b.to.toFixed(1)})  ${String(b.rows).padStart(7)}  ${b.mean_score.toFixed(3)}  ${b.fraud_rate.toFixed(3)}`),
    '',
    'scores by class (10 bins over [0, 1]):',
    `  fraud       ${e.distribution.fraud.join(' ')}`,
    `  legitimate  ${e.distribution.legitimate.join(' ')}`,
  ];
  return out.join('\n');
}
