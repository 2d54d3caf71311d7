/**
 * Structured logging for the pipeline's own life. One root pino logger; every component takes a
 * child bound to its name, so `component` is a field to filter on, never part of the message.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function readLogLevel(): string {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  return level;
}

/**
 * `LOG_FORMAT=json` (one JSON object per line) or `pretty` (for a person). Default: pretty on a
 * terminal, JSON everywhere else, so log shippers get JSON without being told.
 */
function readDestination(): DestinationStream {
  const format = process.env.LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    throw new Error(`LOG_FORMAT: expected json or pretty, got "${format}"`);
  }
  // Logs go to stderr so that a command's stdout carries only its result (KAFKA_BROKERS=… lines,
  // summaries) and can be piped.
  return format === 'pretty'
    ? pretty({ destination: 2, sync: true, ignore: 'pid,hostname,service' })
    : pino.destination({ fd: 2, sync: true });
}

export const rootLogger: Logger = pino(
  { level: readLogLevel(), base: { service: 'panacea' } },
  readDestination(),
);

export function componentLogger(component: string): Logger {
  return rootLogger.child({ component });
}
