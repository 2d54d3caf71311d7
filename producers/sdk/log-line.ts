/**
 * How one pino log line becomes one Panacea event (the mapping the pino transport applies; its
 * table is in pino-transport.ts and the README). Pure: a parsed line in, a publisher call out.
 *
 * Lines at level error (50) and above become error events, the others activity events with
 * status `succeeded`. Every field the mapping does not consume (pino's `pid` and `hostname`, the
 * logger's bindings, the line's own fields) becomes an attribute, flattened to dotted keys.
 */
import type { ActivityBody, AttributeValue, ErrorBody } from '../../schemas/event.js';
import { CONTRACT_LIMITS } from '../../schemas/contract.js';
import { MIN_EPOCH_MS, normaliseTimestamp } from '../../schemas/timestamp.js';
import { GENERATED_TEXT_LIMITS, truncateJson, truncateText, wellFormed } from './text.js';
import type { EventContext } from './types.js';

export type MappedLogLine =
  | { kind: 'activity'; body: ActivityBody; context: EventContext }
  | { kind: 'error'; body: ErrorBody; context: EventContext };

/** What pino tells its transports about the logger (pino sends it when the transport starts). */
export interface LogLineFormat {
  /** The field holding the message. pino's default `msg`. */
  messageKey: string;
  /** The field holding the error object. pino's default `err`. */
  errorKey: string;
  /** Level labels by number, e.g. `{ 30: 'info' }`. pino's standard levels by default. */
  levelLabels: Record<number, string>;
}

export const PINO_DEFAULT_FORMAT: LogLineFormat = {
  messageKey: 'msg',
  errorKey: 'err',
  levelLabels: { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' },
};

/** pino's number for `error`: this level and above become error events. */
export const ERROR_LEVEL = 50;
/** pino's number for `fatal`: this level and above are `critical` errors. */
export const FATAL_LEVEL = 60;

/** Fields that name the correlation ids of the envelope; OpenTelemetry's spelling too. */
const CORRELATION_FIELDS: Record<string, keyof EventContext> = {
  workflowId: 'workflowId',
  taskId: 'taskId',
  traceId: 'traceId',
  spanId: 'spanId',
  trace_id: 'traceId',
  span_id: 'spanId',
};

/** Nesting flattened into dotted keys; deeper objects become one JSON string. */
const MAX_FLATTEN_DEPTH = 4;
/** The attribute that counts attributes left out (too many, or over the byte budget). */
export const DROPPED_ATTRIBUTES_KEY = 'log.attributes_dropped';

export function eventFromLogLine(
  line: Record<string, unknown>,
  format: LogLineFormat = PINO_DEFAULT_FORMAT,
): MappedLogLine {
  const { level: levelValue, time, [format.messageKey]: messageValue, ...rest } = line;
  const level = typeof levelValue === 'number' ? levelValue : 30;
  const levelLabel = format.levelLabels[level] ?? String(level);
  const message =
    typeof messageValue === 'string' && messageValue !== '' ? messageValue : undefined;

  const context: EventContext = timestampOf(time);
  // A `time` of the caller's own (pino keeps the last of two equal keys) that is no time at all:
  // the line keeps the moment it is read, and the value is kept as an attribute.
  if (time !== undefined && context.timestamp === undefined) rest['log.time'] = time;
  for (const [field, key] of Object.entries(CORRELATION_FIELDS)) {
    const value = rest[field];
    if (typeof value === 'string' && value !== '' && value.length <= CONTRACT_LIMITS.idChars) {
      context[key] = wellFormed(value) as never;
      delete rest[field];
    }
  }

  if (level >= ERROR_LEVEL) return errorEvent(level, levelLabel, message, rest, format, context);
  return activityEvent(levelLabel, message, rest, context);
}

function activityEvent(
  levelLabel: string,
  message: string | undefined,
  fields: Record<string, unknown>,
  context: EventContext,
): MappedLogLine {
  const { action: actionField, durationMs: durationField, ...rest } = fields;
  const action =
    typeof actionField === 'string' && actionField !== ''
      ? actionField
      : (message ?? `log.${levelLabel}`);
  // The action was an explicit field: the message is kept as an attribute, not lost.
  const extra: Record<string, AttributeValue> = { 'log.level': levelLabel };
  if (action !== message && message !== undefined) extra['log.message'] = message;
  if (typeof actionField !== 'string' && actionField !== undefined) rest.action = actionField;

  const durationMs =
    typeof durationField === 'number' &&
    Number.isFinite(durationField) &&
    durationField >= 0 &&
    durationField <= CONTRACT_LIMITS.maxDurationMs
      ? durationField
      : undefined;
  if (durationMs === undefined && durationField !== undefined) rest.durationMs = durationField;

  return {
    kind: 'activity',
    body: {
      action: truncateText(wellFormed(action), GENERATED_TEXT_LIMITS.shortTextChars),
      status: 'succeeded',
      ...(durationMs === undefined ? {} : { durationMs }),
      attributes: flattenAttributes(rest, extra),
    },
    context,
  };
}

function errorEvent(
  level: number,
  levelLabel: string,
  message: string | undefined,
  fields: Record<string, unknown>,
  format: LogLineFormat,
  context: EventContext,
): MappedLogLine {
  const { [format.errorKey]: errValue, ...rest } = fields;
  const err = isObject(errValue) ? errValue : undefined;
  const { type, name, message: errMessage, stack, ...errExtra } = err ?? {};

  const errorType = firstText(type, name) ?? `log.${levelLabel}`;
  const errorMessage = firstText(errMessage, message) ?? '(no message)';
  const extra: Record<string, AttributeValue> = { 'log.level': levelLabel };
  if (message !== undefined && message !== errorMessage) extra['log.message'] = message;
  // The error's own fields (code, errno, syscall…) stay with it, under the error key; an `err`
  // that is not an object (a string someone logged) is kept there as it is.
  const errFields =
    errValue !== undefined && err === undefined
      ? { [format.errorKey]: errValue }
      : Object.keys(errExtra).length === 0
        ? {}
        : { [format.errorKey]: errExtra };

  return {
    kind: 'error',
    body: {
      type: truncateText(wellFormed(errorType), GENERATED_TEXT_LIMITS.shortTextChars),
      message: truncateJson(wellFormed(errorMessage), GENERATED_TEXT_LIMITS.messageJsonBytes),
      ...(typeof stack === 'string' && stack !== ''
        ? { stack: truncateJson(wellFormed(stack), GENERATED_TEXT_LIMITS.stackJsonBytes) }
        : {}),
      severity: level >= FATAL_LEVEL ? 'critical' : 'error',
      attributes: flattenAttributes({ ...errFields, ...rest }, extra),
    },
    context,
  };
}

/**
 * Fields as contract attributes: nested objects become dotted keys (`req.method`), strings,
 * numbers and booleans stay as they are, arrays and objects nested deeper than
 * MAX_FLATTEN_DEPTH become JSON text, null is left out. Keys and values are cut to the contract's
 * limits; past 127 keys or the JSON byte budget of GENERATED_TEXT_LIMITS, the rest is left out and
 * counted under `log.attributes_dropped`. Attributes the mapping sets itself (`reserved`, like
 * `log.level`) come first and win: a field of the line that flattens to the same key is kept
 * under `field.<key>` instead.
 */
export function flattenAttributes(
  fields: Record<string, unknown>,
  reserved: Record<string, AttributeValue> = {},
): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  let count = 0;
  let dropped = 0;
  let budgetBytes: number = GENERATED_TEXT_LIMITS.attributesJsonBytes;

  const add = (key: string, value: AttributeValue): void => {
    const cleanKey = truncateText(wellFormed(key), CONTRACT_LIMITS.attributeKeyChars);
    const cleanValue =
      typeof value === 'string'
        ? truncateText(wellFormed(value), CONTRACT_LIMITS.attributeValueChars)
        : value;
    // Key and value as JSON, with the colon and comma between entries.
    const bytes =
      Buffer.byteLength(JSON.stringify(cleanKey)) +
      Buffer.byteLength(JSON.stringify(cleanValue)) +
      2;
    // One key is kept free for the count of what was left out.
    const isNewKey = !(cleanKey in attributes);
    if ((isNewKey && count >= CONTRACT_LIMITS.attributeCount - 1) || bytes > budgetBytes) {
      dropped += 1;
      return;
    }
    if (isNewKey) count += 1;
    attributes[cleanKey] = cleanValue;
    budgetBytes -= bytes;
  };

  const addField = (key: string, value: AttributeValue): void =>
    add(key in reserved ? `field.${key}` : key, value);
  const visit = (prefix: string, value: unknown, depth: number): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'string' || typeof value === 'boolean') return addField(prefix, value);
    if (typeof value === 'number') {
      return Number.isFinite(value) ? addField(prefix, value) : addField(prefix, String(value));
    }
    if (isObject(value) && depth < MAX_FLATTEN_DEPTH) {
      for (const [key, entry] of Object.entries(value)) {
        visit(prefix === '' ? safeKey(key) : `${prefix}.${safeKey(key)}`, entry, depth + 1);
      }
      return;
    }
    addField(prefix, jsonText(value));
  };

  for (const [key, value] of Object.entries(reserved)) add(key, value);
  for (const [key, value] of Object.entries(fields)) visit(safeKey(key), value, 1);
  if (dropped > 0) attributes[DROPPED_ATTRIBUTES_KEY] = dropped;
  return attributes;
}

/**
 * A key the contract accepts: control characters become `_`, an empty key `_`, and `__proto__`
 * (which would set an object's prototype rather than add a key) `_proto_`.
 */
function safeKey(key: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it replaces
  const cleaned = key.replace(/[\u0000-\u001f\u007f]/g, '_');
  if (cleaned === '') return '_';
  return cleaned === '__proto__' ? '_proto_' : cleaned;
}

/**
 * pino writes epoch milliseconds by default, epoch seconds with `stdTimeFunctions.unixTime` and
 * RFC 3339 text with `isoTime`. A number below the contract's floor for milliseconds is seconds.
 */
function timestampOf(time: unknown): EventContext {
  const candidate =
    typeof time === 'number' && Number.isInteger(time) && time > 0 && time < MIN_EPOCH_MS
      ? time * 1000
      : time;
  const normalised = normaliseTimestamp(candidate);
  return normalised.ok ? { timestamp: normalised.epochMs } : {};
}

function firstText(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value !== '');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
