// What a failed command prints: one line that names the problem — a user can act on it — or an internal error, with the stack only when asked for.
import { ConfigError } from '../config/index.ts';
import { RuleSetError } from '../decide/rule-set.ts';
import { FeatureSpecError } from '../features/spec.ts';
import { ModuleLevelsError } from '../observe/logger.ts';
import { ApiKeyFormatError } from '../api/api-keys.ts';
import { PortUnavailableError } from '../api/http-port.ts';
import { TrainingHistoryError } from '../app/activation-guard.ts';
import { ArtifactError } from '../score/artifact.ts';
import { DatabaseLockedError, DatabaseUnreachableError } from '../store/database-errors.ts';
import { RuleSetVersionError } from '../store/rule-sets.ts';
import { LogFolderError } from '../transport/embedded/log-folder.ts';
import { TopicNameError } from '../transport/kafka/topics.ts';
import { CaptureFolderError } from './capture-files.ts';
import { CaptureSourceError } from './capture-sources.ts';
import { CommandError, EXIT_FAILED, EXIT_USAGE } from './command-error.ts';
import { fileProblem } from './file-problem.ts';
import { TargetUnreachableError } from './traffic-targets.ts';

/** Failures whose own message already says what is wrong and where, in the user's terms. */
const SELF_EXPLAINED = [
  ArtifactError,
  RuleSetVersionError,
  TrainingHistoryError,
  FeatureSpecError,
  LogFolderError,
  TopicNameError,
  CaptureFolderError,
  CaptureSourceError,
  PortUnavailableError,
  DatabaseLockedError,
  DatabaseUnreachableError,
  TargetUnreachableError,
] as const;

/** Settings refused as read: the fix is in the environment (or the flag that set it). */
const BAD_SETTING = [ConfigError, ModuleLevelsError, ApiKeyFormatError] as const;

/** Most problems of an invalid rule set named on its one line. */
const RULE_PROBLEMS_SHOWN = 3;

export interface Failure {
  /** Printed on stderr as it is: one line. */
  line: string;
  exitCode: number;
}

/** `err`, the failure of `rtds <command>`, as the line main prints and the exit code. */
export function describeFailure(err: unknown, command: string): Failure {
  const said = (text: string, exitCode = EXIT_FAILED): Failure => ({ line: `rtds ${command}: ${oneLine(text)}`, exitCode });
  if (err instanceof CommandError) return { line: oneLine(err.message), exitCode: err.exitCode };
  // A connection refused to several addresses of one name (localhost: ::1 and 127.0.0.1) comes as one error per address.
  if (err instanceof AggregateError && err.errors.length > 0 && err.message === '') return describeFailure(err.errors[0], command);
  if (BAD_SETTING.some((kind) => err instanceof kind)) return said(`configuration error: ${(err as Error).message} (every setting: rtds config)`, EXIT_USAGE);
  if (err instanceof RuleSetError) {
    const shown = err.problems.slice(0, RULE_PROBLEMS_SHOWN).join('; ');
    const more = err.problems.length - RULE_PROBLEMS_SHOWN;
    return said(`invalid rule set ${err.source}: ${shown}${more > 0 ? `; and ${more} more` : ''}`);
  }
  if (SELF_EXPLAINED.some((kind) => err instanceof kind)) return said((err as Error).message);
  const kafka = kafkaNetworkFailure(err);
  if (kafka !== undefined) return said(`cannot reach the Kafka brokers ${process.env.RTDS_KAFKA_BROKERS ?? ''} (RTDS_KAFKA_BROKERS): ${kafka}`);
  const file = fileProblem(err);
  if (file !== undefined) return said(`cannot open ${file.path}: ${file.reason}`);
  const message = err instanceof Error ? err.message : String(err);
  // A bug, or a failure RTDS does not name yet: where it happened is for a rerun with the stack.
  return said(`internal error: ${message} (rerun with RTDS_LOG_LEVEL=debug for the stack trace)`);
}

/** The Kafka client's network error (code PLT_KFK_NETWORK) in `err`, its causes or the errors it aggregates: its message; undefined when there is none. */
function kafkaNetworkFailure(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 6) return undefined;
  const { code, message, cause, errors } = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (code === 'PLT_KFK_NETWORK') return kafkaNetworkFailure(cause, depth + 1) ?? (typeof message === 'string' ? message : 'network error');
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = kafkaNetworkFailure(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The stack of `err` and of every cause under it, for RTDS_LOG_LEVEL=debug. */
export function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(`${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return parts.join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'no message';
}
