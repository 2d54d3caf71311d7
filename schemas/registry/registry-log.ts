/**
 * The state of the embedded registry, rebuilt by reading its topic from the start. Pure: records
 * in, subjects out; the Kafka plumbing is in kafka-registry.ts.
 *
 * Several processes may register at once and nobody leads, so the log itself decides: a
 * registration is a proposal, and every reader applies the same rule in log order. A proposal is
 * accepted when its version is the subject's next one, and its id is new or already means the
 * same schema text; otherwise it lost a race and every reader ignores it. Because the log has one
 * partition, all readers see the same order and so the same ids. Keys carry the proposal's
 * content hash, so compaction never lets a losing proposal replace a winning one.
 */
import { createHash } from 'node:crypto';

import {
  COMPATIBILITY_MODES,
  DEFAULT_COMPATIBILITY_MODE,
  type CompatibilityMode,
} from './compatibility.js';
import { MAX_SCHEMA_ID, readSchemaText, type RegisteredSchema } from './schema-registry.js';

export type RegistryRecord =
  | { kind: 'schema'; subject: string; version: number; id: number; schema: string }
  | { kind: 'config'; subject: string; compatibility: CompatibilityMode };

export class RegistryLog {
  private readonly byId = new Map<number, RegisteredSchema>();
  private readonly bySubject = new Map<string, RegisteredSchema[]>();
  private readonly idByText = new Map<string, number>();
  private readonly modeBySubject = new Map<string, CompatibilityMode>();

  /** Applies one record of the topic; returns whether a schema proposal was accepted. */
  apply(record: RegistryRecord): boolean {
    if (record.kind === 'config') {
      this.modeBySubject.set(record.subject, record.compatibility);
      return true;
    }
    // Whatever wrote to the topic, an entry that is not an Avro schema, or an id outside the wire
    // format, is never accepted: every reader would trip over it later.
    if (!isSchemaId(record.id) || 'problem' in readSchemaText(record.schema)) return false;
    const versions = this.bySubject.get(record.subject) ?? [];
    const nextVersion = (versions.at(-1)?.version ?? 0) + 1;
    const idOwner = this.byId.get(record.id);
    const textId = this.idByText.get(record.schema);
    const accepted =
      record.version === nextVersion &&
      !versions.some((entry) => entry.schema === record.schema) &&
      (idOwner === undefined || idOwner.schema === record.schema) &&
      (textId === undefined || textId === record.id);
    if (!accepted) return false;

    const entry: RegisteredSchema = {
      id: record.id,
      subject: record.subject,
      version: record.version,
      schema: record.schema,
    };
    versions.push(entry);
    this.bySubject.set(record.subject, versions);
    if (idOwner === undefined) this.byId.set(record.id, entry);
    this.idByText.set(record.schema, record.id);
    return true;
  }

  /**
   * The proposal that would register `schema` now: same id for the same text, else a new one.
   * Throws once the ids are used up, which no real registry reaches.
   */
  propose(subject: string, schema: string): Extract<RegistryRecord, { kind: 'schema' }> {
    const versions = this.bySubject.get(subject) ?? [];
    const maxId = Math.max(0, ...this.byId.keys());
    if (!this.idByText.has(schema) && maxId >= MAX_SCHEMA_ID) {
      throw new Error(`every schema id up to ${MAX_SCHEMA_ID} is taken`);
    }
    return {
      kind: 'schema',
      subject,
      version: (versions.at(-1)?.version ?? 0) + 1,
      id: this.idByText.get(schema) ?? maxId + 1,
      schema,
    };
  }

  find(subject: string, schema: string): RegisteredSchema | undefined {
    return this.bySubject.get(subject)?.find((entry) => entry.schema === schema);
  }

  schemaById(id: number): RegisteredSchema | undefined {
    return this.byId.get(id);
  }

  versions(subject: string): RegisteredSchema[] {
    return [...(this.bySubject.get(subject) ?? [])];
  }

  subjects(): string[] {
    return [...this.bySubject.keys()].sort();
  }

  compatibility(subject: string): CompatibilityMode {
    return this.modeBySubject.get(subject) ?? DEFAULT_COMPATIBILITY_MODE;
  }
}

/** The record key: configs overwrite each other; each schema proposal keeps its own key. */
export function registryRecordKey(record: RegistryRecord): string {
  if (record.kind === 'config') return `config:${record.subject}`;
  const contentHash = createHash('sha256').update(record.schema).digest('hex').slice(0, 16);
  return `schema:${record.subject}:${record.version}:${record.id}:${contentHash}`;
}

/** Reads a record value back; undefined for anything this version does not understand. */
export function parseRegistryRecord(value: Buffer | null): RegistryRecord | undefined {
  if (value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  if (
    record.kind === 'schema' &&
    typeof record.subject === 'string' &&
    Number.isInteger(record.version) &&
    Number.isInteger(record.id) &&
    typeof record.schema === 'string'
  ) {
    return record as RegistryRecord;
  }
  if (
    record.kind === 'config' &&
    typeof record.subject === 'string' &&
    (COMPATIBILITY_MODES as readonly unknown[]).includes(record.compatibility)
  ) {
    return record as RegistryRecord;
  }
  return undefined;
}

function isSchemaId(id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= MAX_SCHEMA_ID;
}
