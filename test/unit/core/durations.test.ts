import { describe, expect, it } from 'vitest';

import { formatDuration, parseDurationMs } from '../../../core/durations.js';

describe('durations', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['15m', 15 * 60_000],
    ['45s', 45_000],
    ['500ms', 500],
    [' 7d ', 7 * 86_400_000],
  ])('reads %s as %d ms', (text, expectedMs) => {
    expect(parseDurationMs(text)).toBe(expectedMs);
  });

  it.each(['', '30', 'd', '1.5h', '-5m', '30 d', '30D', '2w', '1y', '1234567890d'])(
    'refuses %j',
    (text) => {
      expect(parseDurationMs(text)).toBeUndefined();
    },
  );

  it.each([
    [30 * 86_400_000, '30d'],
    [36 * 3_600_000, '36h'],
    [90 * 60_000, '90m'],
    [61_000, '61s'],
    [1500, '1500ms'],
  ])('writes %d ms as %s, the shortest exact form', (durationMs, text) => {
    expect(formatDuration(durationMs)).toBe(text);
    expect(parseDurationMs(text)).toBe(durationMs);
  });
});
