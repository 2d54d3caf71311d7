/**
 * Delivers one notification to one destination: signs and sends the request, classifies the
 * answer, and retries on the destination's schedule (backoff.ts) until it is accepted, refused,
 * or the attempts or the time run out.
 *
 * An answer is: accepted (2xx); worth another attempt (no answer, a timeout, 408, 425, 429, 5xx;
 * a `Retry-After` lengthens the wait up to `maxDelay`); or refused for good (any other 4xx, and a
 * redirect, which is not followed so that a destination cannot send the request to a host its
 * allowlist does not name). The caller dead-letters what is not accepted.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { messageOf, PanaceaError } from '../../core/errors.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { mayRetry, retryDelayMs } from './backoff.js';
import type { Destination } from './destinations-file.js';
import type { DeliveryRequest } from './payloads.js';
import { SIGNATURE_HEADERS, signatureHeaders } from './signature.js';

const USER_AGENT = 'panacea-webhooks/1';
/** How much of a refusing answer's body goes into the dead-letter reason. */
const REASON_BODY_CHARACTERS = 300;
/** Longest sleep between heartbeats while waiting for the next attempt, ms. */
const HEARTBEAT_SLICE_MS = 3_000;
const RETRIABLE_STATUSES = new Set([408, 425, 429]);

export type AttemptOutcome =
  | { kind: 'accepted'; status: number }
  | { kind: 'retriable'; reason: string; status?: number; retryAfterMs?: number }
  | { kind: 'refused'; reason: string; status: number };

/** One attempt, as published on the sink's diagnostics channel and passed to `onAttempt`. */
export interface AttemptReport {
  destination: string;
  notificationId: string;
  attempt: number;
  outcome: AttemptOutcome['kind'];
  status?: number;
  reason?: string;
  /** The wait before the next attempt, when there is one. */
  nextDelayMs?: number;
  durationMs: number;
}

export interface DeliveryOptions {
  destination: Destination;
  notification: AlertNotification;
  request: DeliveryRequest;
  /** Aborts when the stage stops: the delivery ends with STAGE_STOPPED, not dead-lettered. */
  signal: AbortSignal;
  /** Keeps the consumer group membership alive during long retries. */
  heartbeat(): Promise<void>;
  onAttempt?(report: AttemptReport): void;
  random?: () => number;
}

export type DeliveryResult =
  | { delivered: true; attempts: number; status: number }
  | { delivered: false; attempts: number; error: PanaceaError };

export async function deliverWithRetries(options: DeliveryOptions): Promise<DeliveryResult> {
  const { destination, notification, request, signal } = options;
  const firstAttemptAtMs = Date.now();
  let attempt = 0;

  for (;;) {
    attempt += 1;
    const startedAtMs = Date.now();
    const outcome = await attemptOnce(destination, request, notification.notificationId, signal);
    const report: AttemptReport = {
      destination: destination.name,
      notificationId: notification.notificationId,
      attempt,
      outcome: outcome.kind,
      durationMs: Date.now() - startedAtMs,
      ...('status' in outcome && outcome.status !== undefined ? { status: outcome.status } : {}),
      ...('reason' in outcome ? { reason: outcome.reason } : {}),
    };

    if (outcome.kind === 'accepted') {
      options.onAttempt?.(report);
      return { delivered: true, attempts: attempt, status: outcome.status };
    }
    if (outcome.kind === 'refused') {
      options.onAttempt?.(report);
      return {
        delivered: false,
        attempts: attempt,
        error: deliveryError('DELIVERY_REFUSED', destination, attempt, outcome.reason),
      };
    }

    const backoffMs = retryDelayMs(attempt, destination.retry, options.random);
    const delayMs = Math.max(
      backoffMs,
      Math.min(outcome.retryAfterMs ?? 0, destination.retry.maxDelayMs),
    );
    const elapsedMs = Date.now() - firstAttemptAtMs;
    if (!mayRetry(attempt, elapsedMs, delayMs, destination.retry)) {
      options.onAttempt?.(report);
      const spent = `${attempt} ${attempt === 1 ? 'attempt' : 'attempts'} in ${elapsedMs} ms`;
      return {
        delivered: false,
        attempts: attempt,
        error: deliveryError(
          'DELIVERY_FAILED',
          destination,
          attempt,
          `${spent}; last: ${outcome.reason}`,
        ),
      };
    }
    options.onAttempt?.({ ...report, nextDelayMs: delayMs });
    await waitWithHeartbeats(delayMs, signal, options.heartbeat);
  }
}

/** Sends the request once; throws STAGE_STOPPED when `signal` aborts. */
export async function attemptOnce(
  destination: Destination,
  request: DeliveryRequest,
  idempotencyKey: string,
  signal: AbortSignal,
): Promise<AttemptOutcome> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    [SIGNATURE_HEADERS.idempotencyKey]: idempotencyKey,
    ...(destination.secret === undefined
      ? {}
      : signatureHeaders(destination.secret, request.body, Date.now())),
  };

  // A timer of our own, held until the attempt ends. AbortSignal.timeout() inside
  // AbortSignal.any() is only weakly held on Node 20: once garbage is collected while the request
  // waits, the timeout never fires and a receiver that never answers holds the attempt for
  // undici's 300 s headers timeout instead of `timeoutMs`.
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, destination.timeoutMs);
  try {
    return await sendAndRead(destination, request, headers, signal, timeout.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function sendAndRead(
  destination: Destination,
  request: DeliveryRequest,
  headers: Record<string, string>,
  signal: AbortSignal,
  timeoutSignal: AbortSignal,
): Promise<AttemptOutcome> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeoutSignal]),
    });
  } catch (error) {
    if (signal.aborted) throw stopped(destination);
    if (timeoutSignal.aborted) {
      return { kind: 'retriable', reason: `no answer within ${destination.timeoutMs} ms` };
    }
    return { kind: 'retriable', reason: `request failed: ${networkReason(error)}` };
  }

  const { status } = response;
  if (status >= 200 && status < 300) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: 'accepted', status };
  }
  const answer = await answerText(response, signal, destination);
  if (status >= 300 && status < 400) {
    return {
      kind: 'refused',
      status,
      reason: `HTTP ${status}: redirects are not followed (to ${response.headers.get('location') ?? 'nowhere'})`,
    };
  }
  if (status >= 500 || RETRIABLE_STATUSES.has(status)) {
    const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), Date.now());
    return {
      kind: 'retriable',
      status,
      reason: `HTTP ${status}${answer}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  return { kind: 'refused', status, reason: `HTTP ${status}${answer}` };
}

/** `Retry-After` as seconds or an HTTP date, in ms from `nowMs`; undefined when absent or bad. */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const dateMs = Date.parse(value);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}

async function answerText(
  response: Response,
  signal: AbortSignal,
  destination: Destination,
): Promise<string> {
  try {
    const text = (await response.text()).trim().replace(/\s+/g, ' ');
    return text === '' ? '' : `: ${text.slice(0, REASON_BODY_CHARACTERS)}`;
  } catch {
    if (signal.aborted) throw stopped(destination);
    return '';
  }
}

/** Sleeps `delayMs` in slices, heartbeating the group between them; STAGE_STOPPED on abort. */
async function waitWithHeartbeats(
  delayMs: number,
  signal: AbortSignal,
  heartbeat: () => Promise<void>,
): Promise<void> {
  let remainingMs = delayMs;
  while (remainingMs > 0) {
    const sliceMs = Math.min(remainingMs, HEARTBEAT_SLICE_MS);
    try {
      await sleep(sliceMs, undefined, { signal });
    } catch {
      throw new PanaceaError('STAGE_STOPPED', 'stopped while waiting to retry a delivery');
    }
    remainingMs -= sliceMs;
    // A heartbeat refused during a rebalance is not this delivery's failure: the batch's commit
    // is what notices the partition moved (see core/stage-runner.ts).
    await heartbeat().catch(() => undefined);
  }
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof cause?.message === 'string' ? cause.message : messageOf(error);
}

function deliveryError(
  code: 'DELIVERY_FAILED' | 'DELIVERY_REFUSED',
  destination: Destination,
  attempts: number,
  detail: string,
): PanaceaError {
  return new PanaceaError(
    code,
    `destination "${destination.name}" (${destination.type}): ${detail}`,
    {
      destination: destination.name,
      attempts,
    },
  );
}

function stopped(destination: Destination): PanaceaError {
  return new PanaceaError(
    'STAGE_STOPPED',
    `stopped during a delivery to destination "${destination.name}"`,
  );
}
