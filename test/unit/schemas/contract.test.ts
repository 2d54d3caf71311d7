import { describe, expect, it } from 'vitest';

import {
  CONTRACT_LIMITS,
  describeProblems,
  jsonBytesAtMost,
  validateEvent,
  type ContractProblem,
} from '../../../schemas/contract.js';
import type { AgentEvent } from '../../../schemas/event.js';
import {
  FULL_INPUTS,
  MINIMAL_INPUTS,
  SAMPLE_AGENT,
  SAMPLE_TIMESTAMP_MS,
} from '../fixtures/sample-events.js';

const UUID_V5_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const {
  activity: MINIMAL_ACTIVITY,
  error: MINIMAL_ERROR,
  audit: MINIMAL_AUDIT,
  heartbeat: MINIMAL_HEARTBEAT,
} = MINIMAL_INPUTS;
const ACTIVITY_BODY = MINIMAL_ACTIVITY.activity;
const ERROR_BODY = MINIMAL_ERROR.error;
const AUDIT_BODY = MINIMAL_AUDIT.audit;
const HEARTBEAT_BODY = MINIMAL_HEARTBEAT.heartbeat;

function accept(input: unknown): AgentEvent {
  const result = validateEvent(input);
  if (!result.ok) throw new Error(`expected acceptance, got: ${describeProblems(result.problems)}`);
  return result.event;
}

function problemsOf(input: unknown): ContractProblem[] {
  const result = validateEvent(input);
  if (result.ok) throw new Error(`expected rejection, got ${JSON.stringify(result.event)}`);
  return result.problems;
}

const withActivity = (body: Record<string, unknown>) => ({
  ...MINIMAL_ACTIVITY,
  activity: { ...ACTIVITY_BODY, ...body },
});
const withError = (body: Record<string, unknown>) => ({
  ...MINIMAL_ERROR,
  error: { ...ERROR_BODY, ...body },
});
const withAudit = (body: Record<string, unknown>) => ({
  ...MINIMAL_AUDIT,
  audit: { ...AUDIT_BODY, ...body },
});
const withHeartbeat = (body: Record<string, unknown>) => ({
  ...MINIMAL_HEARTBEAT,
  heartbeat: { ...HEARTBEAT_BODY, ...body },
});

function manyAttributes(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`key${index}`, index]));
}

interface RejectionCase {
  name: string;
  input: unknown;
  field: string;
  reason: string;
}

const REJECTIONS: RejectionCase[] = [
  { name: 'a value that is not an object', input: [1, 2], field: '(event)', reason: 'JSON object' },
  { name: 'null as the event', input: null, field: '(event)', reason: 'got null' },
  {
    name: 'an event without kind',
    input: { timestamp: SAMPLE_TIMESTAMP_MS, agent: SAMPLE_AGENT, activity: ACTIVITY_BODY },
    field: 'kind',
    reason: 'is required',
  },
  {
    name: 'an unknown kind',
    input: { ...MINIMAL_ACTIVITY, kind: 'metric' },
    field: 'kind',
    reason: 'expected one of "activity", "error", "audit", "heartbeat", got "metric"',
  },
  {
    name: 'an unknown top-level field',
    input: { ...MINIMAL_ACTIVITY, severity: 'high' },
    field: 'severity',
    reason: 'is not a known field',
  },
  {
    name: 'the body of another kind',
    input: { ...MINIMAL_ACTIVITY, error: ERROR_BODY },
    field: 'error',
    reason: 'is the body of kind "error" but kind is "activity"',
  },
  {
    name: 'a missing body',
    input: { kind: 'heartbeat', timestamp: SAMPLE_TIMESTAMP_MS, agent: SAMPLE_AGENT },
    field: 'heartbeat',
    reason: 'is required',
  },
  {
    name: 'a body that is not an object',
    input: { ...MINIMAL_HEARTBEAT, heartbeat: 'idle' },
    field: 'heartbeat',
    reason: 'expected an object, got "idle"',
  },
  {
    name: 'a missing timestamp',
    input: { kind: 'activity', agent: SAMPLE_AGENT, activity: ACTIVITY_BODY },
    field: 'timestamp',
    reason: 'is required',
  },
  {
    name: 'a timestamp in epoch seconds, with a hint to send milliseconds',
    input: { ...MINIMAL_ACTIVITY, timestamp: 1_768_469_400 },
    field: 'timestamp',
    reason: 'looks like epoch seconds; send milliseconds (1768469400000)',
  },
  {
    name: 'a timestamp with a fraction of a millisecond',
    input: { ...MINIMAL_ACTIVITY, timestamp: SAMPLE_TIMESTAMP_MS + 0.5 },
    field: 'timestamp',
    reason: 'must be an integer',
  },
  {
    name: 'a negative timestamp',
    input: { ...MINIMAL_ACTIVITY, timestamp: -1 },
    field: 'timestamp',
    reason: 'must not be negative',
  },
  {
    name: 'an RFC 3339 timestamp without offset, with a hint to add one',
    input: { ...MINIMAL_ACTIVITY, timestamp: '2026-01-15T09:30:00' },
    field: 'timestamp',
    reason: 'it has no offset: add "Z" for UTC',
  },
  {
    name: 'a date that is not in the calendar',
    input: { ...MINIMAL_ACTIVITY, timestamp: '2026-02-30T09:30:00Z' },
    field: 'timestamp',
    reason: 'is not a real calendar date and time',
  },
  {
    name: 'an offset outside -23:59..+23:59',
    input: { ...MINIMAL_ACTIVITY, timestamp: '2026-01-15T09:30:00+24:00' },
    field: 'timestamp',
    reason: 'has an offset outside',
  },
  {
    name: 'a timestamp of another type',
    input: { ...MINIMAL_ACTIVITY, timestamp: true },
    field: 'timestamp',
    reason: 'expected an RFC 3339 string or epoch milliseconds, got boolean true',
  },
  {
    name: 'a missing agent',
    input: { kind: 'activity', timestamp: SAMPLE_TIMESTAMP_MS, activity: ACTIVITY_BODY },
    field: 'agent',
    reason: 'is required',
  },
  {
    name: 'an agent that is a string',
    input: { ...MINIMAL_ACTIVITY, agent: 'agent-7' },
    field: 'agent',
    reason: 'expected an object, got "agent-7"',
  },
  {
    name: 'an agent without id',
    input: { ...MINIMAL_ACTIVITY, agent: { name: 'researcher' } },
    field: 'agent.id',
    reason: 'is required',
  },
  {
    name: 'an empty agent id',
    input: { ...MINIMAL_ACTIVITY, agent: { id: '' } },
    field: 'agent.id',
    reason: 'must not be empty',
  },
  {
    name: 'an agent id of 257 characters',
    input: { ...MINIMAL_ACTIVITY, agent: { id: 'a'.repeat(CONTRACT_LIMITS.idChars + 1) } },
    field: 'agent.id',
    reason: 'must be at most 256 characters, got 257',
  },
  {
    name: 'an agent id that is a number',
    input: { ...MINIMAL_ACTIVITY, agent: { id: 7 } },
    field: 'agent.id',
    reason: 'expected a string, got number 7',
  },
  {
    name: 'an unknown agent field',
    input: { ...MINIMAL_ACTIVITY, agent: { ...SAMPLE_AGENT, owner: 'team-a' } },
    field: 'agent.owner',
    reason: 'is not a known field (allowed: id, name, type, version)',
  },
  {
    name: 'an eventId of 129 characters',
    input: { ...MINIMAL_ACTIVITY, eventId: 'e'.repeat(CONTRACT_LIMITS.eventIdChars + 1) },
    field: 'eventId',
    reason: 'must be at most 128 characters, got 129',
  },
  {
    name: 'an empty traceId',
    input: { ...MINIMAL_ACTIVITY, traceId: '' },
    field: 'traceId',
    reason: 'must not be empty',
  },
  {
    name: 'an unknown field in a body',
    input: withActivity({ tokens: 5 }),
    field: 'activity.tokens',
    reason: 'is not a known field',
  },
  {
    name: 'an activity without action',
    input: { ...MINIMAL_ACTIVITY, activity: { status: 'started' } },
    field: 'activity.action',
    reason: 'is required',
  },
  {
    name: 'an activity status outside the list',
    input: withActivity({ status: 'done' }),
    field: 'activity.status',
    reason: 'expected one of "started", "succeeded", "failed", got "done"',
  },
  {
    name: 'a negative duration',
    input: withActivity({ durationMs: -1 }),
    field: 'activity.durationMs',
    reason: 'must be 0 or more, got -1',
  },
  {
    name: 'a duration sent as a string',
    input: withActivity({ durationMs: '12' }),
    field: 'activity.durationMs',
    reason: 'expected a number, got "12"',
  },
  {
    name: 'an error severity outside the list',
    input: withError({ severity: 'fatal' }),
    field: 'error.severity',
    reason: 'expected one of "warning", "error", "critical", got "fatal"',
  },
  {
    name: 'an error without severity',
    input: { ...MINIMAL_ERROR, error: { type: 'TimeoutError', message: 'timed out' } },
    field: 'error.severity',
    reason: 'is required',
  },
  {
    name: 'a retryable flag that is not a boolean',
    input: withError({ retryable: 'yes' }),
    field: 'error.retryable',
    reason: 'expected true or false, got "yes"',
  },
  {
    name: 'an audit outcome outside the list',
    input: withAudit({ outcome: 'allowed' }),
    field: 'audit.outcome',
    reason: 'expected one of "success", "failure", "denied", got "allowed"',
  },
  {
    name: 'an audit actor without id',
    input: withAudit({ actor: { type: 'user' } }),
    field: 'audit.actor.id',
    reason: 'is required',
  },
  {
    name: 'a source IP that is not an IP address',
    input: withAudit({ sourceIp: '10.0.0.300' }),
    field: 'audit.sourceIp',
    reason: 'expected an IPv4 or IPv6 address, got "10.0.0.300"',
  },
  {
    name: 'a heartbeat status outside the list',
    input: withHeartbeat({ status: 'sleeping' }),
    field: 'heartbeat.status',
    reason: 'expected one of "active", "idle", "busy", "error", got "sleeping"',
  },
  {
    name: 'a queue depth that is not an integer',
    input: withHeartbeat({ queueDepth: 1.5 }),
    field: 'heartbeat.queueDepth',
    reason: 'expected an integer, got 1.5',
  },
  {
    name: 'an attribute whose value is an object',
    input: withActivity({ attributes: { tool: { name: 'search' } } }),
    field: 'activity.attributes.tool',
    reason: 'expected a string, number or boolean, got an object',
  },
  {
    name: 'an attribute whose value is an array',
    input: withActivity({ attributes: { tags: ['a', 'b'] } }),
    field: 'activity.attributes.tags',
    reason: 'expected a string, number or boolean, got an array',
  },
  {
    name: 'an attribute whose value is null',
    input: withActivity({ attributes: { model: null } }),
    field: 'activity.attributes.model',
    reason: 'expected a string, number or boolean, got null',
  },
  {
    name: 'attributes that are an array',
    input: withActivity({ attributes: ['tool'] }),
    field: 'activity.attributes',
    reason: 'expected an object, got an array',
  },
  {
    name: 'more attributes than the limit',
    input: withActivity({ attributes: manyAttributes(CONTRACT_LIMITS.attributeCount + 1) }),
    field: 'activity.attributes',
    reason: 'must have at most 128 keys, got 129',
  },
  {
    name: 'an attribute string value longer than the limit',
    input: withActivity({
      attributes: { prompt: 'p'.repeat(CONTRACT_LIMITS.attributeValueChars + 1) },
    }),
    field: 'activity.attributes.prompt',
    reason: 'must be at most 8192 characters',
  },
  {
    name: 'an attribute key longer than the limit',
    input: withActivity({ attributes: { ['k'.repeat(CONTRACT_LIMITS.attributeKeyChars + 1)]: 1 } }),
    field: 'activity.attributes',
    reason: 'must be 1-256 characters',
  },
  {
    name: 'an attribute key __proto__, which an object assignment would swallow',
    input: withActivity({ attributes: JSON.parse('{"__proto__":"v"}') as object }),
    field: 'activity.attributes',
    reason: 'key "__proto__" is reserved',
  },
  {
    name: 'an attribute key with a control character',
    input: withActivity({ attributes: { 'tool\u0000name': 'x' } }),
    field: 'activity.attributes',
    reason: 'must not contain control characters',
  },
  {
    name: 'an attribute value with an unpaired surrogate',
    input: withActivity({ attributes: { tool: 'web\ud800' } }),
    field: 'activity.attributes.tool',
    reason: 'unpaired UTF-16 surrogate',
  },
  {
    name: 'an action with an unpaired surrogate',
    input: withActivity({ action: 'tool.\udc00call' }),
    field: 'activity.action',
    reason: 'unpaired UTF-16 surrogate',
  },
  {
    name: 'a duration whose nanoseconds would overflow a 64-bit integer',
    input: withActivity({ durationMs: 1e13 }),
    field: 'activity.durationMs',
    reason: 'must be at most 1000000000000',
  },
  {
    name: 'a CPU figure no machine reports',
    input: withHeartbeat({ cpuPercent: 1e300 }),
    field: 'heartbeat.cpuPercent',
    reason: 'must be at most 100000',
  },
  {
    name: 'a queue depth past the integers a number holds exactly',
    input: withHeartbeat({ queueDepth: 2 ** 53 }),
    field: 'heartbeat.queueDepth',
    reason: 'must be at most 9007199254740991',
  },
  {
    name: 'an IPv6 source address with a zone id',
    input: withAudit({ sourceIp: 'fe80::1%eth0' }),
    field: 'audit.sourceIp',
    reason: 'expected an IPv4 or IPv6 address',
  },
  {
    name: 'an event larger than the whole-event limit',
    input: withError({ message: 'm'.repeat(60_000), stack: '中'.repeat(70_000) }),
    field: '(event)',
    reason: 'over the 262144-byte limit of one event',
  },
];

describe('event contract', () => {
  describe('rejection', () => {
    it.each(REJECTIONS)('rejects $name, naming the field', ({ input, field, reason }) => {
      const problems = problemsOf(input);

      expect(problems).toEqual([{ field, reason: expect.stringContaining(reason) }]);
    });

    it('reports every problem of an event in one pass', () => {
      const input = {
        kind: 'activity',
        timestamp: 1_768_469_400,
        agent: { id: '' },
        activity: { action: 'tool.call', status: 'done' },
      };

      const problems = problemsOf(input);

      expect(problems).toHaveLength(3);
      expect(problems.map((problem) => problem.field)).toEqual([
        'timestamp',
        'agent.id',
        'activity.status',
      ]);
    });

    it('reports a missing own body alongside the body of another kind', () => {
      const problems = problemsOf({
        ...MINIMAL_HEARTBEAT,
        heartbeat: undefined,
        audit: AUDIT_BODY,
      });

      expect(problems.map((problem) => problem.field).sort()).toEqual(['audit', 'heartbeat']);
    });

    it('accepts exactly the limits that one character more rejects', () => {
      const atLimits = {
        ...MINIMAL_ACTIVITY,
        eventId: 'e'.repeat(CONTRACT_LIMITS.eventIdChars),
        agent: { id: 'a'.repeat(CONTRACT_LIMITS.idChars) },
        activity: { ...ACTIVITY_BODY, attributes: manyAttributes(CONTRACT_LIMITS.attributeCount) },
      };

      expect(validateEvent(atLimits).ok).toBe(true);
    });

    it('describes problems as one line of field and reason pairs', () => {
      const problems = problemsOf(withActivity({ status: 'done', durationMs: -1 }));

      expect(describeProblems(problems)).toBe(
        'activity.status expected one of "started", "succeeded", "failed", got "done"; ' +
          'activity.durationMs must be 0 or more, got -1',
      );
    });
  });

  describe('acceptance', () => {
    it.each([
      ['activity', MINIMAL_ACTIVITY],
      ['error', MINIMAL_ERROR],
      ['audit', MINIMAL_AUDIT],
      ['heartbeat', MINIMAL_HEARTBEAT],
    ])('accepts a minimal %s event and adds only an event id', (_kind, input) => {
      const event = accept(input);

      expect(event).toEqual({ ...input, eventId: expect.any(String) });
    });

    it.each(Object.entries(FULL_INPUTS))(
      'accepts a %s event with every optional field and keeps each one',
      (_kind, input) => {
        expect(accept(input)).toEqual(input);
      },
    );

    it('leaves absent optional fields out instead of setting them to undefined', () => {
      const event = accept(MINIMAL_ERROR);

      expect(Object.keys(event).sort()).toEqual(['agent', 'error', 'eventId', 'kind', 'timestamp']);
      expect(Object.keys(event.kind === 'error' ? event.error : {}).sort()).toEqual([
        'message',
        'severity',
        'type',
      ]);
    });

    it('treats null optional fields as absent', () => {
      const event = accept({
        ...MINIMAL_ACTIVITY,
        traceId: null,
        activity: { ...ACTIVITY_BODY, durationMs: null },
      });

      expect(event).not.toHaveProperty('traceId');
      expect(event.kind === 'activity' && event.activity).toEqual(ACTIVITY_BODY);
    });

    it('normalises an RFC 3339 timestamp with offset +01:00 to UTC epoch milliseconds', () => {
      const event = accept({ ...MINIMAL_ACTIVITY, timestamp: '2026-01-15T10:30:00.007+01:00' });

      expect(event.timestamp).toBe(SAMPLE_TIMESTAMP_MS);
    });

    it('truncates fractional seconds beyond the millisecond', () => {
      const event = accept({ ...MINIMAL_ACTIVITY, timestamp: '2026-01-15T09:30:00.007999999Z' });

      expect(event.timestamp).toBe(SAMPLE_TIMESTAMP_MS);
    });

    it('accepts a lowercase t and z', () => {
      const event = accept({ ...MINIMAL_ACTIVITY, timestamp: '2026-01-15t09:30:00.007z' });

      expect(event.timestamp).toBe(SAMPLE_TIMESTAMP_MS);
    });

    it('accepts every IPv4 and IPv6 source address form', () => {
      for (const sourceIp of ['192.0.2.1', '::1', '2001:db8::7', '::ffff:192.0.2.1']) {
        expect(validateEvent(withAudit({ sourceIp })).ok, sourceIp).toBe(true);
      }
    });
  });

  describe('derived event id', () => {
    it('derives a UUID version 5 when eventId is missing', () => {
      const event = accept(MINIMAL_ACTIVITY);

      expect(event.eventId).toMatch(UUID_V5_PATTERN);
    });

    it('derives the same id for the same content', () => {
      const reordered = {
        activity: { status: ACTIVITY_BODY.status, action: ACTIVITY_BODY.action },
        agent: SAMPLE_AGENT,
        timestamp: SAMPLE_TIMESTAMP_MS,
        kind: 'activity',
      };

      expect(accept(reordered).eventId).toBe(accept(MINIMAL_ACTIVITY).eventId);
    });

    it('derives the same id whichever timestamp form names the same instant', () => {
      const asText = accept({ ...MINIMAL_ACTIVITY, timestamp: '2026-01-15T09:30:00.007Z' });

      expect(asText.eventId).toBe(accept(MINIMAL_ACTIVITY).eventId);
    });

    it('derives a different id when any content differs', () => {
      const base = accept(MINIMAL_ACTIVITY).eventId;
      const variants = [
        { ...MINIMAL_ACTIVITY, timestamp: SAMPLE_TIMESTAMP_MS + 1 },
        { ...MINIMAL_ACTIVITY, agent: { id: 'agent-8' } },
        withActivity({ status: 'failed' }),
        withActivity({ attributes: { tool: 'search' } }),
        { ...MINIMAL_ACTIVITY, taskId: 'task-3' },
      ];

      const ids = variants.map((variant) => accept(variant).eventId);

      expect(new Set([base, ...ids]).size).toBe(variants.length + 1);
    });

    it('keeps an eventId the producer sent', () => {
      expect(accept({ ...MINIMAL_ACTIVITY, eventId: 'evt-0001' }).eventId).toBe('evt-0001');
    });
  });

  describe('size bound', () => {
    const VALUES: Array<[string, unknown]> = [
      ['ASCII text', { a: 'plain text', n: 12 }],
      ['control characters, escaped as \\u00XX', { k: '\u0001\u0002\u001f'.repeat(40) }],
      ['quotes and backslashes', { '"key"': '\\"'.repeat(30) }],
      ['three-byte characters', { text: '中文'.repeat(50) }],
      ['surrogate pairs', { emoji: '😀'.repeat(50) }],
      ['a lone surrogate, escaped', { bad: '\ud800x'.repeat(10) }],
      ['long numbers', { small: -0.0000012345678901234567, big: -1.7976931348623157e308 }],
      ['nested objects, arrays, booleans and nulls', { o: { p: [1, true, null, 'x'] }, u: null }],
      ['an undefined field, which JSON leaves out', { gone: undefined, kept: 1 }],
      ['a valid event', FULL_INPUTS.error],
    ];

    it.each(VALUES)('is never below the JSON size of %s', (_name, value) => {
      expect(jsonBytesAtMost(value)).toBeGreaterThanOrEqual(
        Buffer.byteLength(JSON.stringify(value)),
      );
    });

    it('sends values that are not plain data to the exact measure', () => {
      expect(jsonBytesAtMost({ when: new Date(0) })).toBe(Number.POSITIVE_INFINITY);
      expect(jsonBytesAtMost({ toJSON: () => 'x'.repeat(10) })).toBe(Number.POSITIVE_INFINITY);
    });

    it('accepts an event whose bound is over the limit once it is measured exactly', () => {
      // 60 000 ASCII characters: bounded by 360 002 bytes, written as about 60 000.
      const event = accept(withError({ message: 'a'.repeat(60_000) }));
      expect(event.kind).toBe('error');
      expect(jsonBytesAtMost(event)).toBeGreaterThan(CONTRACT_LIMITS.eventBytes);
    });
  });
});
