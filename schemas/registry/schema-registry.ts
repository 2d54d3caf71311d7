/**
 * What a schema registry does for the pipeline, whichever one runs: give each (subject, version)
 * a stable numeric id, hand back a schema by its id, and refuse a new version that breaks the
 * subject's compatibility mode with a message naming the field and the rule.
 *
 * Two implementations: the embedded one (kafka-registry.ts), which keeps its subjects in a
 * compacted Kafka topic and needs no other server, and a client of a Confluent-compatible registry
 * (http-registry.ts), used when `SCHEMA_REGISTRY_URL` is set.
 */
import type avro from 'avsc';

import { PanaceaError } from '../../core/errors.js';
import {
  compatibilityProblems,
  type CompatibilityMode,
  type CompatibilityProblem,
} from './compatibility.js';

export interface RegisteredSchema {
  id: number;
  subject: string;
  version: number;
  /** The schema's JSON text. */
  schema: string;
}

export interface SchemaRegistry {
  /** Which registry this is, for logs and `panacea schemas list`. */
  readonly description: string;
  /**
   * Registers `schema` under `subject` and returns its id and version; registering a schema the
   * subject already has returns the existing entry. Throws SCHEMA_INCOMPATIBLE when the subject's
   * mode refuses it.
   */
  register(subject: string, schema: avro.Schema): Promise<RegisteredSchema>;
  /** The schema with this id, or undefined when no one registered it. */
  schemaById(id: number): Promise<RegisteredSchema | undefined>;
  /** Every version of a subject, oldest first. */
  versions(subject: string): Promise<RegisteredSchema[]>;
  subjects(): Promise<string[]>;
  compatibility(subject: string): Promise<CompatibilityMode>;
  setCompatibility(subject: string, mode: CompatibilityMode): Promise<void>;
  close(): Promise<void>;
}

/** One form of a schema's text, so the same schema written with other spacing is the same. */
export function schemaText(schema: avro.Schema | string): string {
  return JSON.stringify(typeof schema === 'string' ? JSON.parse(schema) : schema);
}

/**
 * The check both registries run before registering: the candidate against the subject's
 * versions under its mode, refused with every problem listed.
 */
export function assertCompatible(
  subject: string,
  mode: CompatibilityMode,
  candidate: avro.Schema,
  existing: readonly RegisteredSchema[],
): void {
  const problems = compatibilityProblems(
    mode,
    candidate,
    existing.map((entry) => ({
      version: entry.version,
      schema: JSON.parse(entry.schema) as avro.Schema,
    })),
  );
  if (problems.length > 0) throw incompatibleSchemaError(subject, problems);
}

export function incompatibleSchemaError(
  subject: string,
  problems: readonly CompatibilityProblem[],
): PanaceaError {
  const first = problems[0];
  return new PanaceaError(
    'SCHEMA_INCOMPATIBLE',
    `subject ${subject} refuses the new schema: ${problems
      .map((problem) => `${problem.path}: ${problem.rule}`)
      .join('; ')}`,
    { subject, field: first?.path },
  );
}
