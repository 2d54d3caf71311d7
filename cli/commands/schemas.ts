/**
 * `panacea schemas check [FILE…]`: lints the shipped schemas (or the given .avsc files) and checks
 * that each version can follow the one before; needs no server.
 * `panacea schemas list`: the registry's subjects, versions, ids and compatibility modes.
 * `panacea schemas mode SUBJECT [MODE]`: shows or sets a subject's compatibility mode.
 * `panacea schemas register FILE [--subject NAME]`: lints a schema and registers it, refused with
 * the field and the rule when it breaks the subject's mode.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type avro from 'avsc';

import type { PanaceaConfig } from '../../core/config.js';
import { messageOf, PanaceaError, type ErrorCode } from '../../core/errors.js';
import { createKafka } from '../../core/kafka.js';
import { buildSchemas } from '../../schemas/catalog.js';
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
} from '../../schemas/registry/compatibility.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import {
  checkSchemaVersions,
  type SchemaVersionInput,
} from '../../schemas/registry/schema-check.js';
import { lintSchema } from '../../schemas/registry/schema-lint.js';
import { readSchemaText, type SchemaRegistry } from '../../schemas/registry/schema-registry.js';
import { scanJsonSyntax } from '../../core/json-syntax.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

const VERSION_IN_FILE_NAME = /\.v(\d+)\.avsc$/;

export async function schemasCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'check':
      return checkCommand(rest);
    case 'list':
      return withRegistry(config, (registry) => listCommand(registry));
    case 'mode':
      return withRegistry(config, (registry) => modeCommand(registry, rest));
    case 'register':
      return withRegistry(config, (registry) => registerCommand(registry, rest));
    default:
      throw new PanaceaError(
        'USAGE',
        `schemas: expected check, list, mode or register, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

function checkCommand(args: string[]): number {
  const { positionals } = parseCommandArgs(args, {}, true);
  const inputs: SchemaVersionInput[] =
    positionals.length === 0
      ? buildSchemas().map((entry) => ({
          source: entry.file,
          subject: entry.subject,
          version: entry.version,
          schema: entry.schema,
        }))
      : positionals.map((file, index) => readSchemaFile(file, index + 1));

  const findings = checkSchemaVersions(inputs);
  for (const finding of findings) {
    say(`${finding.source}: ${finding.path}: [${finding.rule}] ${finding.message}`);
  }
  const subjects = new Set(inputs.map((input) => input.subject)).size;
  say(
    `${inputs.length} schema(s) in ${subjects} subject(s): ${findings.length === 0 ? 'ok' : `${findings.length} problem(s)`}`,
  );
  return findings.length === 0 ? EXIT_OK : EXIT_PARTIAL;
}

async function listCommand(registry: SchemaRegistry): Promise<number> {
  say(`registry: ${registry.description}`);
  for (const subject of await registry.subjects()) {
    const mode = await registry.compatibility(subject);
    say(`${subject} (${mode})`);
    for (const entry of await registry.versions(subject)) {
      say(`  version ${entry.version}: id ${entry.id}`);
    }
  }
  return EXIT_OK;
}

async function modeCommand(registry: SchemaRegistry, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, true);
  const [subjectArgument, mode] = positionals;
  if (subjectArgument === undefined || positionals.length > 2) {
    throw new PanaceaError('USAGE', 'schemas mode: expected SUBJECT and an optional MODE');
  }
  const subject = checkedSubject(subjectArgument, 'SUBJECT');
  if (mode === undefined) {
    const versions = await registry.versions(subject);
    const note =
      versions.length === 0 ? ' (no version registered yet: the mode its first gets)' : '';
    say(`${subject}: ${await registry.compatibility(subject)}${note}`);
    return EXIT_OK;
  }
  if (!(COMPATIBILITY_MODES as readonly string[]).includes(mode)) {
    throw new PanaceaError(
      'USAGE',
      `schemas mode: MODE must be one of ${COMPATIBILITY_MODES.join(', ')}, got "${mode}"`,
    );
  }
  await registry.setCompatibility(subject, mode as CompatibilityMode);
  say(`${subject}: ${mode}`);
  return EXIT_OK;
}

async function registerCommand(registry: SchemaRegistry, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { subject: { type: 'string' } }, true);
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) {
    throw new PanaceaError('USAGE', 'schemas register: expected exactly one FILE');
  }
  const input = readSchemaFile(file, 1);
  const subject = checkedSubject(values.subject ?? input.subject, '--subject');
  const versions = await registry.versions(subject);
  const mode = await registry.compatibility(subject);
  const previous = versions.at(-1);
  // An unreadable previous version is left to the compatibility check, which names it.
  const previousRead = previous === undefined ? undefined : readSchemaText(previous.schema);
  const problems = lintSchema(
    input.schema,
    previousRead === undefined || 'problem' in previousRead ? undefined : previousRead.schema,
  ).filter(
    // NONE is the owner's word that old data need not be readable: a field added without a
    // default is then the owner's choice, the other rules still hold.
    (problem) => !(mode === 'NONE' && problem.rule === 'field-default-after-v1'),
  );
  try {
    if (problems.length > 0) {
      throw new PanaceaError(
        'SCHEMA_LINT_FAILED',
        `${file}: ${problems.map((problem) => `${problem.path}: [${problem.rule}] ${problem.message}`).join('; ')}`,
        { file, field: problems[0]?.path },
      );
    }
    const registered = await registry.register(subject, input.schema as avro.Schema);
    say(`${subject} version ${registered.version}: id ${registered.id}`);
    return EXIT_OK;
  } catch (error) {
    // A refused schema is rejected input, like a rejected line of `produce`: exit 1, not 2.
    if (!(error instanceof PanaceaError) || !REFUSED_SCHEMA_CODES.has(error.code)) throw error;
    process.stderr.write(`panacea schemas register: ${error.reason}\n`);
    return EXIT_PARTIAL;
  }
}

const REFUSED_SCHEMA_CODES = new Set<ErrorCode>([
  'SCHEMA_LINT_FAILED',
  'SCHEMA_INCOMPATIBLE',
  'SCHEMA_INVALID',
]);

async function withRegistry(
  config: PanaceaConfig,
  run: (registry: SchemaRegistry) => Promise<number>,
): Promise<number> {
  const registry = await openSchemaRegistry(config, createKafka(config, 'panacea-schemas'));
  try {
    return await run(registry);
  } finally {
    await registry.close();
  }
}

/** Subject names are shown one per line and used in URLs: printable, 1–255 characters. */
function checkedSubject(subject: string, option: string): string {
  if (subject.length === 0 || subject.length > 255 || /\p{Cc}/u.test(subject)) {
    throw new PanaceaError(
      'USAGE',
      `${option}: a subject is 1 to 255 printable characters, got ${JSON.stringify(subject.slice(0, 60))}`,
    );
  }
  return subject;
}

/**
 * One .avsc file; its version comes from a `.vN.avsc` name, else from its position. A schema
 * without a name (a primitive, a union) takes its subject from the file name without the version.
 */
function readSchemaFile(file: string, fallbackVersion: number): SchemaVersionInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
    throw new PanaceaError('FILE_UNREADABLE', `${file}: cannot read it (${code})`, { file }, error);
  }
  // Editors on some systems start a file with a byte order mark; it is not part of the JSON.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch {
    const problem = scanJsonSyntax(text).problem;
    const where =
      problem === undefined
        ? ''
        : ` at line ${problem.line} column ${problem.column}: ${problem.reason}`;
    throw new PanaceaError('INVALID_JSON', `${file}: not valid JSON${where}`, {
      file,
      ...(problem === undefined ? {} : { line: problem.line }),
    });
  }
  const match = VERSION_IN_FILE_NAME.exec(file);
  const name =
    typeof schema === 'object' && schema !== null && 'name' in schema
      ? String((schema as { name: unknown }).name)
      : path.basename(file).replace(/(\.v\d+)?\.avsc$/, '');
  const namespace =
    typeof schema === 'object' && schema !== null && 'namespace' in schema
      ? String((schema as { namespace: unknown }).namespace)
      : undefined;
  return {
    source: file,
    subject: name.includes('.') || namespace === undefined ? name : `${namespace}.${name}`,
    version: match === null ? fallbackVersion : Number(match[1]),
    schema,
  };
}
