/**
 * The embedded schema registry on the real Kafka: ids agreed between processes that register at
 * the same moment, the same ids after a restart, and a pipeline that resolves records of a newer
 * schema where Avro allows it and dead-letters them, with the reason, where it does not.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import type avro from 'avsc';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { DEAD_LETTER_HEADERS } from '../../core/dead-letter.js';
import { createNaming } from '../../core/naming.js';
import { ensureTopics } from '../../infra/topics.js';
import { buildSchemas } from '../../schemas/catalog.js';
import { validateEvent } from '../../schemas/contract.js';
import type { AgentEvent } from '../../schemas/event.js';
import {
  field,
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  type Isolation,
} from './harness.js';

const ERROR_V2 = buildSchemas().find((entry) => entry.file === 'error.v2.avsc');

function racerSchema(fieldName: string): object {
  return {
    type: 'record',
    name: 'Racer',
    namespace: 'test.registry',
    fields: [
      { name: 'id', type: 'string' },
      { name: fieldName, type: ['null', 'string'], default: null },
    ],
  };
}

function writeSchema(isolation: Isolation, name: string, schema: object): string {
  const file = path.join(isolation.dataDir, name);
  writeFileSync(file, JSON.stringify(schema));
  return file;
}

/** `panacea schemas list` as `subject version N: id M` lines. */
async function listedIds(isolation: Isolation): Promise<string[]> {
  const result = await runPanacea(['schemas', 'list'], isolation.env);
  expect(result.exitCode).toBe(0);
  return result.stdout.split('\n').filter((line) => line.includes('version'));
}

/** The error.v2 schema with one field changed, as a later build might write it. */
function laterErrorSchema(change: (body: Array<Record<string, unknown>>) => void): avro.Schema {
  const schema = structuredClone(ERROR_V2?.schema) as { fields: Array<Record<string, unknown>> };
  const body = schema.fields.find((entry) => entry.name === 'error') as {
    type: { fields: Array<Record<string, unknown>> };
  };
  change(body.type.fields);
  return schema as unknown as avro.Schema;
}

describe('embedded schema registry', () => {
  it('agrees on ids between processes registering at once, and keeps them across restarts', async () => {
    const isolation = isolate('registry-ids');
    const first = writeSchema(isolation, 'racer-a.avsc', racerSchema('alpha'));
    const second = writeSchema(isolation, 'racer-b.avsc', racerSchema('beta'));

    const [resultA, resultB] = await Promise.all([
      runPanacea(['schemas', 'register', first], isolation.env),
      runPanacea(['schemas', 'register', second], isolation.env),
    ]);

    expect(resultA.stderr).toBe('');
    expect(resultA.exitCode).toBe(0);
    expect(resultB.exitCode).toBe(0);
    const answers = [resultA.stdout.trim(), resultB.stdout.trim()].sort();
    // Both registered; one got version 1 and the other version 2, each with its own id.
    expect(answers[0]).toMatch(/^test\.registry\.Racer version 1: id \d+$/);
    expect(answers[1]).toMatch(/^test\.registry\.Racer version 2: id \d+$/);
    const ids = answers.map((answer) => answer.split('id ')[1]);
    expect(ids[0]).not.toBe(ids[1]);

    // A third process, then a fourth, read the same ids from the topic.
    const listed = await listedIds(isolation);
    expect(listed).toEqual(await listedIds(isolation));
    expect(listed).toContain(`  version 1: id ${ids[0]}`);
    expect(listed).toContain(`  version 2: id ${ids[1]}`);

    // The pipeline's own schemas: the ids one process registered are the ids the next one uses.
    const opened = await openCodecFor(isolation);
    await opened.registry.close();
    const reopened = await openCodecFor(isolation);
    await reopened.registry.close();
    expect(reopened.codec.writerIds).toEqual(opened.codec.writerIds);
  });

  it('refuses an incompatible version naming the field, and takes it once the mode allows', async () => {
    const isolation = isolate('registry-mode');
    const v1 = writeSchema(isolation, 'racer.v1.avsc', racerSchema('alpha'));
    const incompatible = writeSchema(isolation, 'racer.v2.avsc', {
      ...racerSchema('alpha'),
      fields: [
        { name: 'id', type: 'long' },
        { name: 'alpha', type: ['null', 'string'], default: null },
      ],
    });
    expect((await runPanacea(['schemas', 'register', v1], isolation.env)).exitCode).toBe(0);

    const refused = await runPanacea(['schemas', 'register', incompatible], isolation.env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('SCHEMA_INCOMPATIBLE');
    expect(refused.stderr).toContain('Racer.id: the type changed from string to long');

    const mode = await runPanacea(
      ['schemas', 'mode', 'test.registry.Racer', 'NONE'],
      isolation.env,
    );
    expect(mode.stdout.trim()).toBe('test.registry.Racer: NONE');
    const accepted = await runPanacea(['schemas', 'register', incompatible], isolation.env);
    expect(accepted.exitCode).toBe(0);
    expect(accepted.stdout).toContain('version 2');
  });

  it('resolves a newer compatible record, dead-letters an unresolvable one with the reason', async () => {
    const isolation = isolate('registry-evolve');
    const { codec, registry } = await openCodecFor(isolation);
    const subject = ERROR_V2?.subject as string;
    // A later build adds a field: this build reads the record and leaves the field out.
    const withOwner = laterErrorSchema((fields) =>
      fields.push({ name: 'owner', type: ['null', 'string'], default: null }),
    );
    const compatible = await registry.register(subject, withOwner);
    // Another later build changed a field's type with compatibility switched off.
    await registry.setCompatibility(subject, 'NONE');
    const numericMessage = laterErrorSchema((fields) => {
      for (const entry of fields) if (entry.name === 'message') entry.type = 'long';
    });
    const unresolvable = await registry.register(subject, numericMessage);
    await registry.close();

    const event = validateEvent({
      kind: 'error',
      eventId: 'err-later-1',
      timestamp: '2026-12-04T18:00:00.123Z',
      agent: { id: 'agent-later' },
      error: { type: 'Timeout', message: 'slow tool', severity: 'error', attributes: { n: 1 } },
    }) as { ok: true; event: AgentEvent };
    const { kind: _kind, ...fields } = event.event as AgentEvent & { error: object };
    const frame = (id: number, body: Buffer): Buffer => {
      const header = Buffer.from([0, 0, 0, 0, 0]);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, body]);
    };
    const avsc = await import('avsc');
    const compatibleBody = avsc.default.Type.forSchema(withOwner).toBuffer({
      ...fields,
      error: { ...fields.error, owner: 'team-a' },
    });
    const unresolvableBody = avsc.default.Type.forSchema(numericMessage).toBuffer({
      ...fields,
      eventId: 'err-later-2',
      error: { ...fields.error, message: 42 },
    });
    const errorTopic = `${isolation.topicPrefix}agent.errors`;
    const admin = kafkaFor(isolation).admin();
    await admin.connect();
    await ensureTopics(admin, createNaming(loadConfig(isolation.env)));
    await admin.disconnect();
    const producer = kafkaFor(isolation).producer();
    await producer.connect();
    await producer.send({
      topic: errorTopic,
      messages: [
        { key: 'agent-later', value: frame(compatible.id, compatibleBody) },
        { key: 'agent-later', value: frame(unresolvable.id, unresolvableBody) },
        { key: 'agent-later', value: codec.encode(event.event) },
      ],
    });
    await producer.disconnect();

    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('enrich: 3 records, 1 dead-lettered (SCHEMA_UNRESOLVABLE 1)');

    const hits = await searchAll(isolation, 'error');
    expect(hits.map((hit) => hit._id)).toEqual(['err-later-1']);
    expect(field(hits[0]!, '@timestamp')).toBe('2026-12-04T18:00:00.123Z');
    expect(field(hits[0]!, 'panacea.error.attributes')).toEqual({ n: 1 });
    const [deadLetter] = await readTopic(isolation, `${errorTopic}.dlq`, 1);
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.reasonCode]).toBe('SCHEMA_UNRESOLVABLE');
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.reason]).toContain(
      'ErrorEvent.error.message: the type changed from long to string',
    );
  });
});
