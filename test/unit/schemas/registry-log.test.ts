import { describe, expect, it } from 'vitest';

import {
  parseRegistryRecord,
  registryRecordKey,
  RegistryLog,
  type RegistryRecord,
} from '../../../schemas/registry/registry-log.js';

const SCHEMA_A = '{"type":"record","name":"A","fields":[]}';
const SCHEMA_A2 = '{"type":"record","name":"A","fields":[{"name":"x","type":"int","default":0}]}';
const SCHEMA_B = '{"type":"record","name":"B","fields":[]}';

function replay(records: RegistryRecord[]): RegistryLog {
  const log = new RegistryLog();
  for (const record of records) log.apply(record);
  return log;
}

describe('registry log', () => {
  it('numbers the first registrations 1, 2, 3 with versions per subject', () => {
    const log = new RegistryLog();
    for (const [subject, schema] of [
      ['a', SCHEMA_A],
      ['b', SCHEMA_B],
      ['a', SCHEMA_A2],
    ] as const) {
      expect(log.apply(log.propose(subject, schema))).toBe(true);
    }

    expect(log.versions('a').map((entry) => [entry.version, entry.id])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect(log.schemaById(2)?.subject).toBe('b');
  });

  it('lets the first of two racing proposals win and ignores the second everywhere', () => {
    const base = new RegistryLog();
    // Two processes propose from the same state: same version, same new id, different schemas.
    const first = base.propose('a', SCHEMA_A);
    const second = base.propose('a', SCHEMA_B);
    const log = replay([first, second]);

    expect(first.id).toBe(second.id);
    expect(log.schemaById(first.id)?.schema).toBe(SCHEMA_A);
    expect(log.find('a', SCHEMA_B)).toBeUndefined();
    // The loser proposes again from the new state and gets the next version and id.
    expect(log.apply(log.propose('a', SCHEMA_B))).toBe(true);
    expect(log.find('a', SCHEMA_B)).toMatchObject({ version: 2, id: 2 });
  });

  it('gives the same schema text the same id under another subject', () => {
    const log = new RegistryLog();
    log.apply(log.propose('a', SCHEMA_A));
    const proposal = log.propose('copy-of-a', SCHEMA_A);

    expect(proposal.id).toBe(1);
    expect(log.apply(proposal)).toBe(true);
    expect(log.find('copy-of-a', SCHEMA_A)?.id).toBe(1);
  });

  it('refuses a proposal that would give an id a second meaning', () => {
    const log = replay([{ kind: 'schema', subject: 'a', version: 1, id: 7, schema: SCHEMA_A }]);

    expect(log.apply({ kind: 'schema', subject: 'b', version: 1, id: 7, schema: SCHEMA_B })).toBe(
      false,
    );
    expect(log.schemaById(7)?.schema).toBe(SCHEMA_A);
  });

  it('keys racing proposals apart, so compaction cannot replace the winner', () => {
    const base = new RegistryLog();
    const first = base.propose('a', SCHEMA_A);
    const second = base.propose('a', SCHEMA_B);

    expect(registryRecordKey(first)).not.toBe(registryRecordKey(second));
    expect(registryRecordKey({ kind: 'config', subject: 'a', compatibility: 'NONE' })).toBe(
      'config:a',
    );
  });

  it('keeps the last compatibility mode per subject, BACKWARD by default', () => {
    const log = replay([
      { kind: 'config', subject: 'a', compatibility: 'NONE' },
      { kind: 'config', subject: 'a', compatibility: 'FULL' },
    ]);

    expect(log.compatibility('a')).toBe('FULL');
    expect(log.compatibility('b')).toBe('BACKWARD');
  });

  it('reads back what it writes and skips values it does not understand', () => {
    const record: RegistryRecord = {
      kind: 'schema',
      subject: 'a',
      version: 1,
      id: 1,
      schema: SCHEMA_A,
    };

    expect(parseRegistryRecord(Buffer.from(JSON.stringify(record)))).toEqual(record);
    expect(parseRegistryRecord(null)).toBeUndefined();
    expect(parseRegistryRecord(Buffer.from('not json'))).toBeUndefined();
    expect(
      parseRegistryRecord(Buffer.from('{"kind":"config","subject":"a","compatibility":"SOME"}')),
    ).toBeUndefined();
  });
});

describe('registry log against bad records', () => {
  it.each([
    ['schema text that is not JSON', { schema: 'not json', id: 9 }],
    ['JSON that is not an Avro schema', { schema: '{"type":"nothing"}', id: 9 }],
    ['id 0', { schema: SCHEMA_A, id: 0 }],
    ['an id past 2^31 - 1', { schema: SCHEMA_A, id: 2 ** 31 }],
    ['an id of 1e300', { schema: SCHEMA_A, id: 1e300 }],
  ])('never accepts %s, and later proposals still get id 1', (_label, bad) => {
    const log = replay([{ kind: 'schema', subject: 'junk', version: 1, ...bad }]);

    expect(log.subjects()).toEqual([]);
    expect(log.propose('a', SCHEMA_A).id).toBe(1);
  });
});
