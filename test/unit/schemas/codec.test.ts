import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import { schemaById, writerSchemaFor } from '../../../schemas/catalog.js';
import { decodeEvent, encodeEvent } from '../../../schemas/codec.js';
import { describeProblems, validateEvent } from '../../../schemas/contract.js';
import type { AgentEvent, EventKind } from '../../../schemas/event.js';
import { readRawEvent } from '../../../schemas/raw-record.js';

// An odd millisecond, so a timestamp rounded or truncated to the second would show.
const TIMESTAMP_MS = Date.UTC(2026, 0, 15, 9, 30, 0, 7);
const AGENT = { id: 'agent-7' };

const FULL_ENVELOPE = {
  eventId: 'evt-0001',
  timestamp: TIMESTAMP_MS,
  agent: { id: 'agent-7', name: 'researcher', type: 'langgraph', version: '1.4.2' },
  workflowId: 'wf-12',
  taskId: 'task-3',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
};

const MINIMAL_INPUTS: Record<EventKind, Record<string, unknown>> = {
  activity: {
    kind: 'activity',
    timestamp: TIMESTAMP_MS,
    agent: AGENT,
    activity: { action: 'tool.call', status: 'started' },
  },
  error: {
    kind: 'error',
    timestamp: TIMESTAMP_MS,
    agent: AGENT,
    error: { type: 'TimeoutError', message: 'model call timed out', severity: 'warning' },
  },
  audit: {
    kind: 'audit',
    timestamp: TIMESTAMP_MS,
    agent: AGENT,
    audit: {
      actor: { type: 'user', id: 'u-1' },
      action: 'secrets.read',
      resource: { type: 'secret', id: 's-9' },
      outcome: 'success',
    },
  },
  heartbeat: {
    kind: 'heartbeat',
    timestamp: TIMESTAMP_MS,
    agent: AGENT,
    heartbeat: { status: 'active' },
  },
};

const FULL_INPUTS: Record<EventKind, Record<string, unknown>> = {
  activity: {
    ...FULL_ENVELOPE,
    kind: 'activity',
    activity: {
      action: 'tool.call',
      status: 'succeeded',
      durationMs: 12.345678901234,
      attributes: {
        tool: 'search',
        empty: '',
        tokens: 812,
        temperature: 0.7,
        negative: -3.25,
        cached: false,
        streamed: true,
      },
    },
  },
  error: {
    ...FULL_ENVELOPE,
    kind: 'error',
    error: {
      type: 'TimeoutError',
      message: 'model call timed out — après 30 s',
      stack: 'TimeoutError: model call timed out\n    at call (agent.ts:10:5)',
      severity: 'critical',
      retryable: false,
    },
  },
  audit: {
    ...FULL_ENVELOPE,
    kind: 'audit',
    audit: {
      actor: { type: 'user', id: 'u-1' },
      action: 'secrets.read',
      resource: { type: 'secret', id: 's-9' },
      outcome: 'denied',
      reason: 'policy forbids secret access',
      sourceIp: '2001:db8::7',
    },
  },
  heartbeat: {
    ...FULL_ENVELOPE,
    kind: 'heartbeat',
    heartbeat: { status: 'busy', cpuPercent: 37.123456789, memoryMb: 512.25, queueDepth: 2 ** 40 },
  },
};

const SCHEMA_ID_BY_KIND: Record<EventKind, number> = {
  activity: 1,
  error: 2,
  audit: 3,
  heartbeat: 4,
};
const KINDS = Object.keys(SCHEMA_ID_BY_KIND) as EventKind[];

function validated(input: unknown): AgentEvent {
  const result = validateEvent(input);
  if (!result.ok) throw new Error(describeProblems(result.problems));
  return result.event;
}

/** Confluent framing around an Avro body, written by hand so the codec is not its own oracle. */
function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

function failure(action: () => unknown): PanaceaError {
  try {
    action();
  } catch (error) {
    if (error instanceof PanaceaError) return error;
    throw error;
  }
  throw new Error('expected a PanaceaError, but nothing was thrown');
}

describe('avro codec', () => {
  describe('round trip', () => {
    it.each(KINDS)('decodes a %s event with every optional field to the same event', (kind) => {
      const event = validated(FULL_INPUTS[kind]);

      const decoded = decodeEvent(encodeEvent(event));

      expect(decoded.event).toStrictEqual(event);
    });

    it.each(KINDS)('decodes a %s event with no optional field to the same event', (kind) => {
      const event = validated(MINIMAL_INPUTS[kind]);

      const decoded = decodeEvent(encodeEvent(event));

      expect(decoded.event).toStrictEqual(event);
    });

    it('keeps float durations, attribute value types and the millisecond exactly', () => {
      const event = validated(FULL_INPUTS.activity);

      const decoded = decodeEvent(encodeEvent(event)).event as typeof event;

      expect(decoded.timestamp).toBe(TIMESTAMP_MS);
      if (decoded.kind !== 'activity') throw new Error(`decoded a ${decoded.kind} event`);
      expect(decoded.activity.durationMs).toBe(12.345678901234);
      expect(decoded.activity.attributes).toStrictEqual({
        tool: 'search',
        empty: '',
        tokens: 812,
        temperature: 0.7,
        negative: -3.25,
        cached: false,
        streamed: true,
      });
    });

    it('reports the schema id and kind it decoded with', () => {
      const decoded = decodeEvent(encodeEvent(validated(MINIMAL_INPUTS.audit)));

      expect(decoded.schemaId).toBe(3);
      expect(decoded.kind).toBe('audit');
    });
  });

  describe('wire format', () => {
    it.each(KINDS)('writes magic byte 0 and the %s schema id big-endian', (kind) => {
      const buffer = encodeEvent(validated(MINIMAL_INPUTS[kind]));

      expect([...buffer.subarray(0, 5)]).toEqual([0, 0, 0, 0, SCHEMA_ID_BY_KIND[kind]]);
    });

    it.each(KINDS)('follows the header with the %s Avro body of the catalog schema', (kind) => {
      const event = validated(FULL_INPUTS[kind]);
      const { kind: _kind, ...fields } = event;

      const buffer = encodeEvent(event);

      expect(writerSchemaFor(kind).id).toBe(SCHEMA_ID_BY_KIND[kind]);
      expect(writerSchemaFor(kind).type.fromBuffer(buffer.subarray(5))).toMatchObject(fields);
    });
  });

  describe('decode failures', () => {
    it('refuses a null value as DECODE_FAILED', () => {
      const error = failure(() => decodeEvent(null));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('no value');
    });

    it('refuses an empty value as DECODE_FAILED', () => {
      expect(failure(() => decodeEvent(Buffer.alloc(0))).code).toBe('DECODE_FAILED');
    });

    it('refuses a value without magic byte 0 as DECODE_FAILED, saying so', () => {
      const buffer = Buffer.from(encodeEvent(validated(MINIMAL_INPUTS.activity)));
      buffer.writeUInt8(1, 0);

      const error = failure(() => decodeEvent(buffer));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('magic byte 0');
      expect(error.message).toContain('first byte 1');
    });

    it('refuses JSON text as DECODE_FAILED', () => {
      const buffer = Buffer.from(JSON.stringify(MINIMAL_INPUTS.activity));

      const error = failure(() => decodeEvent(buffer));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('magic byte');
    });

    it('refuses a value shorter than the header as DECODE_FAILED', () => {
      const error = failure(() => decodeEvent(Buffer.from([0, 0, 0])));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('3 bytes');
    });

    it('refuses an unknown schema id as UNKNOWN_SCHEMA_ID naming the id', () => {
      const body = encodeEvent(validated(MINIMAL_INPUTS.activity)).subarray(5);

      const error = failure(() => decodeEvent(frame(999, body)));

      expect(error.code).toBe('UNKNOWN_SCHEMA_ID');
      expect(error.message).toContain('999');
    });

    it('refuses a truncated body as DECODE_FAILED naming the schema', () => {
      const buffer = encodeEvent(validated(FULL_INPUTS.activity));

      const error = failure(() => decodeEvent(buffer.subarray(0, buffer.length - 4)));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('panacea.agent.ActivityEvent v1 (id 1)');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it('refuses a body with trailing bytes as DECODE_FAILED', () => {
      const buffer = encodeEvent(validated(MINIMAL_INPUTS.heartbeat));

      const error = failure(() => decodeEvent(Buffer.concat([buffer, Buffer.from([1, 2, 3])])));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('panacea.agent.HeartbeatEvent');
    });

    it('marks every decode failure as not retriable', () => {
      expect(failure(() => decodeEvent(null)).retriable).toBe(false);
      expect(failure(() => decodeEvent(frame(999, Buffer.alloc(4)))).retriable).toBe(false);
    });
  });

  describe('raw record reading', () => {
    it('returns the contract event of a record on its own topic', () => {
      const event = validated(FULL_INPUTS.heartbeat);

      expect(readRawEvent(encodeEvent(event), 'heartbeat')).toStrictEqual(event);
    });

    it('accepts any kind when no topic kind is expected', () => {
      const event = validated(FULL_INPUTS.error);

      expect(readRawEvent(encodeEvent(event), undefined)).toStrictEqual(event);
    });

    it('refuses an error record on the activity topic as KIND_TOPIC_MISMATCH', () => {
      const buffer = encodeEvent(validated(MINIMAL_INPUTS.error));

      const error = failure(() => readRawEvent(buffer, 'activity'));

      expect(error.code).toBe('KIND_TOPIC_MISMATCH');
      expect(error.message).toContain('"error" event (schema id 2)');
      expect(error.message).toContain('"activity" events');
    });

    it('refuses an Avro-valid record with an empty agent id as CONTRACT_VIOLATION', () => {
      const entry = schemaById(1);
      if (entry === undefined) throw new Error('schema id 1 is not in the catalog');
      const body = entry.type.toBuffer({
        eventId: 'evt-0002',
        timestamp: TIMESTAMP_MS,
        agent: { id: '' },
        activity: { action: 'tool.call', status: 'started' },
      });

      const error = failure(() => readRawEvent(frame(1, body), 'activity'));

      expect(error.code).toBe('CONTRACT_VIOLATION');
      expect(error.context.field).toBe('agent.id');
      expect(error.message).toContain('agent.id must not be empty');
    });

    it('refuses an Avro-valid record whose timestamp is in epoch seconds', () => {
      const body = writerSchemaFor('heartbeat').type.toBuffer({
        eventId: 'evt-0003',
        timestamp: 1_768_469_400,
        agent: AGENT,
        heartbeat: { status: 'idle' },
      });

      const error = failure(() => readRawEvent(frame(4, body), 'heartbeat'));

      expect(error.code).toBe('CONTRACT_VIOLATION');
      expect(error.context.field).toBe('timestamp');
      expect(error.message).toContain('epoch seconds');
    });

    it('passes decode failures through with their own code', () => {
      expect(failure(() => readRawEvent(null, 'activity')).code).toBe('DECODE_FAILED');
    });
  });
});
