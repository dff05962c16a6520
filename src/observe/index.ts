// Observe: structured logs and metrics.
export { createLogger, LOG_LEVELS, LOG_MODULES, moduleLogger, ModuleLevelsError, parseModuleLevels, type Logger, type LogModule, type ModuleLevels } from './logger.ts';
export { ERROR_KINDS, PipelineMetrics, UNMATCHED_ROUTE, type ErrorKind, type LiveSummary, type RecentRates, type ScrapedFigures, type SinkWrites } from './metrics.ts';
export { clip, clipErrors, CLIENT_TEXT_MAX } from './client-text.ts';
export { settlesWithin } from './deadline.ts';
export { ProcessMonitor, type ProcessSample } from './process-monitor.ts';
