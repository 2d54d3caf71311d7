import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  computeSignature,
  signatureHeaders,
  verifySignature,
} from '../../../../sinks/webhooks/signature.js';

const SECRET = 'receiver-shared-secret';
const BODY = '{"notificationId":"f1:2026-01-01T00:00:00.000Z:firing:1","state":"firing"}';
const SENT_AT_MS = 1_767_225_600_000;

describe('webhook signature', () => {
  it('is the hex HMAC-SHA256 of "<timestamp>.<body>", as the README documents', () => {
    const expected = createHmac('sha256', SECRET).update(`${SENT_AT_MS}.${BODY}`).digest('hex');
    expect(computeSignature(SECRET, SENT_AT_MS, BODY)).toBe(expected);
    expect(signatureHeaders(SECRET, BODY, SENT_AT_MS)).toEqual({
      'panacea-timestamp': String(SENT_AT_MS),
      'panacea-signature': `v1=${expected}`,
    });
  });

  it('verifies a request as sent, with node:http headers or fetch Headers', () => {
    const headers = signatureHeaders(SECRET, BODY, SENT_AT_MS);
    expect(verifySignature(SECRET, headers, BODY, 60_000, SENT_AT_MS + 1_000)).toEqual({
      valid: true,
      timestampMs: SENT_AT_MS,
    });
    const fetchHeaders = new Headers({
      'Panacea-Timestamp': headers['panacea-timestamp'] as string,
      'Panacea-Signature': headers['panacea-signature'] as string,
    });
    expect(verifySignature(SECRET, fetchHeaders, Buffer.from(BODY), 60_000, SENT_AT_MS).valid).toBe(
      true,
    );
  });

  it('fails when one byte of the body, the timestamp or the secret differs', () => {
    const headers = signatureHeaders(SECRET, BODY, SENT_AT_MS);
    const altered = BODY.replace('firing"}', 'resolved"}');
    expect(verifySignature(SECRET, headers, altered, 60_000, SENT_AT_MS)).toEqual({
      valid: false,
      reason: 'mismatch',
    });
    const moved = { ...headers, 'panacea-timestamp': String(SENT_AT_MS + 1) };
    expect(verifySignature(SECRET, moved, BODY, 60_000, SENT_AT_MS).valid).toBe(false);
    expect(verifySignature(`${SECRET}x`, headers, BODY, 60_000, SENT_AT_MS).valid).toBe(false);
  });

  it('refuses a replay outside the tolerance, either way', () => {
    const headers = signatureHeaders(SECRET, BODY, SENT_AT_MS);
    expect(verifySignature(SECRET, headers, BODY, 60_000, SENT_AT_MS + 60_001)).toEqual({
      valid: false,
      reason: 'outside-tolerance',
    });
    expect(verifySignature(SECRET, headers, BODY, 60_000, SENT_AT_MS - 60_001).valid).toBe(false);
  });

  it('refuses missing headers and a timestamp that is not a number', () => {
    expect(verifySignature(SECRET, {}, BODY)).toEqual({ valid: false, reason: 'missing-header' });
    const headers = { ...signatureHeaders(SECRET, BODY, SENT_AT_MS), 'panacea-timestamp': '1e12' };
    expect(verifySignature(SECRET, headers, BODY, 60_000, SENT_AT_MS)).toEqual({
      valid: false,
      reason: 'bad-timestamp',
    });
  });

  it('accepts any of several v1 signatures, for a secret being rotated', () => {
    const current = signatureHeaders(SECRET, BODY, SENT_AT_MS)['panacea-signature'] as string;
    const old = `v1=${computeSignature('the-old-secret-value', SENT_AT_MS, BODY)}`;
    const headers = {
      'panacea-timestamp': String(SENT_AT_MS),
      'panacea-signature': `${old}, ${current}`,
    };
    expect(verifySignature(SECRET, headers, BODY, 60_000, SENT_AT_MS).valid).toBe(true);
    expect(
      verifySignature(
        SECRET,
        { ...headers, 'panacea-signature': 'v0=abcd' },
        BODY,
        60_000,
        SENT_AT_MS,
      ).valid,
    ).toBe(false);
  });
});
