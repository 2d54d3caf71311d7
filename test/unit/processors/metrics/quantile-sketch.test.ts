import { describe, expect, it } from 'vitest';

import {
  MIN_INDEXABLE_VALUE,
  QuantileSketch,
  type QuantileSketchState,
} from '../../../../processors/metrics/quantile-sketch.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { seededRandom } from './support.js';

const ACCURACY = 0.01;
// Floating-point rounding at a bucket's edge may add a few ulps to the stated bound.
const TOLERANCE = ACCURACY * (1 + 1e-9);
const QUANTILES = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** The exact value the guarantee is stated against: rank floor(q·(n − 1)) of the sorted values. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

function sketchOf(values: number[]): QuantileSketch {
  const sketch = new QuantileSketch(ACCURACY);
  for (const value of values) sketch.add(value);
  return sketch;
}

function expectWithinAccuracy(sketch: QuantileSketch, values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  let worstRelativeError = 0;

  for (const q of QUANTILES) {
    const exact = exactQuantile(sorted, q);
    const estimate = sketch.quantile(q) ?? Number.NaN;
    const relativeError = exact === 0 ? estimate : Math.abs(estimate - exact) / exact;
    expect(relativeError, `q=${q} exact=${exact} estimate=${estimate}`).toBeLessThanOrEqual(
      TOLERANCE,
    );
    worstRelativeError = Math.max(worstRelativeError, relativeError);
  }
  return worstRelativeError;
}

const DISTRIBUTIONS: Record<string, (random: () => number) => number> = {
  'uniform 0 to 10 s': (random) => random() * 10_000,
  'log-normal around 200 ms': (random) =>
    Math.exp(
      Math.log(200) +
        1.5 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()),
    ),
  'heavy tail (Pareto, alpha 1.1)': (random) => 5 / Math.pow(1 - random(), 1 / 1.1),
  'twelve decades, 1 ns to 11 days': (random) => Math.pow(10, -6 + 12 * random()),
  'whole milliseconds with many ties': (random) => Math.floor(random() * 50),
};

describe('quantile sketch', () => {
  for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
    it(`keeps every quantile within 1% of the exact value: ${name}`, () => {
      const random = seededRandom(name.length * 7919);
      const values = Array.from({ length: 20_000 }, () => draw(random));

      const sketch = sketchOf(values);

      expectWithinAccuracy(sketch, values);
      expect(sketch.count).toBe(values.length);
      expect(sketch.max).toBe(Math.max(...values));
      expect(sketch.min).toBe(Math.min(...values));
    });
  }

  it('reports the exact maximum as quantile 1 and never a p99 above it', () => {
    const sketch = sketchOf([1, 2, 3, 1000.5]);

    expect(sketch.quantile(1)).toBe(1000.5);
    expect(sketch.quantile(0.99)).toBeLessThanOrEqual(1000.5);
    expect(sketch.quantile(0)).toBe(1);
  });

  it('counts values below a nanosecond as zero and reports them as 0', () => {
    const sketch = sketchOf([0, 0, MIN_INDEXABLE_VALUE / 2, 10]);

    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(1)).toBe(10);
    expect(sketch.count).toBe(4);
  });

  it('answers undefined when empty', () => {
    const sketch = new QuantileSketch();

    expect(sketch.quantile(0.5)).toBeUndefined();
    expect(sketch.max).toBeUndefined();
    expect(sketch.toJSON()).toEqual({
      relativeAccuracy: 0.01,
      count: 0,
      zeroCount: 0,
      min: null,
      max: null,
      indexDeltas: [],
      counts: [],
    });
  });

  it('merges per-agent sketches into exactly the sketch of all their values, in any order', () => {
    const random = seededRandom(42);
    const perAgent = Array.from({ length: 5 }, (_, agent) =>
      Array.from({ length: 500 + agent * 300 }, () => random() * 10 ** (agent + 1)),
    );
    const whole = sketchOf(perAgent.flat());

    const forwards = new QuantileSketch(ACCURACY);
    for (const values of perAgent) forwards.merge(sketchOf(values));
    const backwards = new QuantileSketch(ACCURACY);
    for (const values of [...perAgent].reverse()) backwards.merge(sketchOf(values));

    expect(forwards.toJSON()).toEqual(whole.toJSON());
    expect(backwards.toJSON()).toEqual(whole.toJSON());
    expectWithinAccuracy(forwards, perAgent.flat());
  });

  it('refuses to merge sketches of different accuracy', () => {
    const error = thrownPanaceaError(() =>
      new QuantileSketch(0.01).merge(new QuantileSketch(0.02)),
    );

    expect(error.code).toBe('METRICS_STATE_INVALID');
  });

  it('round-trips through JSON text exactly and stays compact', () => {
    const random = seededRandom(7);
    const values = Array.from({ length: 100_000 }, () =>
      Math.exp(Math.log(300) + 2 * (random() - 0.5)),
    );
    const sketch = sketchOf(values);

    const text = JSON.stringify(sketch);
    const restored = QuantileSketch.fromJSON(JSON.parse(text) as QuantileSketchState);

    expect(restored.toJSON()).toEqual(sketch.toJSON());
    for (const q of QUANTILES) expect(restored.quantile(q)).toBe(sketch.quantile(q));
    // 100 000 values over two e-folds: about 100 buckets, well under 1 KiB of JSON.
    expect(text.length).toBeLessThan(1024);
    restored.add(5);
    expect(restored.count).toBe(sketch.count + 1);
  });

  it('refuses a saved state whose buckets do not add up to its count', () => {
    const state = { ...sketchOf([1, 2, 3]).toJSON(), count: 4 };

    const error = thrownPanaceaError(() => QuantileSketch.fromJSON(state));

    expect(error.code).toBe('METRICS_STATE_INVALID');
    expect(error.message).toContain('the buckets hold 3 values but count is 4');
    const badAccuracy = { ...sketchOf([1]).toJSON(), relativeAccuracy: 2 };
    expect(thrownPanaceaError(() => QuantileSketch.fromJSON(badAccuracy)).code).toBe(
      'METRICS_STATE_INVALID',
    );
  });

  it('refuses negative, infinite and not-a-number values, and an accuracy outside (0, 1)', () => {
    for (const value of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(thrownPanaceaError(() => new QuantileSketch().add(value)).code).toBe('CONFIG_INVALID');
    }
    expect(thrownPanaceaError(() => new QuantileSketch(0)).code).toBe('CONFIG_INVALID');
    expect(thrownPanaceaError(() => new QuantileSketch(1)).code).toBe('CONFIG_INVALID');
  });
});
