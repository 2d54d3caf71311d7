/**
 * The schemas this build ships: every version of every kind, read from `schemas/avro/<kind>.v<N>.avsc`.
 * The newest version of a kind is what this build writes and what it reads every record into;
 * numeric ids are not here: a schema registry assigns them (see schemas/registry).
 *
 * Subjects follow the record name strategy: a schema's full name (`panacea.agent.ActivityEvent`) is
 * its subject, so one subject holds every version of one kind whatever the topic prefix.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import avro from 'avsc';

import { packageRoot } from '../core/package-root.js';
import { EVENT_KINDS, type EventKind } from '../core/naming.js';

export interface BuildSchema {
  subject: string;
  /** The version in the file name; the registry's version number may differ on a shared cluster. */
  version: number;
  kind: EventKind;
  file: string;
  /** The schema as written in the file. */
  schema: avro.Schema;
  type: avro.Type;
}

const FILE_PATTERN = /^([a-z]+)\.v(\d+)\.avsc$/;

let loaded: BuildSchema[] | undefined;

export function schemaDirectory(): string {
  return path.join(packageRoot(), 'schemas', 'avro');
}

/** Every shipped schema, oldest version first within a kind. */
export function buildSchemas(): BuildSchema[] {
  loaded ??= loadBuildSchemas(schemaDirectory());
  return loaded;
}

/** The newest schema of a kind: what this build writes and reads into. */
export function newestBuildSchema(kind: EventKind): BuildSchema {
  return newestOf(buildSchemas(), kind);
}

/** The newest version of a kind in a set of schemas sorted as `buildSchemas()` sorts them. */
export function newestOf(schemas: readonly BuildSchema[], kind: EventKind): BuildSchema {
  const newest = schemas.filter((entry) => entry.kind === kind).at(-1);
  if (newest === undefined) throw new Error(`no schema for kind ${kind} in this set`);
  return newest;
}

export function loadBuildSchemas(directory: string): BuildSchema[] {
  const entries: BuildSchema[] = [];
  for (const file of readdirSync(directory)) {
    const match = FILE_PATTERN.exec(file);
    if (match === null) continue;
    const kind = match[1] as EventKind;
    if (!(EVENT_KINDS as readonly string[]).includes(kind)) continue;
    const schema = JSON.parse(readFileSync(path.join(directory, file), 'utf8')) as avro.Schema;
    const type = avro.Type.forSchema(schema);
    entries.push({
      subject: type.name ?? file,
      version: Number(match[2]),
      kind,
      file,
      schema,
      type,
    });
  }
  return entries.sort(
    (left, right) => left.kind.localeCompare(right.kind) || left.version - right.version,
  );
}
