/**
 * A mergeable quantile sketch for non-negative values (task durations in milliseconds), built on
 * the idea of DDSketch (Masson, Rim and Lee, VLDB 2019): each value is counted in a logarithmic
 * bucket, so the sketch keeps counts, never values, and two sketches merge by adding counts.
 *
 * Guarantee, with `relativeAccuracy` a (default 0.01): for any quantile q, `quantile(q)` is within
 * a·x of x, where x is the exact value of rank floor(q·(count − 1)) among the values added (the
 * lower of the two middle values for the median of an even count). Values below
 * MIN_INDEXABLE_VALUE (a nanosecond, in milliseconds) are counted as zero and reported as 0. Only
 * floating-point rounding at a bucket's edge can add to a (about 1e-12 relative).
 *
 * Why this sketch: merging is exact (integer counts added per bucket), so a workflow's percentiles
 * computed from its agents' sketches equal one sketch over all of the workflow's values, in any
 * order; and it is small. Values from MIN_INDEXABLE_VALUE to 1e12 ms span about 2 100 buckets at
 * a = 0.01, which bounds its size without ever collapsing buckets (collapsing would break the
 * guarantee). Count, minimum and maximum are kept exactly.
 */
import { PanaceaError } from '../../core/errors.js';

export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/** Smallest value given its own bucket: one nanosecond when values are milliseconds. */
export const MIN_INDEXABLE_VALUE = 1e-6;

/** The JSON form: bucket indexes ascending and delta-encoded, with their counts beside them. */
export interface QuantileSketchState {
  relativeAccuracy: number;
  count: number;
  zeroCount: number;
  /** Null when the sketch is empty. */
  min: number | null;
  max: number | null;
  /** First index, then the difference to the one before, so most entries are 1 or 2. */
  indexDeltas: number[];
  counts: number[];
}

export class QuantileSketch {
  readonly relativeAccuracy: number;
  #gamma: number;
  #logGamma: number;
  #buckets = new Map<number, number>();
  #zeroCount = 0;
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(relativeAccuracy: number = DEFAULT_RELATIVE_ACCURACY) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `quantile sketch relativeAccuracy: expected a number in (0, 1), got ${relativeAccuracy}`,
      );
    }

    this.relativeAccuracy = relativeAccuracy;
    this.#gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.#logGamma = Math.log(this.#gamma);
  }

  get count(): number {
    return this.#count;
  }

  /** The largest value added, exactly; undefined when empty. */
  get max(): number | undefined {
    return this.#count === 0 ? undefined : this.#max;
  }

  get min(): number | undefined {
    return this.#count === 0 ? undefined : this.#min;
  }

  add(value: number): void {
    if (!Number.isFinite(value) || value < 0) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `quantile sketch: expected a finite value of 0 or more, got ${value}`,
      );
    }

    if (value < MIN_INDEXABLE_VALUE) {
      this.#zeroCount += 1;
    } else {
      const index = this.#indexOf(value);
      this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    }
    this.#count += 1;
    this.#min = Math.min(this.#min, value);
    this.#max = Math.max(this.#max, value);
  }

  /** Adds another sketch's counts into this one; the other is left unchanged. */
  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `cannot merge a sketch of relative accuracy ${other.relativeAccuracy} ` +
          `into one of ${this.relativeAccuracy}`,
      );
    }

    for (const [index, count] of other.#buckets) {
      this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + count);
    }
    this.#zeroCount += other.#zeroCount;
    this.#count += other.#count;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  /**
   * The value at quantile q (0 to 1), within the stated relative accuracy; undefined when empty.
   * Clamped to the exact minimum and maximum, which only brings it closer to the true value.
   */
  quantile(q: number): number | undefined {
    if (!(q >= 0 && q <= 1)) {
      throw new PanaceaError('CONFIG_INVALID', `quantile: expected 0 to 1, got ${q}`);
    }
    if (this.#count === 0) return undefined;

    const rank = q * (this.#count - 1);
    let seen = this.#zeroCount;
    if (seen > rank) return 0;
    for (const index of this.#sortedIndexes()) {
      seen += this.#buckets.get(index) ?? 0;
      if (seen > rank) return this.#clamp(this.#valueOf(index));
    }
    return this.#max;
  }

  toJSON(): QuantileSketchState {
    const indexes = this.#sortedIndexes();

    return {
      relativeAccuracy: this.relativeAccuracy,
      count: this.#count,
      zeroCount: this.#zeroCount,
      min: this.#count === 0 ? null : this.#min,
      max: this.#count === 0 ? null : this.#max,
      indexDeltas: indexes.map((index, position) => index - (indexes[position - 1] ?? 0)),
      counts: indexes.map((index) => this.#buckets.get(index) ?? 0),
    };
  }

  /** Rebuilds a sketch from its JSON form, refusing a state that does not add up. */
  static fromJSON(state: QuantileSketchState): QuantileSketch {
    const problem = describeStateProblem(state);
    if (problem !== undefined) {
      throw new PanaceaError('METRICS_STATE_INVALID', `quantile sketch state: ${problem}`);
    }

    const sketch = new QuantileSketch(state.relativeAccuracy);

    let index = 0;
    state.indexDeltas.forEach((delta, position) => {
      index += delta;
      sketch.#buckets.set(index, state.counts[position] ?? 0);
    });
    sketch.#zeroCount = state.zeroCount;
    sketch.#count = state.count;
    if (state.min !== null && state.max !== null) {
      sketch.#min = state.min;
      sketch.#max = state.max;
    }
    return sketch;
  }

  // Bucket k holds (gamma^(k-1), gamma^k]; its middle 2·gamma^k/(gamma+1) is within a of both ends.
  #indexOf(value: number): number {
    return Math.ceil(Math.log(value) / this.#logGamma);
  }

  #valueOf(index: number): number {
    return (2 * Math.pow(this.#gamma, index)) / (this.#gamma + 1);
  }

  #clamp(value: number): number {
    return Math.min(this.#max, Math.max(this.#min, value));
  }

  #sortedIndexes(): number[] {
    return [...this.#buckets.keys()].sort((a, b) => a - b);
  }
}

function describeStateProblem(state: QuantileSketchState): string | undefined {
  const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && Number(value) >= 0;

  if (!(state.relativeAccuracy > 0 && state.relativeAccuracy < 1)) {
    return `relativeAccuracy must be in (0, 1), got ${state.relativeAccuracy}`;
  }
  if (!isCount(state.count) || !isCount(state.zeroCount)) {
    return `count and zeroCount must be counts, got ${state.count} and ${state.zeroCount}`;
  }
  if (!Array.isArray(state.indexDeltas) || !Array.isArray(state.counts)) {
    return 'indexDeltas and counts must be arrays';
  }
  if (state.indexDeltas.length !== state.counts.length) {
    return `${state.indexDeltas.length} indexDeltas but ${state.counts.length} counts`;
  }
  if (
    !state.indexDeltas.every(
      (delta, position) => Number.isSafeInteger(delta) && (position === 0 || delta > 0),
    )
  ) {
    return 'indexDeltas must be integers, ascending after the first';
  }
  if (!state.counts.every((count) => Number.isSafeInteger(count) && count > 0)) {
    return 'every bucket count must be a positive integer';
  }

  const total = state.counts.reduce((sum, count) => sum + count, state.zeroCount);
  if (total !== state.count) {
    return `the buckets hold ${total} values but count is ${state.count}`;
  }
  if (state.count > 0 && (typeof state.min !== 'number' || typeof state.max !== 'number')) {
    return 'min and max must be numbers when the sketch is not empty';
  }
  return undefined;
}
