/**
 * Records written by one build and read by another, through one registry: the newer reader fills
 * defaults, the older reader drops what it does not know, and what cannot be resolved is refused
 * with a reason instead of being decoded into the wrong fields.
 */
import avro from 'avsc';
import { beforeEach, describe, expect, it } from 'vitest';

import { buildSchemas, type BuildSchema } from '../../../schemas/catalog.js';
import { openSchemaCodec } from '../../../schemas/codec.js';
import type { ErrorEvent } from '../../../schemas/event.js';
import { readRawEvent, readRawRecord } from '../../../schemas/raw-record.js';
import { createMemoryRegistry } from '../../../schemas/registry/memory-registry.js';
import type { SchemaRegistry } from '../../../schemas/registry/schema-registry.js';
import { rejectedPanaceaError } from '../fixtures/panacea-error.js';
import { FULL_INPUTS, validEvent } from '../fixtures/sample-events.js';

/** The schemas of a build from before error.v2: what "v1 code" reads with. */
const V1_BUILD = buildSchemas().filter((entry) => entry.file !== 'error.v2.avsc');
const ERROR_V2 = buildSchemas().find((entry) => entry.file === 'error.v2.avsc') as BuildSchema;

function errorEventWithAttributes(): ErrorEvent {
  const event = validEvent({
    ...FULL_INPUTS.error,
    error: { ...FULL_INPUTS.error.error, attributes: { 'request.id': 'r-17', attempt: 2 } },
  });
  if (event.kind !== 'error') throw new Error('expected an error event');
  return event;
}

/** A later error schema: v2 with the message turned into a number, which no v1 reader can read. */
function errorSchemaWithNumericMessage(): avro.Schema {
  const schema = structuredClone(ERROR_V2.schema) as { fields: Array<Record<string, unknown>> };
  const body = schema.fields.find((field) => field.name === 'error') as {
    type: { fields: Array<Record<string, unknown>> };
  };
  for (const field of body.type.fields) if (field.name === 'message') field.type = 'long';
  return schema as unknown as avro.Schema;
}

let registry: SchemaRegistry;
beforeEach(() => {
  registry = createMemoryRegistry();
});

describe('schema evolution', () => {
  it('reads a v1 record with v2 code: the field added in v2 takes its default', async () => {
    const v1Codec = await openSchemaCodec(registry, V1_BUILD);
    const v2Codec = await openSchemaCodec(registry);
    const { attributes: _attributes, ...v1Body } = errorEventWithAttributes().error;
    const v1Event = { ...errorEventWithAttributes(), error: v1Body };

    const record = v1Codec.encode(v1Event);
    const read = (await readRawEvent(v2Codec, record, 'error')) as ErrorEvent;

    expect(record.readUInt32BE(1)).toBe(v1Codec.writerIds.error);
    expect(v1Codec.writerIds.error).not.toBe(v2Codec.writerIds.error);
    expect(read).toStrictEqual(v1Event);
    expect(read.error).not.toHaveProperty('attributes');
  });

  it('reads a v2 record with v1 code: resolved, the field v1 does not know is left out', async () => {
    const v2Codec = await openSchemaCodec(registry);
    const v1Codec = await openSchemaCodec(registry, V1_BUILD);
    const event = errorEventWithAttributes();

    const read = (await readRawEvent(v1Codec, v2Codec.encode(event), 'error')) as ErrorEvent;

    const { attributes: _attributes, ...withoutAttributes } = event.error;
    expect(read).toStrictEqual({ ...event, error: withoutAttributes });
  });

  it('refuses, naming the field, a newer record that v1 code cannot resolve', async () => {
    const v1Codec = await openSchemaCodec(registry, V1_BUILD);
    await registry.setCompatibility(ERROR_V2.subject, 'NONE');
    const later = await registry.register(ERROR_V2.subject, errorSchemaWithNumericMessage());
    const laterType = avro.Type.forSchema(errorSchemaWithNumericMessage());
    const { kind: _kind, ...fields } = errorEventWithAttributes();
    const body = laterType.toBuffer({ ...fields, error: { ...fields.error, message: 42 } });
    const header = Buffer.from([0, 0, 0, 0, 0]);
    header.writeUInt32BE(later.id, 1);

    const error = await rejectedPanaceaError(
      readRawEvent(v1Codec, Buffer.concat([header, body]), 'error'),
    );

    expect(error.code).toBe('SCHEMA_UNRESOLVABLE');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`schema id ${later.id}`);
    expect(error.message).toContain('ErrorEvent.error.message');
    expect(error.message).toContain('from long to string');
  });

  it('refuses that same incompatible schema at registration under the default mode', async () => {
    await openSchemaCodec(registry);

    const error = await rejectedPanaceaError(
      registry.register(ERROR_V2.subject, errorSchemaWithNumericMessage()),
    );

    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.context.field).toBe('ErrorEvent.error.message');
    expect(error.message).toContain('BACKWARD');
  });

  it('maps a symbol unknown to the reader to the enum default', async () => {
    const v2Codec = await openSchemaCodec(registry);
    const withFatal = structuredClone(ERROR_V2.schema) as unknown as {
      fields: Array<{
        name: string;
        type: { fields: Array<{ name: string; type: { symbols: string[] } }> };
      }>;
    };
    const severity = withFatal.fields
      .find((field) => field.name === 'error')
      ?.type.fields.find((field) => field.name === 'severity');
    severity?.type.symbols.push('fatal');
    const registered = await registry.register(
      ERROR_V2.subject,
      withFatal as unknown as avro.Schema,
    );
    const { kind: _kind, ...fields } = errorEventWithAttributes();
    const body = avro.Type.forSchema(withFatal as unknown as avro.Schema).toBuffer({
      ...fields,
      error: { ...fields.error, severity: 'fatal' },
    });
    const header = Buffer.from([0, 0, 0, 0, 0]);
    header.writeUInt32BE(registered.id, 1);

    const read = (await readRawEvent(
      v2Codec,
      Buffer.concat([header, body]),
      'error',
    )) as ErrorEvent;

    expect(read.error.severity).toBe('error');
  });

  it('keeps a timestamp-millis value to the exact millisecond across versions', async () => {
    const v1Codec = await openSchemaCodec(registry, V1_BUILD);
    const v2Codec = await openSchemaCodec(registry);
    const event = {
      ...errorEventWithAttributes(),
      timestamp: Date.UTC(2026, 11, 4, 18, 30, 5, 123),
    };

    const read = await readRawEvent(v1Codec, v2Codec.encode(event), 'error');

    expect(read.timestamp).toBe(event.timestamp);
    expect(new Date(read.timestamp).toISOString()).toBe('2026-12-04T18:30:05.123Z');
  });
});

describe('records whose writer schema the registry cannot give', () => {
  it('refuses a record whose registered schema text is not a schema, as SCHEMA_UNRESOLVABLE', async () => {
    const v2Codec = await openSchemaCodec(registry);
    const broken: SchemaRegistry = {
      ...registry,
      schemaById: async (id) => ({ id, subject: 'junk', version: 1, schema: 'not json' }),
    };
    const codec = await openSchemaCodec(broken);
    const body = v2Codec.encode(errorEventWithAttributes()).subarray(5);

    const error = await rejectedPanaceaError(
      codec.decode(Buffer.concat([Buffer.from([0, 0, 0, 0, 99]), body])),
    );

    expect(error.code).toBe('SCHEMA_UNRESOLVABLE');
    expect(error.message).toContain('schema id 99 is unreadable: the schema text is not JSON');
  });

  it('registers a primitive schema', async () => {
    const registered = await registry.register('plain', 'string');

    expect(registered).toMatchObject({ version: 1, schema: '"string"' });
  });
});

describe('text that is not UTF-8 on the wire', () => {
  it('reads it repaired as U+FFFD and says it was repaired', async () => {
    const codec = await openSchemaCodec(registry);
    const event = errorEventWithAttributes();
    const record = codec.encode({ ...event, error: { ...event.error, type: 'ABCD' } });
    const position = record.indexOf(Buffer.from('ABCD'));
    record[position] = 0xff;
    record[position + 1] = 0xfe;

    const decoded = await codec.decode(record);

    expect(decoded.repairedUtf8).toBe(true);
    expect((decoded.event as ErrorEvent).error.type).toBe('\uFFFD\uFFFDCD');
    const read = await readRawRecord(codec, record, 'error');
    expect(read.repairedUtf8).toBe(true);
    expect((read.event as ErrorEvent).error.message).toBe(event.error.message);
  });

  it('reads a real U+FFFD written as valid UTF-8 as it is, not as a repair', async () => {
    const codec = await openSchemaCodec(registry);
    const event = errorEventWithAttributes();
    const withReplacement = { ...event, error: { ...event.error, message: 'broken \uFFFD text' } };

    const decoded = await codec.decode(codec.encode(withReplacement));

    expect((decoded.event as ErrorEvent).error.message).toBe('broken \uFFFD text');
    expect(decoded.repairedUtf8).toBe(false);
  });

  it('says nothing was repaired for ordinary text', async () => {
    const codec = await openSchemaCodec(registry);

    const decoded = await codec.decode(codec.encode(errorEventWithAttributes()));

    expect(decoded.repairedUtf8).toBe(false);
  });
});
