// The processor's topology for a configuration: the feature set's stages on the configured transport's topics.
import type { Config } from '../config/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { Topology, type TopologyStage } from '../process/index.ts';
import { repartitionTopic, topicNames } from '../transport/kafka/topics.ts';

export function topologyFor(config: Config, features: FeatureSet): Topology {
  const kafka = config.kafkaBrokers !== undefined;
  const topics = topicNames(config.kafkaTopicPrefix);
  return new Topology(
    features,
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
}

/** The consumer group of a stage: RTDS_KAFKA_GROUP for the user stage, `<group>.<stage>` for the others. */
export function stageGroup(config: Config, stage: TopologyStage): string {
  return stage.index === 1 ? config.kafkaGroup : `${config.kafkaGroup}.${stage.name.replaceAll('+', '-')}`;
}
