/**
 * Option handling the metrics modules share: defaults fill only the options left undefined, and a
 * value out of range is refused at construction with the option's name, the range and the value.
 */
import { PanaceaError } from '../../core/errors.js';
import { describeValue } from '../../schemas/describe-value.js';

/** Leaves out keys set to undefined, so that spreading the rest over defaults keeps those. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/** Throws CONFIG_INVALID unless `value` is an integer from `min` to `max`. */
export function requireInteger(
  component: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
): void {
  if (Number.isInteger(value) && Number(value) >= min && Number(value) <= max) return;
  throw new PanaceaError(
    'CONFIG_INVALID',
    `${component} option ${name}: expected an integer from ${min} to ${max}, ` +
      `got ${describeValue(value)}`,
    { field: name },
  );
}
