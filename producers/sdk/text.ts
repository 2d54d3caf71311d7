/**
 * Text helpers for events the SDK writes itself (task failures, log lines): cut to a limit without
 * leaving half of a surrogate pair, which the contract refuses, and describe anything thrown.
 */
import { messageOf } from '../../core/errors.js';

const ELLIPSIS = '…';

/**
 * At most `maxChars` UTF-16 units, ending in "…" when cut. A cut between the two halves of a
 * pair drops the lone high half, so the result is always valid Unicode.
 */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = text.slice(0, Math.max(0, maxChars - ELLIPSIS.length));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/**
 * Replaces unpaired surrogates (which the contract refuses as invalid Unicode) with U+FFFD, as a
 * UTF-8 encoder would; text from logs and thrown errors is not ours to refuse.
 */
export function wellFormed(text: string): string {
  return text.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}

/**
 * At most `maxJsonBytes` when written as a JSON string (UTF-8, quotes and escapes counted: what
 * the contract's whole-event limit measures), ending in "…" when cut.
 */
export function truncateJson(text: string, maxJsonBytes: number): string {
  let jsonBytes = Buffer.byteLength(JSON.stringify(text));
  if (jsonBytes <= maxJsonBytes) return text;
  let chars = text.length;
  // Each pass cuts in proportion to the excess, so a few passes fit any mix of characters.
  while (jsonBytes > maxJsonBytes && chars > 1) {
    chars = Math.max(1, Math.floor((chars * maxJsonBytes) / jsonBytes) - 1);
    text = truncateText(text, chars);
    jsonBytes = Buffer.byteLength(JSON.stringify(text));
  }
  return text;
}

/**
 * Limits for text the SDK takes from errors and log lines. Short texts keep the contract's limit
 * in characters; message, stack and the attributes of a log line share a budget in JSON bytes
 * (16 + 64 + 96 KiB) that keeps the whole event under the contract's 256 KiB, whatever the
 * characters.
 */
export const GENERATED_TEXT_LIMITS = {
  /** error.type and activity.action: the contract's short-text limit. */
  shortTextChars: 1_024,
  messageJsonBytes: 16 * 1024,
  stackJsonBytes: 64 * 1024,
  attributesJsonBytes: 96 * 1024,
} as const;

export interface ThrownDescription {
  type: string;
  message: string;
  stack?: string;
}

/**
 * The type, message and stack of anything thrown. The type is the constructor's name (`TypeError`,
 * a custom class), then `name`, then the JavaScript type for thrown non-objects (`string`).
 */
export function describeThrown(thrown: unknown): ThrownDescription {
  try {
    return describeThrownValue(thrown);
  } catch (error) {
    // A thrown value whose getters or conversions throw (a Proxy, an object without a prototype)
    // is still reported; the task rethrows it unchanged either way.
    return { type: 'unknown', message: `(the thrown value cannot be read: ${messageOf(error)})` };
  }
}

function describeThrownValue(thrown: unknown): ThrownDescription {
  const type = typeOfThrown(thrown);
  const message = wellFormed(messageOf(thrown)) || '(no message)';
  const stack =
    thrown instanceof Error && typeof thrown.stack === 'string' && thrown.stack !== ''
      ? truncateJson(wellFormed(thrown.stack), GENERATED_TEXT_LIMITS.stackJsonBytes)
      : undefined;
  return {
    type: truncateText(wellFormed(type), GENERATED_TEXT_LIMITS.shortTextChars),
    message: truncateJson(message, GENERATED_TEXT_LIMITS.messageJsonBytes),
    ...(stack === undefined ? {} : { stack }),
  };
}

function typeOfThrown(thrown: unknown): string {
  if (thrown === null) return 'null';
  if (typeof thrown !== 'object' && typeof thrown !== 'function') return typeof thrown;
  const constructorName = (thrown as { constructor?: { name?: unknown } }).constructor?.name;
  if (
    typeof constructorName === 'string' &&
    constructorName !== '' &&
    constructorName !== 'Object'
  ) {
    return constructorName;
  }
  const name = (thrown as { name?: unknown }).name;
  if (typeof name === 'string' && name !== '') return name;
  return constructorName === 'Object' ? 'Object' : 'Error';
}
