/**
 * Avro schema compatibility, checked the way a reader resolves a writer's schema (Avro
 * specification, "Schema Resolution"), with every problem naming the field path and the rule it
 * breaks, so a refused registration says what to change.
 *
 * Modes follow the Confluent vocabulary: BACKWARD (the new schema reads data of the previous
 * one), FORWARD (the previous schema reads data of the new one), FULL (both), each optionally
 * TRANSITIVE (against every earlier version instead of the latest only), and NONE.
 */
import type avro from 'avsc';

export const COMPATIBILITY_MODES = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];
export const DEFAULT_COMPATIBILITY_MODE: CompatibilityMode = 'BACKWARD';

export interface CompatibilityProblem {
  /** Dotted path from the top record, e.g. `AgentError.attributes`. */
  path: string;
  /** Which rule: what the reader needs and the writer does not give. */
  rule: string;
}

type Schema = avro.Schema;
type SchemaObject = Exclude<Schema, string | Schema[]> & Record<string, unknown>;

/** Problems a reader with schema `reader` meets when it reads data written with `writer`. */
export function readProblems(reader: Schema, writer: Schema): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  const readerNames = new Map<string, SchemaObject>();
  const writerNames = new Map<string, SchemaObject>();
  collectNamedTypes(reader, undefined, readerNames);
  collectNamedTypes(writer, undefined, writerNames);
  const context: ResolutionContext = {
    problems,
    readerNames,
    writerNames,
    visited: new Set<string>(),
  };
  resolve(context, reader, writer, rootName(reader));
  return problems;
}

/**
 * Problems registering `candidate` under `mode`, given the subject's existing versions (oldest
 * first). Each problem says against which version and in which direction it fails.
 */
export function compatibilityProblems(
  mode: CompatibilityMode,
  candidate: Schema,
  existingVersions: ReadonlyArray<{ version: number; schema: Schema }>,
): CompatibilityProblem[] {
  if (mode === 'NONE' || existingVersions.length === 0) return [];
  const transitive = mode.endsWith('_TRANSITIVE');
  const against = transitive ? existingVersions : existingVersions.slice(-1);
  const checksBackward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const checksForward = mode.startsWith('FORWARD') || mode.startsWith('FULL');

  const problems: CompatibilityProblem[] = [];
  for (const existing of against) {
    if (checksBackward) {
      for (const problem of readProblems(candidate, existing.schema)) {
        problems.push({
          path: problem.path,
          rule: `${problem.rule} (${mode}: the new schema must read data written with version ${existing.version})`,
        });
      }
    }
    if (checksForward) {
      for (const problem of readProblems(existing.schema, candidate)) {
        problems.push({
          path: problem.path,
          rule: `${problem.rule} (${mode}: version ${existing.version} must read data written with the new schema)`,
        });
      }
    }
  }
  return problems;
}

interface ResolutionContext {
  problems: CompatibilityProblem[];
  readerNames: Map<string, SchemaObject>;
  writerNames: Map<string, SchemaObject>;
  /** Pairs of named types already being compared, so recursive types terminate. */
  visited: Set<string>;
}

const PROMOTIONS: Record<string, readonly string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function resolve(context: ResolutionContext, reader: Schema, writer: Schema, path: string): void {
  const readerType = dereference(context.readerNames, reader);
  const writerType = dereference(context.writerNames, writer);

  // A writer union: every branch it may have written must be readable.
  if (Array.isArray(writerType)) {
    for (const branch of writerType) {
      const branchProblems = problemsOf(context, reader, branch, path);
      if (branchProblems.length > 0) {
        context.problems.push({
          path,
          rule: `the writer may write ${typeLabel(context.writerNames, branch)}, which the reader's ${typeLabel(context.readerNames, reader)} cannot read`,
        });
        return;
      }
    }
    return;
  }
  // A reader union: some branch must read what the writer wrote.
  if (Array.isArray(readerType)) {
    const fits = readerType.some(
      (branch) => problemsOf(context, branch, writer, path).length === 0,
    );
    if (!fits) {
      context.problems.push({
        path,
        rule: `no branch of the reader's union reads the writer's ${typeLabel(context.writerNames, writer)}`,
      });
    }
    return;
  }

  const readerKind = kindOf(readerType);
  const writerKind = kindOf(writerType);
  if (readerKind !== writerKind) {
    if (!(PROMOTIONS[writerKind] ?? []).includes(readerKind)) {
      context.problems.push({
        path,
        rule: `the type changed from ${writerKind} to ${readerKind}, which Avro cannot promote`,
      });
    }
    return;
  }

  switch (readerKind) {
    case 'record':
      resolveRecords(context, readerType as SchemaObject, writerType as SchemaObject, path);
      return;
    case 'enum':
      resolveEnums(context, readerType as SchemaObject, writerType as SchemaObject, path);
      return;
    case 'array':
      resolve(
        context,
        (readerType as SchemaObject).items as Schema,
        (writerType as SchemaObject).items as Schema,
        `${path}[]`,
      );
      return;
    case 'map':
      resolve(
        context,
        (readerType as SchemaObject).values as Schema,
        (writerType as SchemaObject).values as Schema,
        `${path}{}`,
      );
      return;
    case 'fixed': {
      const readerSize = (readerType as SchemaObject).size;
      const writerSize = (writerType as SchemaObject).size;
      if (readerSize !== writerSize) {
        context.problems.push({
          path,
          rule: `fixed size changed from ${String(writerSize)} to ${String(readerSize)}`,
        });
      }
      return;
    }
    default:
      return;
  }
}

function resolveRecords(
  context: ResolutionContext,
  reader: SchemaObject,
  writer: SchemaObject,
  path: string,
): void {
  if (!sameNamedType(context, 'record', reader, writer, path)) return;
  const visitKey = `${fullName(reader, undefined)}<-${fullName(writer, undefined)}`;
  if (context.visited.has(visitKey)) return;
  context.visited.add(visitKey);

  const writerFields = (writer.fields as Array<Record<string, unknown>>) ?? [];
  for (const readerField of (reader.fields as Array<Record<string, unknown>>) ?? []) {
    const name = String(readerField.name);
    const aliases = (readerField.aliases as string[] | undefined) ?? [];
    const writerField = writerFields.find(
      (field) => field.name === name || aliases.includes(String(field.name)),
    );
    const fieldPath = `${path}.${name}`;
    if (writerField === undefined) {
      if (!('default' in readerField)) {
        context.problems.push({
          path: fieldPath,
          rule: 'the reader has this field without a default and the writer does not write it',
        });
      }
      continue;
    }
    resolve(context, readerField.type as Schema, writerField.type as Schema, fieldPath);
  }
}

function resolveEnums(
  context: ResolutionContext,
  reader: SchemaObject,
  writer: SchemaObject,
  path: string,
): void {
  if (!sameNamedType(context, 'enum', reader, writer, path)) return;
  if (reader.default !== undefined) return;
  const readerSymbols = new Set(reader.symbols as string[]);
  const unknown = (writer.symbols as string[]).filter((symbol) => !readerSymbols.has(symbol));
  if (unknown.length > 0) {
    context.problems.push({
      path,
      rule: `the writer has symbol(s) ${unknown.join(', ')} that the reader lacks, and the reader's enum declares no default`,
    });
  }
}

function problemsOf(
  context: ResolutionContext,
  reader: Schema,
  writer: Schema,
  path: string,
): CompatibilityProblem[] {
  const trial: ResolutionContext = { ...context, problems: [], visited: new Set(context.visited) };
  resolve(trial, reader, writer, path);
  return trial.problems;
}

function kindOf(schema: Schema): string {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return 'union';
  const type = (schema as SchemaObject).type;
  // `{ "type": "long", "logicalType": … }` and `{ "type": { … } }` both come down to their type.
  return typeof type === 'string' ? type : kindOf(type as Schema);
}

function dereference(names: Map<string, SchemaObject>, schema: Schema): Schema {
  if (typeof schema === 'string') return names.get(schema) ?? lookupShortName(names, schema);
  if (!Array.isArray(schema) && typeof (schema as SchemaObject).type === 'object') {
    return dereference(names, (schema as SchemaObject).type as Schema);
  }
  return schema;
}

function lookupShortName(names: Map<string, SchemaObject>, name: string): Schema {
  for (const [fullName, schema] of names) {
    if (fullName.endsWith(`.${name}`)) return schema;
  }
  return name;
}

function collectNamedTypes(
  schema: Schema,
  namespace: string | undefined,
  names: Map<string, SchemaObject>,
): void {
  if (typeof schema === 'string') return;
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNamedTypes(branch, namespace, names);
    return;
  }
  const object = schema as SchemaObject;
  const kind = object.type;
  if (typeof kind === 'object') {
    collectNamedTypes(kind as Schema, namespace, names);
    return;
  }
  if (kind === 'record' || kind === 'error' || kind === 'enum' || kind === 'fixed') {
    const name = fullName(object, namespace);
    names.set(name, object);
    const innerNamespace = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : undefined;
    for (const field of (object.fields as Array<{ type: Schema }> | undefined) ?? []) {
      collectNamedTypes(field.type, innerNamespace, names);
    }
  } else if (kind === 'array') {
    collectNamedTypes(object.items as Schema, namespace, names);
  } else if (kind === 'map') {
    collectNamedTypes(object.values as Schema, namespace, names);
  }
}

function fullName(schema: SchemaObject, namespace: string | undefined): string {
  const name = String(schema.name);
  if (name.includes('.')) return name;
  const space = (schema.namespace as string | undefined) ?? namespace;
  return space === undefined || space === '' ? name : `${space}.${name}`;
}

function shortName(name: unknown): string {
  const text = String(name);
  return text.slice(text.lastIndexOf('.') + 1);
}

/** Whether reader and writer name the same type; a problem is recorded when they do not. */
function sameNamedType(
  context: ResolutionContext,
  kind: 'record' | 'enum',
  reader: SchemaObject,
  writer: SchemaObject,
  path: string,
): boolean {
  if (namesMatch(reader, writer)) return true;
  context.problems.push({
    path,
    rule: `the ${kind} is named ${String(writer.name)} by the writer and ${String(reader.name)} by the reader, and no alias joins them`,
  });
  return false;
}

function namesMatch(reader: SchemaObject, writer: SchemaObject): boolean {
  const writerName = shortName(writer.name);
  if (shortName(reader.name) === writerName) return true;
  const aliases = (reader.aliases as string[] | undefined) ?? [];
  return aliases.some((alias) => shortName(alias) === writerName);
}

function rootName(schema: Schema): string {
  if (typeof schema === 'object' && !Array.isArray(schema) && 'name' in schema) {
    return shortName((schema as SchemaObject).name);
  }
  return kindOf(schema);
}

function typeLabel(names: Map<string, SchemaObject>, schema: Schema): string {
  const resolved = dereference(names, schema);
  if (typeof resolved === 'object' && !Array.isArray(resolved) && 'name' in resolved) {
    return `${kindOf(resolved)} ${shortName((resolved as SchemaObject).name)}`;
  }
  return kindOf(resolved);
}
