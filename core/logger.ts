/**
 * Structured logging for the pipeline's own life. One root pino logger; every component takes a
 * child bound to its name, so `component` is a field to filter on, never part of the message.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function readLogLevel(): string {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  return level;
}

// Logs go to stderr so that a command's stdout carries only its result (KAFKA_BROKERS=… lines,
// summaries) and can be piped.
export const rootLogger: Logger = pino(
  { level: readLogLevel(), base: { service: 'panacea' } },
  pino.destination({ fd: 2, sync: true }),
);

export function componentLogger(component: string): Logger {
  return rootLogger.child({ component });
}
