// Process stage: the runtime that owns partitions, watermarks and keyed state, and runs the pipeline core.
export { DecisionPipeline, type AdmittedBatch, type ClaimVerdict, type Conflict, type Decided, type Forwarded, type PartitionHistory, type PipelineOptions, type PipelineResult } from './decision-pipeline.ts';
export { PartitionTask, type EventTimeOptions, type StageStep } from './partition-task.ts';
export { StageTasks, type ComputedFeatures } from './stage-tasks.ts';
export { Processor, type EventClaims, type ProcessorOptions, type ProcessorOutput } from './processor.ts';
export { MicroBatchSize, type MicroBatchOptions } from './micro-batch-size.ts';
export { labelKnownAt, replayFeatures, replayFeaturesYielding, streamFeatures, type ReplayedEvent } from './replay.ts';
export { Watermark } from './watermark.ts';
export { Topology, type TopologyNames, type TopologyStage } from './topology.ts';
export { decodeCarried, encodeCarried, CarriedEventError, type CarriedEvent } from './carried-event.ts';
export { DeadLetterRoute, stageOutput, type OutputTopics, type StageOutputOptions } from './outputs.ts';
