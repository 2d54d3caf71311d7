/**
 * What every benchmark shares to read its options and print its figures: integer options with a
 * range, rounding, numbers with thousands separators, the machine's load, and lines on stdout.
 */
import os from 'node:os';

/** An integer option within [min, max], or the fallback when it is not given. */
export function parseInteger(
  option: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${option}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function round(value: number, decimals = 0): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

/** The 1-minute load average: how busy the machine was while the figures were taken. */
export function loadAverage1m(): number {
  return round(os.loadavg()[0] ?? 0, 2);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
