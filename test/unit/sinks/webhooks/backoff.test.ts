import { describe, expect, it } from 'vitest';

import {
  backoffCeilingMs,
  mayRetry,
  maxAttemptsWithin,
  retryDelayMs,
} from '../../../../sinks/webhooks/backoff.js';
import type { RetryPolicy } from '../../../../sinks/webhooks/destinations-file.js';
import { parseRetryAfterMs } from '../../../../sinks/webhooks/delivery.js';

const POLICY: RetryPolicy = {
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  maxAttempts: 8,
  maxTotalMs: 5_000,
};

describe('retry backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 30].map((attempt) => backoffCeilingMs(attempt, POLICY))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('draws each wait from the upper half of its ceiling', () => {
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      const ceilingMs = backoffCeilingMs(attempt, POLICY);
      expect(retryDelayMs(attempt, POLICY, () => 0)).toBe(ceilingMs / 2);
      expect(retryDelayMs(attempt, POLICY, () => 0.999_999)).toBe(ceilingMs);
      const drawn = retryDelayMs(attempt, POLICY);
      expect(drawn).toBeGreaterThanOrEqual(ceilingMs / 2);
      expect(drawn).toBeLessThanOrEqual(ceilingMs);
    }
  });

  it('spreads the waits of notifications that failed together', () => {
    const draws = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, POLICY)));
    expect(draws.size).toBeGreaterThan(10);
  });

  it('stops at the attempt count or the total time, whichever comes first', () => {
    expect(mayRetry(7, 1_000, 500, POLICY)).toBe(true);
    expect(mayRetry(8, 1_000, 500, POLICY)).toBe(false);
    expect(mayRetry(2, 4_600, 500, POLICY)).toBe(false);
    expect(mayRetry(2, 4_500, 500, POLICY)).toBe(true);
  });

  it('bounds the attempts a destination down for a while can see', () => {
    // Shortest waits 50, 100, 200, 400, 500…: 1 + 4 attempts fit in 750 ms, then one per 500 ms.
    expect(maxAttemptsWithin(750, POLICY)).toBe(5);
    expect(maxAttemptsWithin(1_250, POLICY)).toBe(6);
    expect(maxAttemptsWithin(60_000, POLICY)).toBe(POLICY.maxAttempts);
    expect(maxAttemptsWithin(60_000, { ...POLICY, maxAttempts: 100 })).toBe(
      // The total time ends it: 750 ms, then 8 more waits of 500 ms fit in 5 s.
      13,
    );
  });

  it('reads Retry-After as seconds or as a date', () => {
    const nowMs = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('3', nowMs)).toBe(3_000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', nowMs)).toBe(10_000);
    expect(parseRetryAfterMs('soon', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs(null, nowMs)).toBeUndefined();
  });
});
