// `rtds train`: train the seed's MLP on labelled history — files, the store, or generated — register it, and activate it when it passes the guards.
import { comparisonLine, DEFAULT_MIN_AUC, MIN_SPLIT_CLASS, MIN_SPLIT_ROWS, TrainingHistoryError } from '../app/activation-guard.ts';
import { withModelRegistry } from '../app/model-registry.ts';
import { generatedHistory, trainOnHistory, type LabelledHistory, type TrainingProgress } from '../app/training.ts';
import { deployedThresholds, eventTimeOptions, loadConfig, type Config } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { openDatabase, storedHistory } from '../store/index.ts';
import { CommandError, EXIT_FAILED, EXIT_NOT_ACTIVATED } from './command-error.ts';
import { CommandLine } from './command-line.ts';
import { readHistoryFiles } from './history-files.ts';
import { Progress } from './progress.ts';

const HELP = `Usage: rtds train [options]

Takes labelled history — event and label files in the contracts, the events and labels RTDS has
stored, or generated traffic — computes
features through the processor's own code (same watermark, state, partitions; labels counted from
their labeled_at), trains the MLP (64-32-16-1, dropout 0.2, Adam, class-weighted BCE) on the
first 70 % of the labelled events in time, validates each epoch on the next 10 %, evaluates on the
last 20 %, then registers the model (RTDS_MODEL_REGISTRY: the store's tables, or RTDS_MODEL_DIR)
and activates it — unless its held-out ROC-AUC is below --min-auc or below the active model's on
the same events: then it is registered only, and the command exits with code 3. Each period needs
at least ${MIN_SPLIT_ROWS} labelled events with ${MIN_SPLIT_CLASS} fraud and ${MIN_SPLIT_CLASS} legitimate, or nothing is trained (exit 1).

  --events-file <f>   JSONL events to train on (all of them feed the features) …
  --labels-file <f>   … and their labels (JSONL); only labelled events are training rows
  --from-store        or the events and labels in the database (RTDS_DATABASE_URL, else the embedded
                      one under RTDS_DATA_DIR, which only one process may open: stop rtds start first) …
  --since <time>      … from this event time on (RFC 3339; default all)
  --events <n>    otherwise, events of generated history (default 100000)
  --users <n>     users in the generated population (default 2000)
  --seed <n>      seed for traffic and weights (default 7)
  --epochs <n>    training epochs (default 10)
  --class-weight <w>  weight of the fraud class: sqrt (default), balanced or none
  --hidden <widths>   hidden layers of the MLP, e.g. 128,64 (default the seed's 64,32,16)
  --min-auc <x>   least held-out ROC-AUC to activate the model (default ${DEFAULT_MIN_AUC})
  --force         activate even below --min-auc or the active model (with a warning)
  --no-activate   register without activating
  --help          this text
`;

/** Each phase of training as its progress names it, and what it counts. */
const PHASES: Record<TrainingProgress['phase'], { name: string; unit: string }> = {
  features: { name: 'features', unit: 'events' },
  model: { name: 'MLP', unit: 'epochs' },
  fallback: { name: 'fallback', unit: 'epochs' },
  evaluation: { name: 'evaluation', unit: 'held-out rows' },
};

const line = new CommandLine('train', HELP);

export async function runTrain(args: string[]): Promise<void> {
  const parsed = line.parse(args, {
    events: { type: 'string', default: '100000' },
    'events-file': { type: 'string' },
    'labels-file': { type: 'string' },
    'from-store': { type: 'boolean' },
    since: { type: 'string' },
    users: { type: 'string' },
    seed: { type: 'string', default: '7' },
    epochs: { type: 'string', default: '10' },
    'class-weight': { type: 'string', default: 'sqrt' },
    hidden: { type: 'string', default: '64,32,16' },
    'min-auc': { type: 'string', default: String(DEFAULT_MIN_AUC) },
    force: { type: 'boolean' },
    'no-activate': { type: 'boolean' },
  });
  if (parsed === undefined) return;
  const { values } = parsed;
  const int = (name: string, raw: string, min: number): number => line.number(name, raw, { integer: true, min })!;
  const classWeight = values['class-weight'];
  if (classWeight !== 'sqrt' && classWeight !== 'balanced' && classWeight !== 'none') throw line.usage(`--class-weight must be sqrt, balanced or none, got "${classWeight}"`);
  const hidden = values.hidden.split(',').map((w) => Number(w.trim()));
  if (!hidden.every((w) => Number.isInteger(w) && w >= 1 && w <= 4096)) throw line.usage(`--hidden takes widths from 1 to 4096 separated by commas, got "${values.hidden}"`);
  const minAuc = Number(values['min-auc']);
  if (values['min-auc'].trim() === '' || !(minAuc >= 0 && minAuc <= 1)) throw line.usage(`--min-auc must be a number from 0 to 1, got "${values['min-auc']}"`);
  if (values['no-activate'] === true && values.force === true) throw line.usage('--force and --no-activate contradict each other');
  const activate = values['no-activate'] === true ? false : values.force === true ? 'force' : true;
  const config = loadConfig();
  const epochs = int('epochs', values.epochs, 1);
  const eventsFile = values['events-file'];
  const labelsFile = values['labels-file'];
  if ((eventsFile === undefined) !== (labelsFile === undefined)) throw line.usage('--events-file and --labels-file go together');
  const seed = int('seed', values.seed, 0);
  const fromStore = values['from-store'] === true;
  if (fromStore && eventsFile !== undefined) throw line.usage('give --from-store or --events-file, not both');
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since !== undefined && (!fromStore || Number.isNaN(since.getTime()))) throw line.usage(`--since takes an RFC 3339 time and goes with --from-store, got "${values.since}"`);
  const history = fromStore
    ? await readStoredHistory(config, since)
    : eventsFile === undefined
      ? generatedHistory(int('events', values.events, 1000), seed, values.users === undefined ? undefined : int('users', values.users, 10))
      : { ...(await readHistoryFiles(eventsFile, labelsFile)), description: `${eventsFile} + ${labelsFile}` };
  const features = loadFeatureSet(config.featuresFile);
  const progress = new Progress('train', true);
  const seconds = (): string => `${((performance.now() - progress.began) / 1000).toFixed(1)} s`;
  const onProgress = ({ phase, done, total, epoch: e }: TrainingProgress): void => {
    const detail = e === undefined ? seconds() : `loss ${e.loss.toFixed(4)}  val_loss ${e.val_loss.toFixed(4)}  val_auc ${e.val_auc.toFixed(4)}  ${seconds()}`;
    // A log gets a line per epoch of the MLP; the fallback's epochs take a fraction of a second each.
    progress.phase(PHASES[phase].name, done, total, PHASES[phase].unit, detail, phase === 'model');
  };
  const { outcome, location } = await withModelRegistry(config, features.version, async (registry) => ({
    location: registry.location,
    outcome: await trainOnHistory(history, {
      registry,
      seed,
      epochs,
      features,
      eventTime: eventTimeOptions(config),
      partitions: config.partitions,
      thresholds: deployedThresholds(config),
      activate,
      minAuc,
      classWeight,
      hidden,
      onProgress,
    }).catch((err: unknown) => {
      throw err instanceof TrainingHistoryError ? new CommandError(`rtds train: ${err.message}`, EXIT_FAILED, { cause: err }) : err;
    }),
  }));
  const { test: t, verdict, version } = outcome;
  const comparison = comparisonLine(verdict);
  const lines = [
    `model ${version} ${outcome.activated ? 'registered and activated' : 'registered'} in ${location} (${(outcome.durationMs / 1000).toFixed(1)} s, ${outcome.trainRows} training rows)`,
    `held-out period: ${t.rows} events, ${t.positives} fraud`,
    `  ROC-AUC ${t.roc_auc.toFixed(4)}   average precision ${t.average_precision.toFixed(4)}`,
    ...t.at.map(
      (m) =>
        `  at ${m.threshold.toFixed(2)}: precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  F1 ${m.f1.toFixed(3)}  accuracy ${m.accuracy.toFixed(4)}  (tp ${m.confusion.tp}, fp ${m.confusion.fp}, fn ${m.confusion.fn}, tn ${m.confusion.tn})`,
    ),
    `fallback (logistic regression, served while the MLP fails or runs over budget): ROC-AUC ${outcome.fallbackTest.roc_auc.toFixed(4)}   average precision ${outcome.fallbackTest.average_precision.toFixed(4)}`,
    ...(comparison === null ? [] : [comparison]),
    `accuracy alone says little here: with ${((100 * t.positives) / t.rows).toFixed(1)} % fraud, approving everything scores ${(100 - (100 * t.positives) / t.rows).toFixed(1)} % (docs/models.md).`,
  ];
  console.log(lines.join('\n'));
  if (verdict.refusal === null || activate === false) return;
  if (outcome.activated) process.stderr.write(`rtds train: warning: ${version} activated although ${verdict.refusal} (--force)\n`);
  else throw new CommandError(`rtds train: ${version} registered but not activated: ${verdict.refusal}; rtds models activate ${version} (or --force) activates it anyway`, EXIT_NOT_ACTIVATED);
}

async function readStoredHistory(config: Config, since: Date | undefined): Promise<LabelledHistory> {
  const db = await openDatabase(config);
  try {
    const { events, labels } = await storedHistory(db, since);
    return { events, labels, description: `${events.length} stored events${since === undefined ? '' : ` since ${since.toISOString()}`} (${db.kind})` };
  } finally {
    await db.close();
  }
}
