// `rtds topology`: the processor's stages, topics, state stores and keys for the configured feature set and transport.
import { loadConfig } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { topologyFor } from '../app/topology.ts';
import { CommandLine } from './command-line.ts';

const HELP = `rtds topology — the processor's stages, as the configured feature set makes them

usage: rtds topology [--json]

  --json    the topology as JSON

Each entity the feature set keys state by (RTDS_FEATURES_FILE, or the default set) is a stage
whose state is partitioned by that entity; on Kafka (RTDS_KAFKA_BROKERS set) an event travels
between stages through repartition topics. Reads no broker and no store.`;

export function runTopology(args: string[]): void {
  const parsed = new CommandLine('topology', HELP).parse(args, { json: { type: 'boolean' } });
  if (parsed === undefined) return;
  const { values } = parsed;
  const config = loadConfig();
  const topology = topologyFor(config, loadFeatureSet(config.featuresFile));
  console.log(values.json === true ? JSON.stringify(topology, null, 2) : topology.describe());
}
