/**
 * Structured logging for the pipeline's own life. One root pino logger; every component takes a
 * child bound to its name, so `component` is a field to filter on, never part of the message.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const LOG_FORMATS = ['json', 'pretty'] as const;
export { LOG_LEVELS };

// An unknown value falls back to the default here, because this runs when the module loads;
// loadConfig() refuses it with a message that names the variable.
function readLogLevel(): string {
  const level = process.env.LOG_LEVEL ?? 'info';
  return (LOG_LEVELS as readonly string[]).includes(level) ? level : 'info';
}

/**
 * `LOG_FORMAT=json` (one JSON object per line) or `pretty` (for a person). Default: pretty on a
 * terminal, JSON everywhere else, so log shippers get JSON without being told.
 */
function readDestination(): DestinationStream {
  const format = process.env.LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
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
