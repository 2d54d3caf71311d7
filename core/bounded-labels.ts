/**
 * Keeps a Prometheus label from growing without end: the first `maxValues` distinct values keep
 * their own label value, every later one is reported as `other`. Each label value is a time series
 * per metric in Prometheus, so an unbounded label (agent ids) would grow its memory with the fleet.
 */
export const OVERFLOW_LABEL = 'other';

export class BoundedLabels {
  readonly maxValues: number;
  readonly #tracked = new Set<string>();

  constructor(maxValues: number) {
    if (!Number.isInteger(maxValues) || maxValues < 0) {
      throw new RangeError(`maxValues: expected a whole number from 0, got ${maxValues}`);
    }
    this.maxValues = maxValues;
  }

  /** The value itself while it is among the first `maxValues` seen, `other` otherwise. */
  labelFor(value: string): string {
    if (this.#tracked.has(value)) return value;
    if (this.#tracked.size >= this.maxValues) return OVERFLOW_LABEL;

    this.#tracked.add(value);
    return value;
  }

  /** How many values have a label of their own. */
  get trackedCount(): number {
    return this.#tracked.size;
  }
}
