import { describe, expect, it } from 'vitest';

import {
  formatTimestamp,
  MAX_EPOCH_MS,
  MIN_EPOCH_MS,
  normaliseTimestamp,
} from '../../../schemas/timestamp.js';

const TIMESTAMP_MS = Date.UTC(2026, 0, 15, 9, 30, 0, 250);

describe('timestamp normalisation', () => {
  describe('accepted forms', () => {
    it.each([
      ['epoch milliseconds', TIMESTAMP_MS, TIMESTAMP_MS],
      ['the smallest accepted epoch milliseconds', MIN_EPOCH_MS, MIN_EPOCH_MS],
      ['the largest representable instant', MAX_EPOCH_MS, MAX_EPOCH_MS],
      ['RFC 3339 in UTC with milliseconds', '2026-01-15T09:30:00.250Z', TIMESTAMP_MS],
      ['RFC 3339 without fraction', '2026-01-15T09:30:00Z', TIMESTAMP_MS - 250],
      ['RFC 3339 with a one-digit fraction', '2026-01-15T09:30:00.2Z', TIMESTAMP_MS - 50],
      ['RFC 3339 with nanoseconds, truncated', '2026-01-15T09:30:00.250999999Z', TIMESTAMP_MS],
      ['RFC 3339 with offset +01:00', '2026-01-15T10:30:00.250+01:00', TIMESTAMP_MS],
      ['RFC 3339 with offset -05:30', '2026-01-15T04:00:00.250-05:30', TIMESTAMP_MS],
      ['RFC 3339 with offset -00:00', '2026-01-15T09:30:00.250-00:00', TIMESTAMP_MS],
      ['RFC 3339 with offset +23:59', '2026-01-16T09:29:00.250+23:59', TIMESTAMP_MS],
      ['a lowercase t and z', '2026-01-15t09:30:00.250z', TIMESTAMP_MS],
      ['a space between date and time', '2026-01-15 09:30:00.250Z', TIMESTAMP_MS],
      ['February 29 of the leap year 2024', '2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
      ['the last second of a year', '2025-12-31T23:59:59.999Z', Date.UTC(2026, 0, 1) - 1],
      ['the last instant of year 9999', '9999-12-31T23:59:59.999Z', MAX_EPOCH_MS],
      ['the earliest accepted written time', '1973-03-03T09:46:40Z', MIN_EPOCH_MS],
    ])('accepts %s', (_name, input, expectedMs) => {
      expect(normaliseTimestamp(input)).toEqual({ ok: true, epochMs: expectedMs });
    });
  });

  describe('refused forms', () => {
    it.each([
      ['one millisecond below the smallest accepted', MIN_EPOCH_MS - 1, 'looks like epoch seconds'],
      ['epoch seconds, with the milliseconds to send', 1_768_469_400, '(1768469400000)'],
      ['zero', 0, 'looks like epoch seconds'],
      ['a negative number', -1, 'must not be negative, got -1'],
      ['a fraction of a millisecond', TIMESTAMP_MS + 0.5, 'must be an integer'],
      ['NaN', Number.NaN, 'must be an integer'],
      ['infinity', Number.POSITIVE_INFINITY, 'must be an integer'],
      [
        'one millisecond past the largest instant',
        MAX_EPOCH_MS + 1,
        'past the largest accepted instant',
      ],
      ['RFC 3339 without offset', '2026-01-15T09:30:00', 'add "Z" for UTC or "+hh:mm"'],
      ['RFC 3339 with fraction and no offset', '2026-01-15T09:30:00.250', 'add "Z" for UTC'],
      ['February 29 of 2026', '2026-02-29T00:00:00Z', 'not a real calendar date'],
      ['February 30', '2026-02-30T00:00:00Z', 'not a real calendar date'],
      ['April 31', '2026-04-31T00:00:00Z', 'not a real calendar date'],
      ['month 13', '2026-13-01T00:00:00Z', 'not a real calendar date'],
      ['day 0', '2026-01-00T00:00:00Z', 'not a real calendar date'],
      ['hour 24', '2026-01-15T24:00:00Z', 'not a real calendar date'],
      ['second 60', '2026-01-15T09:30:60Z', 'not a real calendar date'],
      ['offset +24:00', '2026-01-15T09:30:00+24:00', 'offset outside -23:59..+23:59'],
      ['offset +01:60', '2026-01-15T09:30:00+01:60', 'offset outside -23:59..+23:59'],
      ['an offset without colon', '2026-01-15T09:30:00+0100', 'not an RFC 3339 date-time'],
      ['more than nine fraction digits', '2026-01-15T09:30:00.1234567890Z', 'not an RFC 3339'],
      ['a date without time', '2026-01-15', 'not an RFC 3339 date-time'],
      ['a number sent as text', '1768469400250', 'not an RFC 3339 date-time'],
      ['an empty string', '', 'not an RFC 3339 date-time'],
      ['a boolean', true, 'got boolean true'],
      ['null', null, 'got null'],
      ['an object', { epochMs: TIMESTAMP_MS }, 'got an object'],
      ['an array', [TIMESTAMP_MS], 'got an array'],
    ])('refuses %s', (_name, input, reasonPart) => {
      const result = normaliseTimestamp(input);

      expect(result).toEqual({ ok: false, reason: expect.stringContaining(reasonPart) });
    });

    it('refuses a written date before 1973 with the floor, not with epoch-seconds advice', () => {
      for (const input of [
        '1973-03-03T09:46:39.999Z',
        '1972-06-01T00:00:00Z',
        '1969-07-20T20:17:40Z',
      ]) {
        const result = normaliseTimestamp(input);

        expect(result.ok, input).toBe(false);
        expect(result.ok ? '' : result.reason, input).toContain('the earliest time accepted');
        expect(result.ok ? '' : result.reason, input).not.toMatch(/epoch (seconds|milliseconds)/);
      }
    });

    it('accepts the first day of year 0 only as far as the floor allows', () => {
      // Year 0 is a leap year in the proleptic calendar; the date is valid but before the floor.
      const result = normaliseTimestamp('0000-02-29T00:00:00Z');

      expect(result.ok ? '' : result.reason).toContain('the earliest time accepted');
    });

    it('gives the no-offset hint only when the offset is what is missing', () => {
      const result = normaliseTimestamp('2026-01-15T09:30Z');

      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).not.toContain('no offset');
    });
  });

  describe('formatting', () => {
    it('formats epoch milliseconds as RFC 3339 UTC with three fraction digits', () => {
      expect(formatTimestamp(TIMESTAMP_MS)).toBe('2026-01-15T09:30:00.250Z');
    });

    it('keeps three fraction digits on a whole second', () => {
      expect(formatTimestamp(Date.UTC(2024, 1, 29))).toBe('2024-02-29T00:00:00.000Z');
    });

    it('formats what it normalised back to the same instant', () => {
      const result = normaliseTimestamp('2026-01-15T10:30:00.250+01:00');
      if (!result.ok) throw new Error(result.reason);

      expect(formatTimestamp(result.epochMs)).toBe('2026-01-15T09:30:00.250Z');
      expect(normaliseTimestamp(formatTimestamp(result.epochMs))).toEqual(result);
    });
  });
});

describe('timestamp range', () => {
  it('refuses a written time whose offset pushes it past year 9999', () => {
    const result = normaliseTimestamp('9999-12-31T23:59:59.999-01:00');
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain('not a representable instant');
  });
});
