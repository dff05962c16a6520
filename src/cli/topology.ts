// `rtds topology`: the processor's stages, topics, state stores and keys for the configured feature set and transport.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { Topology } from '../process/index.ts';
import { repartitionTopic, topicNames } from '../transport/kafka/topics.ts';

const HELP = `rtds topology — the processor's stages, as the configured feature set makes them

usage: rtds topology [--json]

  --json    the topology as JSON

Each entity the feature set keys state by (RTDS_FEATURES_FILE, or the default set) is a stage
whose state is partitioned by that entity; on Kafka (RTDS_KAFKA_BROKERS set) an event travels
between stages through repartition topics. Reads no broker and no store.`;

export function runTopology(args: string[]): void {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) return void console.log(HELP);
  const config = loadConfig();
  const kafka = config.kafkaBrokers !== undefined;
  const topics = topicNames(config.kafkaTopicPrefix);
  const topology = new Topology(
    loadFeatureSet(config.featuresFile),
    {
      transport: kafka ? 'kafka' : 'embedded',
      events: kafka ? topics.events : 'the embedded events log',
      decisions: topics.decisions,
      deadLetters: topics.deadLetters,
      late: topics.late,
      repartition: (stage) => repartitionTopic(config.kafkaTopicPrefix, stage),
    },
    config.partitions,
  );
  console.log(values.json === true ? JSON.stringify(topology, null, 2) : topology.describe());
}
