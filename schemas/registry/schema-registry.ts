/**
 * What a schema registry does for the pipeline, whichever one runs: give each (subject, version)
 * a stable numeric id, hand back a schema by its id, and refuse a new version that breaks the
 * subject's compatibility mode with a message naming the field and the rule.
 *
 * Two implementations: the embedded one (kafka-registry.ts), which keeps its subjects in a
 * compacted Kafka topic and needs no other server, and a client of a Confluent-compatible registry
 * (http-registry.ts), used when `SCHEMA_REGISTRY_URL` is set.
 */
import avro from 'avsc';

import { messageOf, PanaceaError } from '../../core/errors.js';
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

/** Registry ids fit the wire format's 4 bytes and Confluent's signed 32-bit ids. */
export const MAX_SCHEMA_ID = 2 ** 31 - 1;

/** One form of a schema's text, so the same schema written with other spacing is the same. */
export function schemaText(schema: avro.Schema): string {
  return JSON.stringify(schema);
}

/**
 * The same form of schema text that came from elsewhere (a registry's answer or topic), or the
 * reason it is not an Avro schema at all: such text must never reach a decoder.
 */
export function readSchemaText(
  text: string,
): { text: string; schema: avro.Schema } | { problem: string } {
  let schema: avro.Schema;
  try {
    schema = JSON.parse(text) as avro.Schema;
  } catch (error) {
    return { problem: `the schema text is not JSON (${messageOf(error)})` };
  }
  try {
    avro.Type.forSchema(schema);
  } catch (error) {
    return { problem: `the schema is not valid Avro (${messageOf(error)})` };
  }
  return { text: JSON.stringify(schema), schema };
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
    existing.map((entry) => {
      const read = readSchemaText(entry.schema);
      if ('problem' in read) {
        throw new PanaceaError(
          'SCHEMA_INCOMPATIBLE',
          `subject ${subject} cannot be checked: its version ${entry.version} (id ${entry.id}) is unreadable: ${read.problem}`,
          { subject },
        );
      }
      return { version: entry.version, schema: read.schema };
    }),
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
