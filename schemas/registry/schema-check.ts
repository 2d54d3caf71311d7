/**
 * `panacea schemas check` without the command line: every version of every subject is linted
 * against its previous version, and each version must be registrable after the one before under
 * the default compatibility mode. Pure: schemas in, findings out.
 */
import type avro from 'avsc';

import { compatibilityProblems, DEFAULT_COMPATIBILITY_MODE } from './compatibility.js';
import { lintSchema } from './schema-lint.js';

export interface SchemaVersionInput {
  /** Where the schema came from, for messages: a file name. */
  source: string;
  subject: string;
  version: number;
  schema: unknown;
}

export interface SchemaFinding {
  source: string;
  rule: string;
  path: string;
  message: string;
}

export function checkSchemaVersions(inputs: readonly SchemaVersionInput[]): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const bySubject = new Map<string, SchemaVersionInput[]>();
  for (const input of inputs) {
    bySubject.set(input.subject, [...(bySubject.get(input.subject) ?? []), input]);
  }

  for (const versions of bySubject.values()) {
    versions.sort((left, right) => left.version - right.version);
    for (const [index, input] of versions.entries()) {
      const twin = versions[index - 1];
      if (twin?.version === input.version) {
        findings.push({
          source: input.source,
          rule: 'duplicate-version',
          path: input.subject,
          message: `version ${input.version} of ${input.subject} is also given by ${twin.source}`,
        });
      }
    }
    versions.forEach((input, index) => {
      const previous = versions[index - 1];
      for (const problem of lintSchema(input.schema, previous?.schema)) {
        findings.push({ source: input.source, ...problem });
      }
      if (previous === undefined) return;
      const existing = versions
        .slice(0, index)
        .map((entry) => ({ version: entry.version, schema: entry.schema as avro.Schema }));
      for (const problem of compatibilityProblems(
        DEFAULT_COMPATIBILITY_MODE,
        input.schema as avro.Schema,
        existing,
      )) {
        findings.push({
          source: input.source,
          rule: 'compatibility',
          path: problem.path,
          message: problem.rule,
        });
      }
    });
  }
  return findings;
}
