/**
 * Time normalisation: every accepted timestamp becomes UTC epoch milliseconds, or is refused with
 * a reason. Nothing is ever silently read as 1970.
 */
import { describeValue } from './describe-value.js';

export type TimestampResult = { ok: true; epochMs: number } | { ok: false; reason: string };

/**
 * Below this many milliseconds (1973-03-03) a number is far more likely to be epoch seconds than a
 * real event time, so it is refused rather than stored fifty years in the past.
 */
export const MIN_EPOCH_MS = 100_000_000_000;
const EARLIEST_TEXT = '1973-03-03T09:46:40Z';
/**
 * 9999-12-31T23:59:59.999Z: the last instant with a four-digit year, which is what RFC 3339 can
 * write and what Elasticsearch's default date format parses.
 */
export const MAX_EPOCH_MS = 253_402_300_799_999;

// RFC 3339 date-time: the offset is mandatory; "T" may be a space or lowercase per RFC 3339 5.6.
const RFC3339_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

export function normaliseTimestamp(value: unknown): TimestampResult {
  if (typeof value === 'number') return fromEpochMs(value);
  if (typeof value === 'string') return fromRfc3339(value);
  return {
    ok: false,
    reason: `expected an RFC 3339 string or epoch milliseconds, got ${describeValue(value)}`,
  };
}

function fromEpochMs(value: number): TimestampResult {
  if (!Number.isInteger(value)) {
    return { ok: false, reason: `epoch milliseconds must be an integer, got ${value}` };
  }
  if (value < 0) {
    return { ok: false, reason: `epoch milliseconds must not be negative, got ${value}` };
  }
  if (value < MIN_EPOCH_MS) {
    return {
      ok: false,
      reason:
        `${value} is before 1973 as epoch milliseconds and looks like epoch seconds; ` +
        `send milliseconds (${value}000) or an RFC 3339 string`,
    };
  }
  if (value > MAX_EPOCH_MS) {
    return { ok: false, reason: `${value} is past the largest accepted instant (9999-12-31)` };
  }
  return { ok: true, epochMs: value };
}

function fromRfc3339(value: string): TimestampResult {
  const match = RFC3339_PATTERN.exec(value);
  if (match === null) {
    const hint = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)
      ? ' (it has no offset: add "Z" for UTC or "+hh:mm")'
      : '';
    return { ok: false, reason: `"${value}" is not an RFC 3339 date-time with an offset${hint}` };
  }

  const [, year, month, day, hour, minute, second, fraction = '', offset = 'Z'] = match;
  if (
    !isRealCalendarTime(
      Number(year),
      Number(month),
      Number(day),
      Number(hour),
      Number(minute),
      Number(second),
    )
  ) {
    return { ok: false, reason: `"${value}" is not a real calendar date and time` };
  }
  if (offset !== 'Z' && offset !== 'z' && !isValidOffset(offset)) {
    return { ok: false, reason: `"${value}" has an offset outside -23:59..+23:59` };
  }

  // Digits past the millisecond are truncated: the contract stores milliseconds.
  const milliseconds = fraction.padEnd(3, '0').slice(0, 3);
  const normalised = `${year}-${month}-${day}T${hour}:${minute}:${second}.${milliseconds}${offset.toUpperCase()}`;
  const epochMs = Date.parse(normalised);
  if (Number.isNaN(epochMs) || epochMs > MAX_EPOCH_MS) {
    return { ok: false, reason: `"${value}" is not a representable instant` };
  }
  // One floor for both forms: on the wire every time is a number again, where the floor is what
  // tells epoch seconds apart. No agent event is older than 1973.
  if (epochMs < MIN_EPOCH_MS) {
    return {
      ok: false,
      reason: `"${value}" is before ${EARLIEST_TEXT}, the earliest time accepted`,
    };
  }
  return { ok: true, epochMs };
}

function isRealCalendarTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear takes the year as written.
  const lastDayOfMonth = new Date(0);
  lastDayOfMonth.setUTCFullYear(year, month, 0);
  const daysInMonth = lastDayOfMonth.getUTCDate();
  return day <= daysInMonth;
}

function isValidOffset(offset: string): boolean {
  const hours = Number(offset.slice(1, 3));
  const minutes = Number(offset.slice(4, 6));
  return hours <= 23 && minutes <= 59;
}

/** Formats epoch milliseconds as RFC 3339 UTC with milliseconds, the form stored everywhere. */
export function formatTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
