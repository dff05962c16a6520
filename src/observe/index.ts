// Observe: structured logs and metrics.
export { createLogger, type Logger } from './logger.ts';
export { PipelineMetrics, type LiveSummary } from './metrics.ts';
