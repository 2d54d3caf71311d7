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

export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * `LOG_LEVEL`: a default level and per-component levels, comma-separated, e.g.
 * `info,stage.sink-elasticsearch=debug,stage=warn`. A component takes the level of the longest
 * name that equals it or is a dot-separated prefix of it (`stage` covers `stage.enrich`).
 */
export interface LogLevels {
  defaultLevel: LogLevel;
  byComponent: Map<string, LogLevel>;
}

function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

/** Parses `LOG_LEVEL`; undefined when any part is not a level or `component=level`. */
export function parseLogLevels(text: string | undefined): LogLevels | undefined {
  const levels: LogLevels = { defaultLevel: 'info', byComponent: new Map() };
  if (text === undefined || text.trim() === '') return levels;

  for (const part of text.split(',').map((entry) => entry.trim())) {
    const separator = part.indexOf('=');
    if (separator < 0) {
      if (!isLogLevel(part)) return undefined;
      levels.defaultLevel = part;
      continue;
    }
    const component = part.slice(0, separator).trim();
    const level = part.slice(separator + 1).trim();
    if (component === '' || !isLogLevel(level)) return undefined;
    levels.byComponent.set(component, level);
  }
  return levels;
}

/** The level of a component under `levels` (see LogLevels). */
export function levelOf(levels: LogLevels, component: string): LogLevel {
  let match: { name: string; level: LogLevel } | undefined;
  for (const [name, level] of levels.byComponent) {
    const covers = component === name || component.startsWith(`${name}.`);
    if (covers && name.length > (match?.name.length ?? -1)) match = { name, level };
  }
  return match?.level ?? levels.defaultLevel;
}

// A malformed value falls back to the defaults here, because this runs when the module loads;
// loadConfig() refuses it with a message that names the variable.
const logLevels: LogLevels = parseLogLevels(process.env.LOG_LEVEL) ?? {
  defaultLevel: 'info',
  byComponent: new Map(),
};

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
  { level: logLevels.defaultLevel, base: { service: 'panacea' } },
  readDestination(),
);

export function componentLogger(component: string): Logger {
  const level = levelOf(logLevels, component);
  return level === logLevels.defaultLevel
    ? rootLogger.child({ component })
    : rootLogger.child({ component }, { level });
}
