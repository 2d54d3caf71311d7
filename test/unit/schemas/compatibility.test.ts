import avro from 'avsc';
import { describe, expect, it } from 'vitest';

import { compatibilityProblems, readProblems } from '../../../schemas/registry/compatibility.js';

const V1 = {
  type: 'record',
  name: 'Task',
  namespace: 'test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'count', type: 'int' },
    {
      name: 'state',
      type: { type: 'enum', name: 'State', symbols: ['open', 'done'], default: 'open' },
    },
  ],
} as const;

function withFields(fields: unknown[]): avro.Schema {
  return { ...V1, fields: [...V1.fields, ...fields] } as unknown as avro.Schema;
}

function replaceField(name: string, field: unknown): avro.Schema {
  return {
    ...V1,
    fields: V1.fields.map((entry) => (entry.name === name ? field : entry)),
  } as unknown as avro.Schema;
}

/** avsc's own verdict, so the rules here are checked against a real resolver. */
function avscResolves(reader: avro.Schema, writer: avro.Schema): boolean {
  try {
    avro.Type.forSchema(reader).createResolver(avro.Type.forSchema(writer));
    return true;
  } catch {
    return false;
  }
}

const CASES: Array<{ name: string; reader: avro.Schema; writer: avro.Schema; path?: string }> = [
  {
    name: 'same schema',
    reader: V1 as unknown as avro.Schema,
    writer: V1 as unknown as avro.Schema,
  },
  {
    name: 'reader adds a field with a default',
    reader: withFields([{ name: 'note', type: ['null', 'string'], default: null }]),
    writer: V1 as unknown as avro.Schema,
  },
  {
    name: 'reader adds a field without a default',
    reader: withFields([{ name: 'owner', type: 'string' }]),
    writer: V1 as unknown as avro.Schema,
    path: 'Task.owner',
  },
  {
    name: 'writer has a field the reader dropped',
    reader: V1 as unknown as avro.Schema,
    writer: withFields([{ name: 'owner', type: 'string' }]),
  },
  {
    name: 'int promoted to long',
    reader: replaceField('count', { name: 'count', type: 'long' }),
    writer: V1 as unknown as avro.Schema,
  },
  {
    name: 'long narrowed to int',
    reader: V1 as unknown as avro.Schema,
    writer: replaceField('count', { name: 'count', type: 'long' }),
    path: 'Task.count',
  },
  {
    name: 'string changed to int',
    reader: replaceField('id', { name: 'id', type: 'int' }),
    writer: V1 as unknown as avro.Schema,
    path: 'Task.id',
  },
  {
    name: 'writer enum symbol unknown to a reader with a default',
    reader: V1 as unknown as avro.Schema,
    writer: replaceField('state', {
      name: 'state',
      type: { type: 'enum', name: 'State', symbols: ['open', 'done', 'held'], default: 'open' },
    }),
  },
  {
    name: 'writer enum symbol unknown to a reader without a default',
    reader: replaceField('state', {
      name: 'state',
      type: { type: 'enum', name: 'State', symbols: ['open', 'done'] },
    }),
    writer: replaceField('state', {
      name: 'state',
      type: { type: 'enum', name: 'State', symbols: ['open', 'done', 'held'] },
    }),
    path: 'Task.state',
  },
  {
    name: 'field made optional (reader union)',
    reader: replaceField('id', { name: 'id', type: ['null', 'string'], default: null }),
    writer: V1 as unknown as avro.Schema,
  },
  {
    name: 'optional field made required (writer union)',
    reader: V1 as unknown as avro.Schema,
    writer: replaceField('id', { name: 'id', type: ['null', 'string'], default: null }),
    path: 'Task.id',
  },
];

describe('schema compatibility', () => {
  it.each(CASES)('$name: agrees with avsc and names the field', ({ reader, writer, path }) => {
    const problems = readProblems(reader, writer);

    expect(problems.length === 0).toBe(avscResolves(reader, writer));
    if (path === undefined) expect(problems).toEqual([]);
    else expect(problems.map((problem) => problem.path)).toContain(path);
  });

  it('BACKWARD refuses a new required field and says which version and direction', () => {
    const problems = compatibilityProblems(
      'BACKWARD',
      withFields([{ name: 'owner', type: 'string' }]),
      [{ version: 1, schema: V1 as unknown as avro.Schema }],
    );

    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('Task.owner');
    expect(problems[0]?.rule).toContain(
      'BACKWARD: the new schema must read data written with version 1',
    );
  });

  it('FORWARD refuses removing a field the old reader needs, BACKWARD allows it', () => {
    const withoutCount = {
      ...V1,
      fields: V1.fields.filter((field) => field.name !== 'count'),
    } as unknown as avro.Schema;
    const existing = [{ version: 1, schema: V1 as unknown as avro.Schema }];

    expect(compatibilityProblems('BACKWARD', withoutCount, existing)).toEqual([]);
    expect(compatibilityProblems('FORWARD', withoutCount, existing).map((p) => p.path)).toEqual([
      'Task.count',
    ]);
    expect(compatibilityProblems('FULL', withoutCount, existing)).toHaveLength(1);
    expect(compatibilityProblems('NONE', withoutCount, existing)).toEqual([]);
  });

  it('checks only the latest version unless the mode is transitive', () => {
    // v2 adds a field with a default, v3 drops the default: v3 reads v2's data, not v1's.
    const v2 = withFields([{ name: 'owner', type: 'string', default: 'nobody' }]);
    const v3 = withFields([{ name: 'owner', type: 'string' }]);
    const existing = [
      { version: 1, schema: V1 as unknown as avro.Schema },
      { version: 2, schema: v2 },
    ];

    expect(compatibilityProblems('BACKWARD', v3, existing)).toEqual([]);
    expect(
      compatibilityProblems('BACKWARD_TRANSITIVE', v3, existing).map((problem) => problem.path),
    ).toEqual(['Task.owner']);
  });
});
