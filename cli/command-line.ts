/**
 * Shared plumbing of the `panacea` commands: the usage error type, exit codes, and the small
 * helpers every command uses to report to a person.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { messageOf, PanaceaError } from '../core/errors.js';

export const EXIT_OK = 0;
/** Some input was rejected, the rest was handled. */
export const EXIT_PARTIAL = 1;
/** Usage, configuration or connection error: nothing useful happened. */
export const EXIT_FAILURE = 2;
/** Stopped by SIGINT or SIGTERM before the work was done, as a shell reports a SIGINT. */
export const EXIT_INTERRUPTED = 130;

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<T extends Options>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new PanaceaError('USAGE', messageOf(error));
  }
}

export function parsePort(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new PanaceaError('USAGE', `${option}: expected a port from 1 to 65535, got "${value}"`);
  }
  return port;
}

/** Prints a line for a person on stdout (results) — logs go to stderr through pino. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Resolves with the signal's name at the first SIGINT or SIGTERM: the request to stop cleanly. */
export function untilStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => resolve(signal));
  });
}
