/**
 * Rules an Avro schema of this project must follow beyond what Avro itself checks, because Avro
 * libraries accept these mistakes silently and the cost shows up only when the schema evolves:
 *
 * - `union-default`: a field's default must be a value of the union's first branch (the
 *   specification says so; most libraries do not check it, and readers then fail on old data).
 * - `logical-type-placement`: `logicalType` belongs inside the type object; written beside `type`
 *   on the field it is ignored, and `timestamp-millis` silently becomes a plain long.
 * - `enum-default`: every enum declares a default symbol, so a reader built before a symbol was
 *   added reads it as the default instead of failing.
 * - `field-default-after-v1`: every field added after version 1 has a default, so data written
 *   before the field existed stays readable.
 * - `invalid-schema`: the schema must parse at all; Avro's own message is kept.
 */
import avro from 'avsc';

import { describeValue } from '../describe-value.js';

export interface LintProblem {
  rule:
    | 'union-default'
    | 'logical-type-placement'
    | 'enum-default'
    | 'field-default-after-v1'
    | 'invalid-schema';
  /** Dotted path from the top record, e.g. `ActivityEvent.activity.status`. */
  path: string;
  message: string;
}

type JsonObject = Record<string, unknown>;

/**
 * Lints one schema. `previousVersion` is the subject's schema before this one, when there is one:
 * fields missing from it count as added.
 */
export function lintSchema(schema: unknown, previousVersion?: unknown): LintProblem[] {
  const problems: LintProblem[] = [];
  const rootPath =
    isObject(schema) && typeof schema.name === 'string' ? shortName(schema.name) : '';
  // The rules below recurse; Avro schemas nest a few levels, so deeper input is refused first.
  if (nestingDepth(schema) > MAX_NESTING_DEPTH) {
    return [
      {
        rule: 'invalid-schema',
        path: rootPath,
        message: `the schema nests deeper than ${MAX_NESTING_DEPTH} levels`,
      },
    ];
  }
  const previousFields = new Map<string, Set<string>>();
  if (previousVersion !== undefined && nestingDepth(previousVersion) <= MAX_NESTING_DEPTH) {
    collectRecordFields(previousVersion, previousFields);
  }
  walkType(schema, rootPath, {
    problems,
    previousFields,
    isLaterVersion: previousVersion !== undefined,
  });

  // Avro's own parse comes last: where it fails for a union default (avsc refuses some itself),
  // the rule above already says more.
  try {
    avro.Type.forSchema(schema as avro.Schema);
  } catch (error) {
    if (!problems.some((problem) => problem.rule === 'union-default')) {
      problems.push({
        rule: 'invalid-schema',
        path: rootPath,
        message: `Avro cannot parse the schema: ${(error as Error).message}`,
      });
    }
  }
  return problems;
}

interface LintContext {
  problems: LintProblem[];
  /** Record full names of the previous version → its field names. */
  previousFields: Map<string, Set<string>>;
  isLaterVersion: boolean;
}

function walkType(schema: unknown, path: string, context: LintContext): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) walkType(branch, path, context);
    return;
  }
  if (!isObject(schema)) return;
  const type = schema.type;
  if (isObject(type) || Array.isArray(type)) {
    walkType(type, path, context);
    return;
  }

  switch (type) {
    case 'record':
    case 'error':
      walkRecord(schema, path, context);
      return;
    case 'enum':
      if (schema.default === undefined) {
        context.problems.push({
          rule: 'enum-default',
          path,
          message: `enum ${String(schema.name)} declares no default symbol: a reader built today fails on a symbol added tomorrow (add "default": one of ${JSON.stringify(schema.symbols)})`,
        });
      }
      return;
    case 'array':
      walkType(schema.items, `${path}[]`, context);
      return;
    case 'map':
      walkType(schema.values, `${path}{}`, context);
      return;
    default:
      return;
  }
}

function walkRecord(record: JsonObject, path: string, context: LintContext): void {
  const previous = context.previousFields.get(shortName(String(record.name)));
  for (const field of fieldsOf(record)) {
    const fieldPath = `${path}.${String(field.name)}`;

    if ('logicalType' in field) {
      context.problems.push({
        rule: 'logical-type-placement',
        path: fieldPath,
        message: `"logicalType": ${JSON.stringify(field.logicalType)} sits beside "type" on the field, where Avro libraries ignore it; move it inside: "type": { "type": ${JSON.stringify(field.type)}, "logicalType": ${JSON.stringify(field.logicalType)} }`,
      });
    }

    if (Array.isArray(field.type) && 'default' in field) {
      const firstBranch = field.type[0] as avro.Schema;
      if (!defaultFits(firstBranch, field.default)) {
        context.problems.push({
          rule: 'union-default',
          path: fieldPath,
          message: `the default ${describeValue(field.default)} is not a value of the union's first branch ${JSON.stringify(typeName(firstBranch))}; put the default's type first in the union`,
        });
      }
    }

    const isAdded =
      context.isLaterVersion &&
      (previous === undefined ? false : !previous.has(String(field.name)));
    if (isAdded && !('default' in field)) {
      context.problems.push({
        rule: 'field-default-after-v1',
        path: fieldPath,
        message:
          'the field was added after version 1 without a default, so data written before it existed cannot be read',
      });
    }

    walkType(field.type, fieldPath, context);
  }
}

function defaultFits(branch: avro.Schema, value: unknown): boolean {
  try {
    return avro.Type.forSchema(branch, { registry: {} }).isValid(value);
  } catch {
    // A named reference (`"AgentIdentity"`) cannot be parsed alone: only null is sure not to fit.
    return value !== null;
  }
}

function collectRecordFields(schema: unknown, into: Map<string, Set<string>>): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectRecordFields(branch, into);
    return;
  }
  if (!isObject(schema)) return;
  if (isObject(schema.type) || Array.isArray(schema.type)) {
    collectRecordFields(schema.type, into);
    return;
  }
  if (schema.type === 'record' || schema.type === 'error') {
    const fields = fieldsOf(schema);
    into.set(shortName(String(schema.name)), new Set(fields.map((field) => String(field.name))));
    for (const field of fields) collectRecordFields(field.type, into);
  } else if (schema.type === 'array') {
    collectRecordFields(schema.items, into);
  } else if (schema.type === 'map') {
    collectRecordFields(schema.values, into);
  }
}

function typeName(schema: unknown): string {
  if (typeof schema === 'string') return schema;
  if (isObject(schema)) return String(schema.name ?? schema.type);
  return JSON.stringify(schema);
}

function shortName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_NESTING_DEPTH = 200;

/** A record's fields that are objects; anything else there is for Avro's parse to report. */
function fieldsOf(record: JsonObject): JsonObject[] {
  return Array.isArray(record.fields) ? record.fields.filter(isObject) : [];
}

/** How deep JSON nests, counted without recursion so any input can be measured. */
function nestingDepth(value: unknown): number {
  let deepest = 0;
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const { value: current, depth } = pending.pop() as { value: unknown; depth: number };
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_NESTING_DEPTH) return deepest;
    if (typeof current === 'object' && current !== null) {
      for (const child of Object.values(current)) pending.push({ value: child, depth: depth + 1 });
    }
  }
  return deepest;
}
