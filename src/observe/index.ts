// Observe: structured logs and metrics.
export { createLogger, type Logger } from './logger.ts';
export { PipelineMetrics, type LiveSummary, type RecentRates, type SinkWrites } from './metrics.ts';
export { clip, clipErrors, CLIENT_TEXT_MAX } from './client-text.ts';
export { settlesWithin } from './deadline.ts';
export { ProcessMonitor, type ProcessSample } from './process-monitor.ts';
