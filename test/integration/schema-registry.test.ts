/**
 * The embedded schema registry on the real Kafka: ids agreed between processes that register at
 * the same moment, the same ids after a restart, and a pipeline that resolves records of a newer
 * schema where Avro allows it and dead-letters them, with the reason, where it does not.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isolate, openCodecFor, runPanacea, type Isolation } from './harness.js';
import { expectNewerRecordsResolvedOrDeadLettered } from './newer-records.js';

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
    expect(refused.exitCode).toBe(1);
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

    // Under NONE a field added without a default is the owner's choice too.
    const withoutDefault = writeSchema(isolation, 'racer.v3.avsc', {
      ...racerSchema('alpha'),
      fields: [
        { name: 'id', type: 'long' },
        { name: 'team', type: 'string' },
      ],
    });
    const third = await runPanacea(['schemas', 'register', withoutDefault], isolation.env);
    expect(third.stderr).toBe('');
    expect(third.stdout).toContain('version 3');
  });

  it('resolves a newer compatible record, dead-letters an unresolvable one with the reason', async () => {
    await expectNewerRecordsResolvedOrDeadLettered(isolate('registry-evolve'), 'err-later');
  });
});
