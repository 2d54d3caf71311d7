/**
 * The event contract: turns untrusted JSON into an AgentEvent or into a list of problems, each
 * naming the field and the reason. Used by every way in (produce, importers, the SDK) and again
 * inside the pipeline, so a record written by any producer meets the same rules.
 */
import { isIP } from 'node:net';

import { EVENT_KINDS, type EventKind } from '../core/naming.js';
import { deriveEventId } from './event-id.js';
import {
  ACTIVITY_STATUSES,
  AUDIT_OUTCOMES,
  ERROR_SEVERITIES,
  HEARTBEAT_STATUSES,
  type AgentEvent,
  type AttributeValue,
} from './event.js';
import { normaliseTimestamp } from './timestamp.js';
import { describeValue } from './describe-value.js';

export interface ContractProblem {
  /** Dotted path of the offending field, e.g. `activity.durationMs`; `(event)` for the whole. */
  field: string;
  reason: string;
}

export type ContractResult =
  { ok: true; event: AgentEvent } | { ok: false; problems: ContractProblem[] };

/** Limits that keep one event from swamping a document or a mapping. */
export const CONTRACT_LIMITS = {
  /** 128 UTF-16 units are at most 384 UTF-8 bytes: always within Elasticsearch's 512-byte _id. */
  eventIdChars: 128,
  /** The whole event as JSON, UTF-8; its enriched form stays well under Kafka's 1 MiB records. */
  eventBytes: 262_144,
  idChars: 256,
  shortTextChars: 1_024,
  reasonChars: 4_096,
  messageChars: 65_536,
  stackChars: 262_144,
  attributeCount: 128,
  attributeKeyChars: 256,
  attributeValueChars: 8_192,
  /** ~31.7 years; keeps `event.duration` (nanoseconds) inside a signed 64-bit integer. */
  maxDurationMs: 1_000_000_000_000,
  /** A thousand cores at 100% each. */
  maxCpuPercent: 100_000,
  /** A petabyte; anything above is a unit mistake. */
  maxMemoryMb: 1_000_000_000,
} as const;

const BODY_KEY_BY_KIND: Record<EventKind, string> = {
  activity: 'activity',
  error: 'error',
  audit: 'audit',
  heartbeat: 'heartbeat',
};
const ENVELOPE_KEYS = [
  'kind',
  'eventId',
  'timestamp',
  'agent',
  'workflowId',
  'taskId',
  'traceId',
  'spanId',
];

type JsonObject = Record<string, unknown>;

// JSON can carry `\ud800` alone, which is no character at all; stored, it would become U+FFFD and
// two different events could collapse into one id.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_UNICODE = 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** Collects problems while reading fields, so one pass reports every problem of an event. */
class FieldReader {
  readonly problems: ContractProblem[] = [];

  fail(field: string, reason: string): undefined {
    this.problems.push({ field, reason });
    return undefined;
  }

  object(value: unknown, field: string, allowedKeys: readonly string[]): JsonObject | undefined {
    if (value === undefined) return this.fail(field, 'is required');
    if (!isPlainObject(value))
      return this.fail(field, `expected an object, got ${describeValue(value)}`);
    for (const key of Object.keys(value)) {
      if (!allowedKeys.includes(key)) {
        this.fail(
          joinPath(field, key),
          `is not a known field (allowed: ${allowedKeys.join(', ')})`,
        );
      }
    }
    return value;
  }

  string(value: unknown, field: string, required: boolean, maxChars: number): string | undefined {
    if (value === undefined || value === null) {
      return required ? this.fail(field, 'is required') : undefined;
    }
    if (typeof value !== 'string')
      return this.fail(field, `expected a string, got ${describeValue(value)}`);
    if (value.length === 0) return this.fail(field, 'must not be empty');
    if (value.length > maxChars) {
      return this.fail(field, `must be at most ${maxChars} characters, got ${value.length}`);
    }
    if (LONE_SURROGATE.test(value)) return this.fail(field, NOT_UNICODE);
    return value;
  }

  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T | undefined {
    if (value === undefined || value === null) return this.fail(field, 'is required');
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      return this.fail(
        field,
        `expected one of ${allowed.map((item) => `"${item}"`).join(', ')}, got ${describeValue(value)}`,
      );
    }
    return value as T;
  }

  number(
    value: unknown,
    field: string,
    options: { integer?: boolean; max: number },
  ): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return this.fail(field, `expected a number, got ${describeValue(value)}`);
    }
    if (value < 0) return this.fail(field, `must be 0 or more, got ${value}`);
    if (options.integer === true && !Number.isInteger(value)) {
      return this.fail(field, `expected an integer, got ${value}`);
    }
    if (value > options.max)
      return this.fail(field, `must be at most ${options.max}, got ${value}`);
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean')
      return this.fail(field, `expected true or false, got ${describeValue(value)}`);
    return value;
  }
}

/**
 * Checks one event against the contract. An event without `eventId` gets one derived from its
 * content (see event-id.ts). Every problem is reported, not only the first.
 */
export function validateEvent(input: unknown): ContractResult {
  const reader = new FieldReader();
  if (!isPlainObject(input)) {
    return {
      ok: false,
      problems: [
        { field: '(event)', reason: `expected a JSON object, got ${describeValue(input)}` },
      ],
    };
  }

  const kind = reader.oneOf(input.kind, 'kind', EVENT_KINDS);
  if (kind === undefined) return { ok: false, problems: reader.problems };

  const bodyKey = BODY_KEY_BY_KIND[kind];
  checkTopLevelKeys(reader, input, kind);

  const envelope = readEnvelope(reader, input);
  const body = readBody(reader, kind, input[bodyKey], bodyKey);
  if (reader.problems.length > 0 || envelope === undefined || body === undefined) {
    return { ok: false, problems: reader.problems };
  }

  const withoutId = { kind, ...envelope, [bodyKey]: body };
  const eventId = envelope.eventId ?? deriveEventId(withoutId);
  const event = { ...withoutId, eventId } as AgentEvent;

  // Each field has its own limit, but together they could still build a record larger than
  // Kafka takes once enriched (which repeats the message); the whole event has a cap too. Writing
  // the JSON costs a third of checking a typical event, so it is written only when a cheap upper
  // bound of its size does not settle the question already, which it does for nearly every event.
  if (jsonBytesAtMost(event) <= CONTRACT_LIMITS.eventBytes) return { ok: true, event };
  const eventBytes = Buffer.byteLength(JSON.stringify(event));
  if (eventBytes > CONTRACT_LIMITS.eventBytes) {
    const reason = `is ${eventBytes} bytes as JSON, over the ${CONTRACT_LIMITS.eventBytes}-byte limit of one event`;
    return { ok: false, problems: [{ field: '(event)', reason: `the event ${reason}` }] };
  }
  return { ok: true, event };
}

function checkTopLevelKeys(reader: FieldReader, input: JsonObject, kind: EventKind): void {
  for (const key of Object.keys(input)) {
    if (ENVELOPE_KEYS.includes(key) || key === BODY_KEY_BY_KIND[kind]) continue;
    const otherKind = EVENT_KINDS.find((candidate) => BODY_KEY_BY_KIND[candidate] === key);
    if (otherKind !== undefined) {
      reader.fail(key, `is the body of kind "${otherKind}" but kind is "${kind}"`);
    } else {
      reader.fail(
        key,
        `is not a known field (allowed: ${[...ENVELOPE_KEYS, BODY_KEY_BY_KIND[kind]].join(', ')})`,
      );
    }
  }
}

function readEnvelope(reader: FieldReader, input: JsonObject) {
  const eventId = reader.string(input.eventId, 'eventId', false, CONTRACT_LIMITS.eventIdChars);

  let timestamp: number | undefined;
  if (input.timestamp === undefined || input.timestamp === null) {
    reader.fail('timestamp', 'is required');
  } else {
    const result = normaliseTimestamp(input.timestamp);
    if (result.ok) timestamp = result.epochMs;
    else reader.fail('timestamp', result.reason);
  }

  const agentInput = reader.object(input.agent, 'agent', ['id', 'name', 'type', 'version']);
  const agent =
    agentInput === undefined
      ? undefined
      : dropUndefined({
          id: reader.string(agentInput.id, 'agent.id', true, CONTRACT_LIMITS.idChars),
          name: reader.string(agentInput.name, 'agent.name', false, CONTRACT_LIMITS.shortTextChars),
          type: reader.string(agentInput.type, 'agent.type', false, CONTRACT_LIMITS.shortTextChars),
          version: reader.string(
            agentInput.version,
            'agent.version',
            false,
            CONTRACT_LIMITS.shortTextChars,
          ),
        });

  const correlation = {
    workflowId: reader.string(input.workflowId, 'workflowId', false, CONTRACT_LIMITS.idChars),
    taskId: reader.string(input.taskId, 'taskId', false, CONTRACT_LIMITS.idChars),
    traceId: reader.string(input.traceId, 'traceId', false, CONTRACT_LIMITS.idChars),
    spanId: reader.string(input.spanId, 'spanId', false, CONTRACT_LIMITS.idChars),
  };

  if (timestamp === undefined || agent?.id === undefined) return undefined;
  return dropUndefined({ eventId, timestamp, agent: agent as { id: string }, ...correlation });
}

function readBody(
  reader: FieldReader,
  kind: EventKind,
  value: unknown,
  field: string,
): JsonObject | undefined {
  switch (kind) {
    case 'activity': {
      const body = reader.object(value, field, ['action', 'status', 'durationMs', 'attributes']);
      if (body === undefined) return undefined;
      return dropUndefined({
        action: reader.string(body.action, 'activity.action', true, CONTRACT_LIMITS.shortTextChars),
        status: reader.oneOf(body.status, 'activity.status', ACTIVITY_STATUSES),
        durationMs: reader.number(body.durationMs, 'activity.durationMs', {
          max: CONTRACT_LIMITS.maxDurationMs,
        }),
        attributes: readAttributes(reader, body.attributes, 'activity.attributes'),
      });
    }
    case 'error': {
      const body = reader.object(value, field, [
        'type',
        'message',
        'stack',
        'severity',
        'retryable',
        'attributes',
      ]);
      if (body === undefined) return undefined;
      return dropUndefined({
        type: reader.string(body.type, 'error.type', true, CONTRACT_LIMITS.shortTextChars),
        message: reader.string(body.message, 'error.message', true, CONTRACT_LIMITS.messageChars),
        stack: reader.string(body.stack, 'error.stack', false, CONTRACT_LIMITS.stackChars),
        severity: reader.oneOf(body.severity, 'error.severity', ERROR_SEVERITIES),
        retryable: reader.boolean(body.retryable, 'error.retryable'),
        attributes: readAttributes(reader, body.attributes, 'error.attributes'),
      });
    }
    case 'audit': {
      const body = reader.object(value, field, [
        'actor',
        'action',
        'resource',
        'outcome',
        'reason',
        'sourceIp',
      ]);
      if (body === undefined) return undefined;
      const sourceIp = reader.string(
        body.sourceIp,
        'audit.sourceIp',
        false,
        CONTRACT_LIMITS.shortTextChars,
      );
      // A zone id (`fe80::1%eth0`) names an interface of the sender's host: meaningless here,
      // and Elasticsearch's ip type refuses it.
      if (sourceIp !== undefined && (isIP(sourceIp) === 0 || sourceIp.includes('%'))) {
        reader.fail('audit.sourceIp', `expected an IPv4 or IPv6 address, got "${sourceIp}"`);
      }
      return dropUndefined({
        actor: readParty(reader, body.actor, 'audit.actor'),
        action: reader.string(body.action, 'audit.action', true, CONTRACT_LIMITS.shortTextChars),
        resource: readParty(reader, body.resource, 'audit.resource'),
        outcome: reader.oneOf(body.outcome, 'audit.outcome', AUDIT_OUTCOMES),
        reason: reader.string(body.reason, 'audit.reason', false, CONTRACT_LIMITS.reasonChars),
        sourceIp,
      });
    }
    case 'heartbeat': {
      const body = reader.object(value, field, ['status', 'cpuPercent', 'memoryMb', 'queueDepth']);
      if (body === undefined) return undefined;
      return dropUndefined({
        status: reader.oneOf(body.status, 'heartbeat.status', HEARTBEAT_STATUSES),
        cpuPercent: reader.number(body.cpuPercent, 'heartbeat.cpuPercent', {
          max: CONTRACT_LIMITS.maxCpuPercent,
        }),
        memoryMb: reader.number(body.memoryMb, 'heartbeat.memoryMb', {
          max: CONTRACT_LIMITS.maxMemoryMb,
        }),
        queueDepth: reader.number(body.queueDepth, 'heartbeat.queueDepth', {
          integer: true,
          max: Number.MAX_SAFE_INTEGER,
        }),
      });
    }
  }
}

function readParty(reader: FieldReader, value: unknown, field: string) {
  const party = reader.object(value, field, ['type', 'id']);
  if (party === undefined) return undefined;
  return {
    type: reader.string(party.type, `${field}.type`, true, CONTRACT_LIMITS.shortTextChars),
    id: reader.string(party.id, `${field}.id`, true, CONTRACT_LIMITS.idChars),
  };
}

function readAttributes(
  reader: FieldReader,
  value: unknown,
  field: string,
): Record<string, AttributeValue> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value))
    return reader.fail(field, `expected an object, got ${describeValue(value)}`);

  const entries = Object.entries(value);
  if (entries.length > CONTRACT_LIMITS.attributeCount) {
    return reader.fail(
      field,
      `must have at most ${CONTRACT_LIMITS.attributeCount} keys, got ${entries.length}`,
    );
  }
  const attributes: Record<string, AttributeValue> = {};
  for (const [key, entry] of entries) {
    const entryField = joinPath(field, key);
    const keyProblem = attributeKeyProblem(key);
    if (keyProblem !== undefined) {
      reader.fail(field, `key "${key.slice(0, 40)}" ${keyProblem}`);
    } else if (typeof entry === 'string') {
      if (entry.length > CONTRACT_LIMITS.attributeValueChars) {
        reader.fail(
          entryField,
          `must be at most ${CONTRACT_LIMITS.attributeValueChars} characters`,
        );
      } else if (LONE_SURROGATE.test(entry)) reader.fail(entryField, NOT_UNICODE);
      else attributes[key] = entry;
    } else if (typeof entry === 'number' && Number.isFinite(entry)) {
      attributes[key] = entry;
    } else if (typeof entry === 'boolean') {
      attributes[key] = entry;
    } else {
      reader.fail(entryField, `expected a string, number or boolean, got ${describeValue(entry)}`);
    }
  }
  return attributes;
}

function attributeKeyProblem(key: string): string | undefined {
  if (key.length === 0 || key.length > CONTRACT_LIMITS.attributeKeyChars) {
    return `must be 1-${CONTRACT_LIMITS.attributeKeyChars} characters`;
  }
  // Assigning `__proto__` to an object changes its prototype instead of adding a key, so the
  // attribute would vanish on the way; it is refused rather than lost.
  if (key === '__proto__') return 'is reserved';
  if (CONTROL_CHARACTER.test(key)) return 'must not contain control characters';
  if (LONE_SURROGATE.test(key)) return NOT_UNICODE;
  return undefined;
}

/** Characters of the longest JSON number, `-0.0000012345678901234567` or `-1.7976931348623157e+308`. */
const MAX_NUMBER_JSON_CHARS = 25;

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` for plain data, without writing it:
 * a UTF-16 unit becomes at most 6 bytes (`\u001f`, or 3 UTF-8 bytes, or a pair's 4 for two), a
 * number at most MAX_NUMBER_JSON_CHARS. Anything that is not plain data (a Date, an object with
 * `toJSON`) gets Infinity, so the caller measures it exactly instead.
 */
export function jsonBytesAtMost(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2;
    case 'number':
      return MAX_NUMBER_JSON_CHARS;
    case 'boolean':
      return 5;
    case 'undefined':
      return 4;
    case 'object': {
      if (value === null) return 4;
      let bytes = 2;
      if (Array.isArray(value)) {
        for (const item of value) bytes += jsonBytesAtMost(item) + 1;
        return bytes;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) return Number.POSITIVE_INFINITY;
      for (const key of Object.keys(value)) {
        // Quotes, colon and comma around the key, then the value.
        bytes += 6 * key.length + 4 + jsonBytesAtMost((value as JsonObject)[key]);
      }
      return bytes;
    }
    default:
      return Number.POSITIVE_INFINITY;
  }
}

/** The problems as one line a person can act on. */
export function describeProblems(problems: readonly ContractProblem[]): string {
  return problems
    .map((problem) =>
      problem.field === '(event)' ? problem.reason : `${problem.field} ${problem.reason}`,
    )
    .join('; ');
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

// A plain loop: this runs several times for every event checked (the SDK's calls, every record
// the enrich stage reads), and Object.fromEntries over a filtered Object.entries allocates two
// arrays per field; profiling the SDK benchmark found it among the top costs.
function dropUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const entry = (value as Record<string, unknown>)[key];
    if (entry !== undefined) result[key] = entry;
  }
  return result as never;
}
