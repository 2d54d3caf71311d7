import { describe, expect, it } from 'vitest';

import { buildSchemas } from '../../../schemas/catalog.js';
import { checkSchemaVersions } from '../../../schemas/registry/schema-check.js';
import { lintSchema } from '../../../schemas/registry/schema-lint.js';

function record(fields: unknown[]): Record<string, unknown> {
  return { type: 'record', name: 'Sample', namespace: 'test', fields };
}

describe('schema lint', () => {
  it('passes every schema this build ships, each against its previous version', () => {
    const findings = checkSchemaVersions(
      buildSchemas().map((entry) => ({
        source: entry.file,
        subject: entry.subject,
        version: entry.version,
        schema: entry.schema,
      })),
    );

    expect(findings).toEqual([]);
    expect(buildSchemas().map((entry) => entry.file)).toContain('error.v2.avsc');
  });

  it('refuses a union default that is not a value of the first branch, naming the field', () => {
    const problems = lintSchema(
      record([{ name: 'note', type: ['string', 'null'], default: null }]),
    );

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ rule: 'union-default', path: 'Sample.note' });
    expect(problems[0]?.message).toContain('first branch "string"');
  });

  it('accepts a union default of the first branch', () => {
    expect(lintSchema(record([{ name: 'note', type: ['null', 'string'], default: null }]))).toEqual(
      [],
    );
  });

  it('refuses a logicalType beside the type, where Avro ignores it', () => {
    const problems = lintSchema(
      record([{ name: 'at', type: 'long', logicalType: 'timestamp-millis' }]),
    );

    expect(problems).toEqual([
      expect.objectContaining({ rule: 'logical-type-placement', path: 'Sample.at' }),
    ]);
    expect(problems[0]?.message).toContain('"logicalType": "timestamp-millis"');
  });

  it('refuses an enum without a default symbol, inside a nested record', () => {
    const problems = lintSchema(
      record([
        {
          name: 'body',
          type: {
            type: 'record',
            name: 'Body',
            fields: [{ name: 'state', type: { type: 'enum', name: 'State', symbols: ['on'] } }],
          },
        },
      ]),
    );

    expect(problems).toEqual([
      expect.objectContaining({ rule: 'enum-default', path: 'Sample.body.state' }),
    ]);
  });

  it('refuses a field added after version 1 without a default, not the fields v1 had', () => {
    const v1 = record([{ name: 'id', type: 'string' }]);
    const v2 = record([
      { name: 'id', type: 'string' },
      { name: 'owner', type: 'string' },
      { name: 'team', type: ['null', 'string'], default: null },
    ]);

    expect(lintSchema(v2, v1)).toEqual([
      expect.objectContaining({ rule: 'field-default-after-v1', path: 'Sample.owner' }),
    ]);
    expect(lintSchema(v2)).toEqual([]);
  });

  it('reports a schema Avro cannot parse at all', () => {
    expect(lintSchema({ type: 'record', name: 'Broken', fields: [{ name: 'x' }] })).toEqual([
      expect.objectContaining({ rule: 'invalid-schema', path: 'Broken' }),
    ]);
  });

  it('adds a compatibility finding when a version cannot follow the one before', () => {
    const findings = checkSchemaVersions([
      {
        source: 'a.v1.avsc',
        subject: 'test.Sample',
        version: 1,
        schema: record([{ name: 'n', type: 'string' }]),
      },
      {
        source: 'a.v2.avsc',
        subject: 'test.Sample',
        version: 2,
        schema: record([{ name: 'n', type: 'int' }]),
      },
    ]);

    expect(findings).toEqual([
      expect.objectContaining({ source: 'a.v2.avsc', rule: 'compatibility', path: 'Sample.n' }),
    ]);
    expect(findings[0]?.message).toContain('from string to int');
  });
});

describe('schema lint against malformed input', () => {
  it.each([[null], [5], ['abc'], [{ x: 1 }], [[null, 3]]])(
    'reports fields of %j as an invalid schema instead of failing',
    (fields) => {
      const problems = lintSchema({ type: 'record', name: 'Odd', fields });

      expect(problems).toEqual([expect.objectContaining({ rule: 'invalid-schema', path: 'Odd' })]);
    },
  );

  it('refuses a schema nested deeper than it can check, without overflowing the stack', () => {
    let schema: unknown = 'string';
    for (let level = 0; level < 20_000; level++) schema = { type: 'array', items: schema };

    expect(lintSchema(schema)).toEqual([
      expect.objectContaining({
        rule: 'invalid-schema',
        message: expect.stringContaining('deeper'),
      }),
    ]);
  });

  it("reports Avro's own refusal beside the rule that also fired", () => {
    const problems = lintSchema(
      record([{ name: 'state', type: { type: 'enum', name: 'State', symbols: 'abc' } }]),
    );

    expect(problems.map((problem) => problem.rule).sort()).toEqual([
      'enum-default',
      'invalid-schema',
    ]);
  });

  it('lints a primitive schema', () => {
    expect(lintSchema('string')).toEqual([]);
  });

  it('finds two files giving the same version of one subject', () => {
    const findings = checkSchemaVersions([
      { source: 'a.v1.avsc', subject: 's', version: 1, schema: 'string' },
      { source: 'b.v1.avsc', subject: 's', version: 1, schema: 'string' },
    ]);

    expect(findings).toEqual([
      expect.objectContaining({ rule: 'duplicate-version', source: 'b.v1.avsc' }),
    ]);
  });
});
