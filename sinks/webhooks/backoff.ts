/**
 * The retry schedule of one notification to one destination: exponential backoff with jitter and
 * a cap, ended by an attempt count or a total time, whichever comes first.
 *
 * The wait before attempt n+1 is drawn from [d/2, d] where d = min(maxDelay, initialDelay·2^(n-1))
 * ("equal jitter"): the random half spreads the retries of many notifications that failed at the
 * same moment, and the fixed half keeps the schedule from collapsing to zero, so a destination
 * that stays down sees a bounded number of requests, never a storm.
 */
import type { RetryPolicy } from './destinations-file.js';

/** The wait before the attempt after `attempt` (1 = the first attempt), ms. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceilingMs = backoffCeilingMs(attempt, policy);
  return Math.round(ceilingMs / 2 + (random() * ceilingMs) / 2);
}

/** The longest wait after `attempt`, before jitter, ms. */
export function backoffCeilingMs(attempt: number, policy: RetryPolicy): number {
  // 2^attempt overflows nothing before the cap applies: the exponent is bounded by maxAttempts.
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
}

/**
 * Whether another attempt may start `delayMs` from now, after `attemptsMade` attempts of which
 * the first started `elapsedMs` ago.
 */
export function mayRetry(
  attemptsMade: number,
  elapsedMs: number,
  delayMs: number,
  policy: RetryPolicy,
): boolean {
  return attemptsMade < policy.maxAttempts && elapsedMs + delayMs <= policy.maxTotalMs;
}

/**
 * The most attempts the policy can make within `windowMs` of the first one (the first included),
 * with every wait at its shortest: what a test may count at a destination that was down that long.
 */
export function maxAttemptsWithin(windowMs: number, policy: RetryPolicy): number {
  let attempts = 1;
  let elapsedMs = 0;
  for (;;) {
    const shortestMs = Math.floor(backoffCeilingMs(attempts, policy) / 2);
    if (!mayRetry(attempts, elapsedMs, shortestMs, policy) || elapsedMs + shortestMs > windowMs) {
      return attempts;
    }
    elapsedMs += shortestMs;
    attempts += 1;
  }
}
