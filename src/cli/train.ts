// `rtds train`: train the seed's MLP on labelled history — files, the store, or generated — and register it as the active model.
import { parseArgs } from 'node:util';
import { withModelRegistry } from '../app/model-registry.ts';
import { generatedHistory, trainOnHistory, type LabelledHistory } from '../app/training.ts';
import { deployedThresholds, eventTimeOptions, loadConfig, type Config } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { openDatabase, storedHistory } from '../store/index.ts';
import { readHistoryFiles } from './history-files.ts';

const HELP = `Usage: rtds train [options]

Takes labelled history — event and label files in the contracts, the events and labels RTDS has
stored, or generated traffic — computes
features through the processor's own code (same watermark, state, partitions; labels counted from
their labeled_at), trains the MLP (64-32-16-1, dropout 0.2, Adam, class-weighted BCE) on the
first 70 % of the labelled events in time, validates each epoch on the next 10 %, evaluates on the
last 20 %, then registers the model (RTDS_MODEL_REGISTRY: the store's tables, or RTDS_MODEL_DIR)
and activates it.

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
  --no-activate   register without activating
  --help          this text
`;

export async function runTrain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
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
      'no-activate': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(HELP);
    return;
  }
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`rtds train: --${name} must be an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  const classWeight = values['class-weight'];
  if (classWeight !== 'sqrt' && classWeight !== 'balanced' && classWeight !== 'none') throw new Error(`rtds train: --class-weight must be sqrt, balanced or none, got "${classWeight}"`);
  const hidden = values.hidden.split(',').map((w) => Number(w.trim()));
  if (!hidden.every((w) => Number.isInteger(w) && w >= 1 && w <= 4096)) throw new Error(`rtds train: --hidden takes widths from 1 to 4096 separated by commas, got "${values.hidden}"`);
  const config = loadConfig();
  const epochs = int('epochs', values.epochs, 1);
  const eventsFile = values['events-file'];
  const labelsFile = values['labels-file'];
  if ((eventsFile === undefined) !== (labelsFile === undefined)) throw new Error('rtds train: --events-file and --labels-file go together');
  const seed = int('seed', values.seed, 0);
  const fromStore = values['from-store'] === true;
  if (fromStore && eventsFile !== undefined) throw new Error('rtds train: give --from-store or --events-file, not both');
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since !== undefined && (!fromStore || Number.isNaN(since.getTime()))) throw new Error(`rtds train: --since takes an RFC 3339 time and goes with --from-store, got "${values.since}"`);
  const history = fromStore
    ? await readStoredHistory(config, since)
    : eventsFile === undefined
      ? generatedHistory(int('events', values.events, 1000), seed, values.users === undefined ? undefined : int('users', values.users, 10))
      : { ...(await readHistoryFiles(eventsFile, labelsFile)), description: `${eventsFile} + ${labelsFile}` };
  const features = loadFeatureSet(config.featuresFile);
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
      activate: values['no-activate'] !== true,
      classWeight,
      hidden,
      onEpoch: (p) =>
        process.stderr.write(`epoch ${p.epoch}/${p.epochs}  loss ${p.loss.toFixed(4)}  val_loss ${p.val_loss.toFixed(4)}  val_auc ${p.val_auc.toFixed(4)}  ${(p.elapsed_ms / 1000).toFixed(1)} s\n`),
    }),
  }));
  const t = outcome.test;
  const lines = [
    `model ${outcome.version} ${values['no-activate'] === true ? 'registered' : 'registered and activated'} in ${location} (${(outcome.durationMs / 1000).toFixed(1)} s, ${outcome.trainRows} training rows)`,
    `held-out period: ${t.rows} events, ${t.positives} fraud`,
    `  ROC-AUC ${t.roc_auc.toFixed(4)}   average precision ${t.average_precision.toFixed(4)}`,
    ...t.at.map(
      (m) =>
        `  at ${m.threshold.toFixed(2)}: precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  F1 ${m.f1.toFixed(3)}  accuracy ${m.accuracy.toFixed(4)}  (tp ${m.confusion.tp}, fp ${m.confusion.fp}, fn ${m.confusion.fn}, tn ${m.confusion.tn})`,
    ),
    `fallback (logistic regression, served while the MLP fails or runs over budget): ROC-AUC ${outcome.fallbackTest.roc_auc.toFixed(4)}   average precision ${outcome.fallbackTest.average_precision.toFixed(4)}`,
    `accuracy alone says little here: with ${((100 * t.positives) / t.rows).toFixed(1)} % fraud, approving everything scores ${(100 - (100 * t.positives) / t.rows).toFixed(1)} % (docs/models.md).`,
  ];
  console.log(lines.join('\n'));
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
