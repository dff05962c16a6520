// `rtds models`: the registry from the command line — list, activate, roll back, name a challenger. Running processors follow at once on Kafka (control topic), else within RTDS_MODEL_POLL_MS.
import { withModelRegistry } from '../app/model-registry.ts';
import { loadConfig } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { parseSubcommand } from './command-line.ts';

const HELP = `rtds models — the model registry (RTDS_MODEL_REGISTRY: the store's tables, or RTDS_MODEL_DIR)

usage: rtds models [list]          versions with their held-out ROC-AUC and average precision
       rtds models activate <v>    serve version v (running processors switch at once on Kafka, else within RTDS_MODEL_POLL_MS)
       rtds models rollback        serve the version that was active before the current one
       rtds models challenge <v>   score version v in shadow beside the active one (compared at GET /api/v1/models/challenger)
       rtds models challenge none  stop the challenger

In the list, * marks the active version and c the challenger.

A version built on another feature set than RTDS_FEATURES_FILE's is refused.`;

const fixed = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(4));

export async function runModels(args: string[]): Promise<void> {
  // What each sub-command takes after its name; without one, it lists.
  const parsed = parseSubcommand('models', HELP, args, { list: [], activate: ['version'], rollback: [], challenge: ['version (or none)'] });
  if (parsed === undefined) return;
  const { command } = parsed;
  const [version] = parsed.operands;
  const config = loadConfig();
  await withModelRegistry(config, loadFeatureSet(config.featuresFile).version, async (registry) => {
    switch (command) {
      case 'list': {
        const versions = await registry.list();
        if (versions.length === 0) return void console.log(`no model in ${registry.location}`);
        const challenger = await registry.challenger();
        for (const { version: v, active, metadata } of versions) {
          console.log(`${active ? '*' : v === challenger ? 'c' : ' '} ${v.padEnd(5)} ${metadata.created_at}  ROC-AUC ${fixed(metadata.metrics?.roc_auc)}  AP ${fixed(metadata.metrics?.average_precision)}  ${metadata.feature_set_version}  ${metadata.description ?? ''}`);
        }
        return;
      }
      case 'activate':
        await registry.activate(version!);
        return void console.log(`${version} is active in ${registry.location}`);
      case 'rollback':
        return void console.log(`${await registry.rollback()} is active again in ${registry.location}`);
      case 'challenge':
        await registry.setChallenger(version === 'none' ? null : version!);
        return void console.log(version === 'none' ? `no challenger in ${registry.location}` : `${version} scores in shadow beside the active version (${registry.location})`);
    }
  });
}
