// `rtds features`: the feature matrix of a labelled history, computed by the processor's own step — the input to training.
import { eventTimeOptions, loadConfig } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
// The replay module alone: the process barrel loads the Kafka client and the processor, a second of start-up this command never uses.
import { streamFeatures, type ReplayedEvent } from '../process/replay.ts';
import { readHistoryFiles } from './history-files.ts';
import { CommandLine } from './command-line.ts';
import { LineSink } from './line-sink.ts';
import { Progress } from './progress.ts';

const HELP = `rtds features — the feature matrix of a history, as the processor computes it

usage: rtds features --events <file> [--labels <file>] [--out <file>]

  --events <file>   JSONL events (the event contract); invalid lines are reported and skipped
  --labels <file>   JSONL labels {"event_id","is_fraud","labeled_at"?}; the last one per event counts
  --out <file>      CSV to write (default: stdout): event_id, event_time, late, is_fraud, then one
                    column per feature of the set (RTDS_FEATURES_FILE, or the default set)

Events are replayed in event-time order (ties in file order) through the processor's stages
(rtds topology: the user's, then one per other entity, each partitioned by its key) with their
watermarks, allowed lateness and de-duplication (RTDS_MAX_OUT_OF_ORDERNESS_MS,
RTDS_ALLOWED_LATENESS_MS, RTDS_STAGE_SKEW_MS, RTDS_DEDUPE_WINDOW_MS), so a model trained on the
matrix sees the values it will be served. Label-driven features (fraud_count, fraud_rate) count a label from its
labeled_at on (from its event's time without one): the label delay is honoured, as online.`;

const csvField = (text: string): string => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

/** The vector's fields, each after a comma; an unknown value (history beyond the state's horizon: NaN) is an empty field, as pandas and R read a missing one. */
function csvValues(vector: Float64Array): string {
  let text = '';
  for (let i = 0; i < vector.length; i++) text += Number.isNaN(vector[i]!) ? ',' : `,${vector[i]!}`;
  return text;
}

export async function runFeatures(args: string[]): Promise<void> {
  const line = new CommandLine('features', HELP);
  const parsed = line.parse(args, { events: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' } });
  if (parsed === undefined) return;
  const { values } = parsed;
  if (values.events === undefined) throw line.usage('--events <file> is required');
  const config = loadConfig();
  const features = loadFeatureSet(config.featuresFile);

  const progress = new Progress('features', true);
  const { events, labels, invalid } = await readHistoryFiles(values.events, values.labels);
  const out = new LineSink(values.out ?? '-');
  await out.write(['event_id', 'event_time', 'late', 'is_fraud', ...features.names].map(csvField).join(',') + '\n');
  // Rows go out as the replay computes them, a write every few hundred: the matrix is never held whole.
  let rows = 0;
  let fraud = 0;
  let labelled = 0;
  let chunk = '';
  const onRow = ({ event, vector, late }: ReplayedEvent): void => {
    const label = labels.get(event.event_id)?.is_fraud;
    if (label !== undefined) labelled++;
    if (label === true) fraud++;
    rows++;
    chunk += `${csvField(event.event_id)},${new Date(event.event_time).toISOString()},${late ? 1 : 0},${label === undefined ? '' : label ? 1 : 0}${csvValues(vector)}\n`;
  };
  const flush = async (): Promise<void> => {
    await out.write(chunk);
    chunk = '';
  };
  await streamFeatures(events, features, eventTimeOptions(config), config.partitions, labels, onRow, async (done) => {
    progress.phase('replayed', done, events.length, 'events');
    await flush();
  });
  progress.phase('replayed', events.length, events.length, 'events');
  await flush();
  await out.close();
  process.stderr.write(
    `rtds features: ${rows} rows × ${features.names.length} features (${features.version}) in ${((performance.now() - progress.began) / 1000).toFixed(1)} s; ` +
      `${invalid} invalid lines skipped, ${events.length - rows} re-sent events skipped, ${labelled} labelled (${fraud} fraud)\n`,
  );
}
