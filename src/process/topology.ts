// The processor's stages as one declared graph, built from the feature set: what runs where, on which topic, keyed by what.
import type { FeatureSet } from '../features/index.ts';

/** Where a stage's input comes from and its state comes back from, on the configured transport. */
export interface TopologyNames {
  transport: 'embedded' | 'kafka';
  /** The events log (topic) the user stage reads. */
  events: string;
  decisions: string;
  deadLetters: string;
  late: string;
  /** The repartition topic feeding stage `name` (Kafka); unused on the embedded log. */
  repartition(stage: string): string;
}

/** One stage: a processor step over the state of one entity kind, partitioned by its key. */
export interface TopologyStage {
  /** 1-based position, as printed. */
  index: number;
  /** The entity key: `user_id`, `merchant_id`, `user_id+device_id`… */
  name: string;
  key: readonly string[];
  /** The log or topic it reads, and what partitions it: on the embedded log the same in-process partitions. */
  input: string;
  /** What it does to each record, in order. */
  steps: readonly string[];
  /** The state store it owns (partitioned by `key`), the features computed from it, and where it comes back from after a restart or a rebalance. */
  store: { name: string; features: readonly string[]; restoredFrom: string; labels: boolean; reachMs: number };
  /** Where its records go: the next stage's input, or the outputs of the decision. */
  outputs: readonly string[];
}

/**
 * The processor as Kafka Streams' `Topology` or a Flink job graph would describe it: the user
 * stage reads the events log (validates each record once, claims its event id, skips re-sends,
 * computes the user's features), then each other entity kind of the feature set is a stage of
 * its own whose state is partitioned by that entity, fed through a repartition topic keyed by it
 * and carrying the event with its features so far; the last stage scores and decides. On the
 * embedded log every stage runs in the processor's own process, its partitions in memory.
 */
export class Topology {
  readonly stages: readonly TopologyStage[];

  constructor(
    readonly features: FeatureSet,
    readonly names: TopologyNames,
    readonly partitions: number,
  ) {
    const kafka = names.transport === 'kafka';
    const count = features.stages.length;
    this.stages = features.stages.map((stage, i) => {
      const last = i === count - 1;
      const next = last ? undefined : features.stages[i + 1]!;
      const steps = i === 0 ? ['validate', 'claim the event id', 'skip a re-send', 'features'] : ['features'];
      if (last) steps.push('derived features', 'score', 'decide');
      const input = i === 0 ? names.events : kafka ? names.repartition(stage.name) : `in-process partitions by ${stage.name}`;
      const outputs = [
        ...(i === 0 ? [`dead letters → ${kafka ? `${names.deadLetters} and ` : ''}the store`] : []),
        ...(next === undefined
          ? [`decisions → the store${kafka ? ` and ${names.decisions}` : ''}`, ...(kafka ? [`late events → ${names.late}`] : [])]
          : [`the event and its features so far → ${kafka ? names.repartition(next.name) : `stage ${i + 2}`}, keyed by ${next.name}`]),
      ];
      const restoredFrom = i === 0 || !kafka ? 'the store (events, in the order decided)' : `its input topic ${input}, up to the committed offset`;
      return {
        index: i + 1,
        name: stage.name,
        key: stage.key,
        input,
        steps,
        store: { name: `features.${stage.name}`, features: stage.features, restoredFrom: i === 0 && kafka ? 'the store (events of its log partition)' : restoredFrom, labels: stage.usesLabels, reachMs: stage.reachMs },
        outputs,
      };
    });
  }

  /** Repartition hops an event makes before it is decided. */
  get hops(): number {
    return this.stages.length - 1;
  }

  /** The topology as text, for `rtds topology`. */
  describe(): string {
    const f = this.features;
    const lines = [
      `Topology of feature set ${f.version} (${f.names.length} features) on the ${this.names.transport === 'kafka' ? 'Kafka' : 'embedded'} log: ${this.stages.length} stage${this.stages.length === 1 ? '' : 's'}, ${this.hops} repartition hop${this.hops === 1 ? '' : 's'}, ${this.partitions} partitions each`,
      '',
    ];
    for (const s of this.stages) {
      lines.push(`stage ${s.index}: ${s.name}`);
      lines.push(`  input:    ${s.input} (key ${s.key.join(', ')})`);
      lines.push(`  steps:    ${s.steps.join(' → ')}`);
      const shown = s.store.features.length > 8 ? `${s.store.features.slice(0, 8).join(', ')}, … (${s.store.features.length})` : s.store.features.join(', ') || '(none)';
      lines.push(`  state:    ${s.store.name}, keyed by ${s.key.join('+')}: ${shown}${s.store.labels ? '; counts fraud labels' : ''}`);
      lines.push(`  restore:  from ${s.store.restoredFrom}; its windows reach back ${formatMs(s.store.reachMs)}`);
      for (const o of s.outputs) lines.push(`  output:   ${o}`);
      lines.push('');
    }
    return lines.join('\n');
  }

  /** The topology as data, for `rtds topology --json`. */
  toJSON(): object {
    return { feature_set: this.features.version, transport: this.names.transport, partitions: this.partitions, stages: this.stages };
  }
}

function formatMs(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  return `${ms} ms`;
}
