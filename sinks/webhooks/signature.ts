/**
 * How the webhook sink signs each request, and how a receiver checks it (this file is exported as
 * `panacea/webhook-signature` for receivers written in Node; the README spells the scheme out for
 * the others).
 *
 * Scheme `v1`: the sender puts the time of sending, Unix epoch milliseconds, in
 * `Panacea-Timestamp`, and `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` in
 * `Panacea-Signature`, where `<body>` is the request body's exact bytes. The timestamp is inside
 * the signed text, so a receiver that refuses timestamps older than its tolerance refuses a replay
 * of a captured request once the tolerance has passed; within it, the `Idempotency-Key` header
 * (the notification id, the same on every retry) tells a repeat from a new notification. Each
 * retry is signed again with its own timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADERS = {
  timestamp: 'panacea-timestamp',
  signature: 'panacea-signature',
  idempotencyKey: 'idempotency-key',
} as const;

export const SIGNATURE_VERSION = 'v1';

/** What receivers should accept by default: five minutes either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** The hex HMAC-SHA256 of `<timestampMs>.<body>` under `secret`. */
export function computeSignature(
  secret: string,
  timestampMs: number,
  body: string | Buffer,
): string {
  return createHmac('sha256', secret).update(`${timestampMs}.`).update(body).digest('hex');
}

/** The signature headers of one request, sent at `timestampMs`. */
export function signatureHeaders(
  secret: string,
  body: string | Buffer,
  timestampMs: number,
): Record<string, string> {
  return {
    [SIGNATURE_HEADERS.timestamp]: String(timestampMs),
    [SIGNATURE_HEADERS.signature]: `${SIGNATURE_VERSION}=${computeSignature(secret, timestampMs, body)}`,
  };
}

export type SignatureCheck =
  | { valid: true; timestampMs: number }
  | {
      valid: false;
      reason: 'missing-header' | 'bad-timestamp' | 'outside-tolerance' | 'mismatch';
    };

/** Request headers as node:http gives them (lower-case names) or as a fetch `Headers`. */
export type ReceivedHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * Checks a received request: both headers present, the timestamp within `toleranceMs` of
 * `nowMs`, and one of the `v1=` signatures in `Panacea-Signature` (comma-separated, so a sender
 * rotating its secret may send two) equal to the one computed over the body's exact bytes.
 * The comparison takes the same time whatever the signature.
 */
export function verifySignature(
  secret: string,
  headers: ReceivedHeaders,
  body: string | Buffer,
  toleranceMs: number = DEFAULT_SIGNATURE_TOLERANCE_MS,
  nowMs: number = Date.now(),
): SignatureCheck {
  const timestampText = headerValue(headers, SIGNATURE_HEADERS.timestamp);
  const signatureText = headerValue(headers, SIGNATURE_HEADERS.signature);
  if (timestampText === undefined || signatureText === undefined) {
    return { valid: false, reason: 'missing-header' };
  }

  if (!/^\d{1,16}$/.test(timestampText)) return { valid: false, reason: 'bad-timestamp' };
  const timestampMs = Number(timestampText);
  if (Math.abs(nowMs - timestampMs) > toleranceMs) {
    return { valid: false, reason: 'outside-tolerance' };
  }

  const expected = Buffer.from(computeSignature(secret, timestampMs, body), 'hex');
  const matches = signatureText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${SIGNATURE_VERSION}=`))
    .map((part) => Buffer.from(part.slice(SIGNATURE_VERSION.length + 1), 'hex'))
    .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
  return matches ? { valid: true, timestampMs } : { valid: false, reason: 'mismatch' };
}

function headerValue(headers: ReceivedHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined;
  }
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join(',') : value;
}
