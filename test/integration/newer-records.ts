/**
 * One scenario both registries must pass: records written by later builds reach this build's
 * pipeline. A later schema that only adds a field is resolved (the field left out); one that
 * changed a field's type, registered with compatibility switched off, is dead-lettered as
 * SCHEMA_UNRESOLVABLE with the field and the rule in its reason.
 */
import avro from 'avsc';
import { expect } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { DEAD_LETTER_HEADERS } from '../../core/dead-letter.js';
import { createNaming } from '../../core/naming.js';
import { ensureTopics } from '../../infra/topics.js';
import { buildSchemas } from '../../schemas/catalog.js';
import { validateEvent } from '../../schemas/contract.js';
import type { ErrorEvent } from '../../schemas/event.js';
import {
  field,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  type Isolation,
} from './harness.js';

const ERROR_V2 = buildSchemas().find((entry) => entry.file === 'error.v2.avsc');

/** The error.v2 schema with its body's fields changed, as a later build might write it. */
export function laterErrorSchema(
  change: (body: Array<Record<string, unknown>>) => void,
): avro.Schema {
  const schema = structuredClone(ERROR_V2?.schema) as { fields: Array<Record<string, unknown>> };
  const body = schema.fields.find((entry) => entry.name === 'error') as {
    type: { fields: Array<Record<string, unknown>> };
  };
  change(body.type.fields);
  return schema as unknown as avro.Schema;
}

/** Confluent framing around an Avro body. */
function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.from([0, 0, 0, 0, 0]);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export async function expectNewerRecordsResolvedOrDeadLettered(
  isolation: Isolation,
  eventIdPrefix: string,
): Promise<void> {
  const { codec, registry } = await openCodecFor(isolation);
  const subject = ERROR_V2?.subject as string;
  const withOwner = laterErrorSchema((fields) =>
    fields.push({ name: 'owner', type: ['null', 'string'], default: null }),
  );
  const compatible = await registry.register(subject, withOwner);
  await registry.setCompatibility(subject, 'NONE');
  const numericMessage = laterErrorSchema((fields) => {
    for (const entry of fields) if (entry.name === 'message') entry.type = 'long';
  });
  const unresolvable = await registry.register(subject, numericMessage);
  await registry.close();

  const checked = validateEvent({
    kind: 'error',
    eventId: `${eventIdPrefix}-1`,
    timestamp: '2026-12-04T18:00:00.123Z',
    agent: { id: 'agent-later' },
    error: { type: 'Timeout', message: 'slow tool', severity: 'error', attributes: { n: 1 } },
  });
  if (!checked.ok || checked.event.kind !== 'error') throw new Error('the sample event is invalid');
  const event: ErrorEvent = checked.event;
  const { kind: _kind, ...fields } = event;
  const compatibleBody = avro.Type.forSchema(withOwner).toBuffer({
    ...fields,
    error: { ...fields.error, owner: 'team-a' },
  });
  const unresolvableBody = avro.Type.forSchema(numericMessage).toBuffer({
    ...fields,
    eventId: `${eventIdPrefix}-2`,
    error: { ...fields.error, message: 42 },
  });

  const naming = createNaming(loadConfig(isolation.env));
  const admin = kafkaFor(isolation).admin();
  await admin.connect();
  await ensureTopics(admin, naming);
  await admin.disconnect();
  const errorTopic = naming.rawTopic('error');
  const producer = kafkaFor(isolation).producer();
  await producer.connect();
  await producer.send({
    topic: errorTopic,
    messages: [
      { key: 'agent-later', value: frame(compatible.id, compatibleBody) },
      { key: 'agent-later', value: frame(unresolvable.id, unresolvableBody) },
      { key: 'agent-later', value: codec.encode(event) },
    ],
  });
  await producer.disconnect();

  const run = await runPanacea(['run', '--until-idle'], isolation.env);
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toContain('enrich: 3 records, 1 dead-lettered (SCHEMA_UNRESOLVABLE 1)');

  const hits = await searchAll(isolation, 'error');
  expect(hits.map((hit) => hit._id)).toEqual([`${eventIdPrefix}-1`]);
  expect(field(hits[0]!, '@timestamp')).toBe('2026-12-04T18:00:00.123Z');
  expect(field(hits[0]!, 'panacea.error.attributes')).toEqual({ n: 1 });
  const [deadLetter] = await readTopic(isolation, `${errorTopic}.dlq`, 1);
  expect(deadLetter?.headers[DEAD_LETTER_HEADERS.reasonCode]).toBe('SCHEMA_UNRESOLVABLE');
  expect(deadLetter?.headers[DEAD_LETTER_HEADERS.reason]).toContain(
    'ErrorEvent.error.message: the type changed from long to string',
  );
}
