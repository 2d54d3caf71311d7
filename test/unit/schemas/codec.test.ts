import { beforeAll, describe, expect, it } from 'vitest';

import { newestBuildSchema } from '../../../schemas/catalog.js';
import { openSchemaCodec, type SchemaCodec } from '../../../schemas/codec.js';
import { createMemoryRegistry } from '../../../schemas/registry/memory-registry.js';
import type { ActivityEvent, EventKind } from '../../../schemas/event.js';
import { readRawEvent } from '../../../schemas/raw-record.js';
import { rejectedPanaceaError } from '../fixtures/panacea-error.js';
import {
  FULL_INPUTS,
  MINIMAL_INPUTS,
  SAMPLE_AGENT,
  SAMPLE_TIMESTAMP_MS,
  validEvent,
} from '../fixtures/sample-events.js';

// Attribute values of every type the contract allows, with an empty string and a negative float.
const ATTRIBUTES_OF_EVERY_TYPE = {
  tool: 'search',
  empty: '',
  tokens: 812,
  temperature: 0.7,
  negative: -3.25,
  cached: false,
  streamed: true,
};

// The full samples with values the Avro encoding could lose: long fractions, every attribute type,
// text beyond ASCII and a queue depth beyond 32 bits.
const PRECISE_FULL_INPUTS = {
  ...FULL_INPUTS,
  activity: {
    ...FULL_INPUTS.activity,
    activity: {
      ...FULL_INPUTS.activity.activity,
      durationMs: 12.345678901234,
      attributes: ATTRIBUTES_OF_EVERY_TYPE,
    },
  },
  error: {
    ...FULL_INPUTS.error,
    error: {
      ...FULL_INPUTS.error.error,
      message: 'model call timed out — après 30 s',
      retryable: false,
    },
  },
  heartbeat: {
    ...FULL_INPUTS.heartbeat,
    heartbeat: {
      ...FULL_INPUTS.heartbeat.heartbeat,
      cpuPercent: 37.123456789,
      queueDepth: 2 ** 40,
    },
  },
};

// A new registry numbers the shipped schemas in catalog order: activity v1, audit v1, error v1,
// error v2, heartbeat v1; each kind writes with its newest.
const SCHEMA_ID_BY_KIND: Record<EventKind, number> = {
  activity: 1,
  audit: 2,
  error: 4,
  heartbeat: 5,
};
const KINDS = Object.keys(SCHEMA_ID_BY_KIND) as EventKind[];

let codec: SchemaCodec;
beforeAll(async () => {
  codec = await openSchemaCodec(createMemoryRegistry());
});

/** Confluent framing around an Avro body, written by hand so the codec is not its own oracle. */
function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

describe('avro codec', () => {
  describe('round trip', () => {
    it.each(KINDS)(
      'decodes a %s event with every optional field to the same event',
      async (kind) => {
        const event = validEvent(PRECISE_FULL_INPUTS[kind]);

        const decoded = await codec.decode(codec.encode(event));

        expect(decoded.event).toStrictEqual(event);
      },
    );

    it.each(KINDS)('decodes a %s event with no optional field to the same event', async (kind) => {
      const event = validEvent(MINIMAL_INPUTS[kind]);

      const decoded = await codec.decode(codec.encode(event));

      expect(decoded.event).toStrictEqual(event);
    });

    it('keeps float durations, attribute value types and the millisecond exactly', async () => {
      const event = validEvent(PRECISE_FULL_INPUTS.activity);

      const decoded = (await codec.decode(codec.encode(event))).event as typeof event;

      expect(decoded.timestamp).toBe(SAMPLE_TIMESTAMP_MS);
      if (decoded.kind !== 'activity') throw new Error(`decoded a ${decoded.kind} event`);
      expect(decoded.activity.durationMs).toBe(12.345678901234);
      expect(decoded.activity.attributes).toStrictEqual(ATTRIBUTES_OF_EVERY_TYPE);
    });

    it('reports the schema id and kind it decoded with', async () => {
      const decoded = await codec.decode(codec.encode(validEvent(MINIMAL_INPUTS.audit)));

      expect(decoded.schemaId).toBe(SCHEMA_ID_BY_KIND.audit);
      expect(decoded.kind).toBe('audit');
    });
  });

  describe('wire format', () => {
    it.each(KINDS)('writes magic byte 0 and the %s schema id big-endian', async (kind) => {
      const buffer = codec.encode(validEvent(MINIMAL_INPUTS[kind]));

      expect([...buffer.subarray(0, 5)]).toEqual([0, 0, 0, 0, SCHEMA_ID_BY_KIND[kind]]);
    });

    it.each(KINDS)(
      'follows the header with the %s Avro body of the catalog schema',
      async (kind) => {
        const event = validEvent(PRECISE_FULL_INPUTS[kind]);
        const { kind: _kind, ...fields } = event;

        const buffer = codec.encode(event);

        expect(codec.writerIds[kind]).toBe(SCHEMA_ID_BY_KIND[kind]);
        expect(newestBuildSchema(kind).type.fromBuffer(buffer.subarray(5))).toMatchObject(fields);
      },
    );
  });

  describe('decode failures', () => {
    it('refuses a null value as DECODE_FAILED', async () => {
      const error = await rejectedPanaceaError(codec.decode(null));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('no value');
    });

    it('refuses an empty value as DECODE_FAILED', async () => {
      expect((await rejectedPanaceaError(codec.decode(Buffer.alloc(0)))).code).toBe(
        'DECODE_FAILED',
      );
    });

    it('refuses a value without magic byte 0 as DECODE_FAILED, saying so', async () => {
      const buffer = Buffer.from(codec.encode(validEvent(MINIMAL_INPUTS.activity)));
      buffer.writeUInt8(1, 0);

      const error = await rejectedPanaceaError(codec.decode(buffer));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('magic byte 0');
      expect(error.message).toContain('first byte 1');
    });

    it('refuses JSON text as DECODE_FAILED', async () => {
      const buffer = Buffer.from(JSON.stringify(MINIMAL_INPUTS.activity));

      const error = await rejectedPanaceaError(codec.decode(buffer));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('magic byte');
    });

    it('refuses a value shorter than the header as DECODE_FAILED', async () => {
      const error = await rejectedPanaceaError(codec.decode(Buffer.from([0, 0, 0])));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('3 bytes');
    });

    it('refuses an unknown schema id as UNKNOWN_SCHEMA_ID naming the id', async () => {
      const body = codec.encode(validEvent(MINIMAL_INPUTS.activity)).subarray(5);

      const error = await rejectedPanaceaError(codec.decode(frame(999, body)));

      expect(error.code).toBe('UNKNOWN_SCHEMA_ID');
      expect(error.message).toContain('999');
    });

    it('refuses a truncated body as DECODE_FAILED naming the schema', async () => {
      const buffer = codec.encode(validEvent(PRECISE_FULL_INPUTS.activity));

      const error = await rejectedPanaceaError(codec.decode(buffer.subarray(0, buffer.length - 4)));

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('panacea.agent.ActivityEvent v1 (id 1)');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it('refuses a body with trailing bytes as DECODE_FAILED', async () => {
      const buffer = codec.encode(validEvent(MINIMAL_INPUTS.heartbeat));

      const error = await rejectedPanaceaError(
        codec.decode(Buffer.concat([buffer, Buffer.from([1, 2, 3])])),
      );

      expect(error.code).toBe('DECODE_FAILED');
      expect(error.message).toContain('panacea.agent.HeartbeatEvent');
    });

    it('marks every decode failure as not retriable', async () => {
      expect((await rejectedPanaceaError(codec.decode(null))).retriable).toBe(false);
      expect(
        (await rejectedPanaceaError(codec.decode(frame(999, Buffer.alloc(4))))).retriable,
      ).toBe(false);
    });
  });

  describe('raw record reading', () => {
    it('returns the contract event of a record on its own topic', async () => {
      const event = validEvent(PRECISE_FULL_INPUTS.heartbeat);

      expect(await readRawEvent(codec, codec.encode(event), 'heartbeat')).toStrictEqual(event);
    });

    it('accepts any kind when no topic kind is expected', async () => {
      const event = validEvent(PRECISE_FULL_INPUTS.error);

      expect(await readRawEvent(codec, codec.encode(event), undefined)).toStrictEqual(event);
    });

    it('refuses an error record on the activity topic as KIND_TOPIC_MISMATCH', async () => {
      const buffer = codec.encode(validEvent(MINIMAL_INPUTS.error));

      const error = await rejectedPanaceaError(readRawEvent(codec, buffer, 'activity'));

      expect(error.code).toBe('KIND_TOPIC_MISMATCH');
      expect(error.message).toContain('"error" event (schema id 4)');
      expect(error.message).toContain('"activity" events');
    });

    it('refuses an Avro-valid record with an empty agent id as CONTRACT_VIOLATION', async () => {
      const body = newestBuildSchema('activity').type.toBuffer({
        eventId: 'evt-0002',
        timestamp: SAMPLE_TIMESTAMP_MS,
        agent: { id: '' },
        activity: { action: 'tool.call', status: 'started' },
      });

      const error = await rejectedPanaceaError(readRawEvent(codec, frame(1, body), 'activity'));

      expect(error.code).toBe('CONTRACT_VIOLATION');
      expect(error.context.field).toBe('agent.id');
      expect(error.message).toContain('agent.id must not be empty');
    });

    it('refuses an Avro-valid record whose timestamp is in epoch seconds', async () => {
      const body = newestBuildSchema('heartbeat').type.toBuffer({
        eventId: 'evt-0003',
        timestamp: 1_768_469_400,
        agent: SAMPLE_AGENT,
        heartbeat: { status: 'idle' },
      });

      const error = await rejectedPanaceaError(
        readRawEvent(codec, frame(SCHEMA_ID_BY_KIND.heartbeat, body), 'heartbeat'),
      );

      expect(error.code).toBe('CONTRACT_VIOLATION');
      expect(error.context.field).toBe('timestamp');
      expect(error.message).toContain('epoch seconds');
    });

    it('passes decode failures through with their own code', async () => {
      expect((await rejectedPanaceaError(readRawEvent(codec, null, 'activity'))).code).toBe(
        'DECODE_FAILED',
      );
    });
  });
});

describe('activity attributes on the wire', () => {
  it('keeps an empty attributes object apart from absent attributes', async () => {
    const withEmpty = validEvent({
      ...MINIMAL_INPUTS.activity,
      activity: { action: 'tool.call', status: 'started', attributes: {} },
    });
    const without = validEvent(MINIMAL_INPUTS.activity);

    expect(
      ((await codec.decode(codec.encode(withEmpty))).event as ActivityEvent).activity.attributes,
    ).toEqual({});
    expect(
      ((await codec.decode(codec.encode(without))).event as ActivityEvent).activity,
    ).not.toHaveProperty('attributes');
  });
});
