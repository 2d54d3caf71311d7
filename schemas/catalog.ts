/**
 * The schemas this build knows, each with the numeric id that travels in every record (Confluent
 * wire format). Ids are fixed here until a registry assigns them; an id never changes meaning.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import avro from 'avsc';

import { packageRoot } from '../core/package-root.js';
import type { EventKind } from './event.js';

export interface SchemaEntry {
  id: number;
  /** Record name strategy: the schema's full name is its subject. */
  subject: string;
  version: number;
  kind: EventKind;
  file: string;
  type: avro.Type;
}

const SCHEMA_FILES: ReadonlyArray<Omit<SchemaEntry, 'type' | 'subject'>> = [
  { id: 1, version: 1, kind: 'activity', file: 'activity.v1.avsc' },
  { id: 2, version: 1, kind: 'error', file: 'error.v1.avsc' },
  { id: 3, version: 1, kind: 'audit', file: 'audit.v1.avsc' },
  { id: 4, version: 1, kind: 'heartbeat', file: 'heartbeat.v1.avsc' },
];

let entries: SchemaEntry[] | undefined;

function loadEntries(): SchemaEntry[] {
  const directory = path.join(packageRoot(), 'schemas', 'avro');
  return SCHEMA_FILES.map((entry) => {
    const schema = JSON.parse(
      readFileSync(path.join(directory, entry.file), 'utf8'),
    ) as avro.Schema;
    const type = avro.Type.forSchema(schema);
    return { ...entry, subject: type.name ?? entry.file, type };
  });
}

export function schemaEntries(): SchemaEntry[] {
  entries ??= loadEntries();
  return entries;
}

export function schemaById(id: number): SchemaEntry | undefined {
  return schemaEntries().find((entry) => entry.id === id);
}

/** The newest schema for a kind: what producers of this build write. */
export function writerSchemaFor(kind: EventKind): SchemaEntry {
  const candidates = schemaEntries().filter((entry) => entry.kind === kind);
  const newest = candidates.sort((left, right) => right.version - left.version)[0];
  if (newest === undefined) throw new Error(`no schema for kind ${kind}`);
  return newest;
}
