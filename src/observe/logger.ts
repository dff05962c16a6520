// Structured JSON logs (pino); child loggers carry the component and, per event, its event_id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'rtds' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
