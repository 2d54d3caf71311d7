/**
 * Avro encoding of contract events in the Confluent wire format: one magic byte 0, the writer
 * schema's registry id as a 4-byte big-endian integer, then the Avro binary body.
 *
 * A codec is opened against a registry: it registers every schema version this build ships
 * (oldest first, so a new cluster numbers them in order) and writes with the newest of each kind.
 * Reading resolves the record's writer schema, fetched by id, into this build's newest schema of
 * the same kind (Avro schema resolution): older records get the new fields' defaults, newer
 * records lose the fields this build does not know. A writer schema that cannot be resolved is
 * refused with SCHEMA_UNRESOLVABLE naming the field and the rule; nothing is ever decoded into the
 * wrong fields. Text that is not valid UTF-8 on the wire is read repaired (each bad sequence as
 * U+FFFD) and flagged on the result, so the stage can tag and count it instead of losing the event.
 */
import avro from 'avsc';

import { messageOf, PanaceaError } from '../core/errors.js';
import { EVENT_KINDS, type EventKind } from '../core/naming.js';
import { buildSchemas, newestOf, type BuildSchema } from './catalog.js';
import type { AgentEvent } from './event.js';
import { readProblems } from './registry/compatibility.js';
import {
  readSchemaText,
  type RegisteredSchema,
  type SchemaRegistry,
} from './registry/schema-registry.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
/** Ids remembered as unknown, so a stream of garbage ids does not ask the registry each time. */
const MAX_REMEMBERED_UNKNOWN_IDS = 1_000;

export interface DecodedRecord {
  schemaId: number;
  kind: EventKind;
  /** The decoded event in contract shape: absent optional fields are left out, not null. */
  event: unknown;
  /** True when a text field was not valid UTF-8 and was read with U+FFFD in place of bad bytes. */
  repairedUtf8: boolean;
}

/** How one writer schema id is read: directly, or through a resolver, or not at all. */
type Reader =
  | {
      kind: EventKind;
      label: string;
      read: (body: Buffer) => unknown;
      /** The writer's own type, to check a body's text bytes (see `hasInvalidUtf8`). */
      writerType: avro.Type;
    }
  | { refusal: PanaceaError };

/** The writing half of a codec: needs the writer ids, not the registry they came from. */
export interface SchemaWriter {
  /** The registry id each kind is written with. */
  readonly writerIds: Readonly<Record<EventKind, number>>;
  encode(event: AgentEvent): Buffer;
}

export interface SchemaCodec extends SchemaWriter {
  decode(buffer: Buffer | null): Promise<DecodedRecord>;
}

/**
 * Registers `schemas` (by default the ones this build ships) and returns a codec that writes and
 * reads with the newest of each kind. Tests pass an older set to play a build of the past.
 */
export async function openSchemaCodec(
  registry: SchemaRegistry,
  schemas: readonly BuildSchema[] = buildSchemas(),
): Promise<SchemaCodec> {
  const writerIds = {} as Record<EventKind, number>;
  for (const entry of schemas) {
    const registered = await registry.register(entry.subject, entry.schema);
    if (entry === newestOf(schemas, entry.kind)) writerIds[entry.kind] = registered.id;
  }
  return new RegistryCodec(registry, schemas, writerIds);
}

/** What writing one kind needs, looked up once rather than per event. */
interface KindWriter {
  type: avro.Type;
  subject: string;
  header: Buffer;
}

/** Bytes the writer's scratch buffer starts with; it doubles for a larger event and stays so. */
const INITIAL_SCRATCH_BYTES = 64 * 1024;

/**
 * A writer for ids a registry gave out earlier (in another thread, say): encodes exactly as the
 * codec opened there would, without a registry of its own.
 */
export function createSchemaWriter(
  writerIds: Readonly<Record<EventKind, number>>,
  schemas: readonly BuildSchema[] = buildSchemas(),
): SchemaWriter {
  const writers = {} as Record<EventKind, KindWriter>;
  for (const kind of EVENT_KINDS) {
    const { type, subject } = newestOf(schemas, kind);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(MAGIC_BYTE, 0);
    header.writeUInt32BE(writerIds[kind], 1);
    writers[kind] = { type, subject, header };
  }
  let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);

  const encode = (event: AgentEvent): Buffer => {
    const writer = writers[event.kind];
    if (writer === undefined) {
      throw new PanaceaError('ENCODE_FAILED', `no schema for event kind ${String(event.kind)}`);
    }
    // The body is written behind the header in one scratch buffer and copied out once: the
    // event goes in as it is (Avro records write their own fields and pass over `kind`), with
    // no copy of the event, no second buffer and no concatenation per event.
    let end: number;
    try {
      end = writer.type.encode(event, scratch, HEADER_BYTES);
      if (end < 0) {
        scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
        end = writer.type.encode(event, scratch, HEADER_BYTES);
      }
    } catch (error) {
      throw new PanaceaError(
        'ENCODE_FAILED',
        `the event does not fit schema ${writer.subject}: ${messageOf(error)}`,
        {},
        error,
      );
    }
    const record = Buffer.allocUnsafe(end);
    writer.header.copy(record, 0);
    scratch.copy(record, HEADER_BYTES, HEADER_BYTES, end);
    return record;
  };
  return { writerIds, encode };
}

class RegistryCodec implements SchemaCodec {
  private readonly readers = new Map<number, Reader>();
  private readonly unknownIds = new Set<number>();
  private readonly writer: SchemaWriter;

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly schemas: readonly BuildSchema[],
    readonly writerIds: Readonly<Record<EventKind, number>>,
  ) {
    this.writer = createSchemaWriter(writerIds, schemas);
    for (const kind of EVENT_KINDS) {
      const { type, subject, version } = newestOf(schemas, kind);
      this.readers.set(writerIds[kind], {
        kind,
        label: `${subject} v${version} (id ${writerIds[kind]})`,
        read: (body) => type.fromBuffer(body),
        writerType: type,
      });
    }
  }

  encode(event: AgentEvent): Buffer {
    return this.writer.encode(event);
  }

  async decode(buffer: Buffer | null): Promise<DecodedRecord> {
    const schemaId = readHeader(buffer);
    const reader = await this.readerFor(schemaId);
    if ('refusal' in reader) throw reader.refusal;

    const body = (buffer as Buffer).subarray(HEADER_BYTES);
    let value: unknown;
    try {
      value = reader.read(body);
    } catch (error) {
      throw new PanaceaError(
        'DECODE_FAILED',
        `the Avro body does not match its writer schema ${reader.label}: ${messageOf(error)}`,
        {},
        error,
      );
    }
    const repairedUtf8 = hasInvalidUtf8(value, body, reader.writerType);
    const event = { kind: reader.kind, ...(withoutNulls(value) as Record<string, unknown>) };
    return { schemaId, kind: reader.kind, event, repairedUtf8 };
  }

  private async readerFor(schemaId: number): Promise<Reader> {
    const known = this.readers.get(schemaId);
    if (known !== undefined) return known;
    if (this.unknownIds.has(schemaId)) return { refusal: unknownIdError(schemaId) };

    const registered = await this.registry.schemaById(schemaId);
    if (registered === undefined) {
      if (this.unknownIds.size >= MAX_REMEMBERED_UNKNOWN_IDS) this.unknownIds.clear();
      this.unknownIds.add(schemaId);
      return { refusal: unknownIdError(schemaId) };
    }
    const reader = resolvingReader(registered, this.schemas);
    this.readers.set(schemaId, reader);
    return reader;
  }
}

/** The reader of a writer schema this build did not write itself. */
function resolvingReader(registered: RegisteredSchema, schemas: readonly BuildSchema[]): Reader {
  const { id: schemaId, subject } = registered;
  const read = readSchemaText(registered.schema);
  if ('problem' in read) {
    return {
      refusal: new PanaceaError(
        'SCHEMA_UNRESOLVABLE',
        `writer schema id ${schemaId} is unreadable: ${read.problem}`,
      ),
    };
  }
  const writerSchema = read.schema;
  let writerType: avro.Type;
  try {
    writerType = avro.Type.forSchema(writerSchema);
  } catch (error) {
    return {
      refusal: new PanaceaError(
        'SCHEMA_UNRESOLVABLE',
        `writer schema id ${schemaId} is not a valid Avro schema: ${messageOf(error)}`,
      ),
    };
  }
  const target = schemas.find(
    (entry) => entry.subject === (writerType.name ?? subject) || entry.subject === subject,
  );
  if (target === undefined) {
    return {
      refusal: new PanaceaError(
        'SCHEMA_UNRESOLVABLE',
        `writer schema id ${schemaId} is ${writerType.name ?? subject}, which is not an event schema this build reads`,
      ),
    };
  }
  const readerEntry = newestOf(schemas, target.kind);
  const problems = readProblems(readerEntry.schema, writerSchema);
  let resolver: avro.Resolver | undefined;
  if (problems.length === 0) {
    try {
      resolver = readerEntry.type.createResolver(writerType);
    } catch (error) {
      problems.push({ path: readerEntry.subject, rule: messageOf(error) });
    }
  }
  if (resolver === undefined) {
    return {
      refusal: new PanaceaError(
        'SCHEMA_UNRESOLVABLE',
        `a record written with schema id ${schemaId} cannot be read as ${readerEntry.file}: ${problems
          .map((problem) => `${problem.path}: ${problem.rule}`)
          .join('; ')}`,
        { field: problems[0]?.path },
      ),
    };
  }
  const resolverOfWriter = resolver;
  return {
    kind: target.kind,
    label: `${subject} v${registered.version} (id ${schemaId}, read as ${readerEntry.file})`,
    read: (body) => readerEntry.type.fromBuffer(body, resolverOfWriter),
    writerType,
  };
}

function readHeader(buffer: Buffer | null): number {
  if (buffer === null || buffer.length === 0) {
    throw new PanaceaError(
      'DECODE_FAILED',
      'the record has no value (a tombstone or empty message)',
    );
  }
  if (buffer.length < HEADER_BYTES || buffer.readUInt8(0) !== MAGIC_BYTE) {
    throw new PanaceaError(
      'DECODE_FAILED',
      `the record does not start with magic byte 0 and a 4-byte schema id ` +
        `(first byte ${buffer.readUInt8(0)}, ${buffer.length} bytes): it was not written by an Avro producer of this contract`,
    );
  }
  return buffer.readUInt32BE(1);
}

function unknownIdError(schemaId: number): PanaceaError {
  return new PanaceaError(
    'UNKNOWN_SCHEMA_ID',
    `schema id ${schemaId} is not registered with this pipeline's schema registry`,
  );
}

/** Avro writes absent optional fields as null; the contract leaves them out. */
function withoutNulls(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== null) result[key] = withoutNulls(entry);
  }
  return result;
}

/**
 * Avro libraries decode invalid UTF-8 leniently, as U+FFFD, which is the repair we want; this only
 * tells whether it happened. Only a value that shows U+FFFD can hide one, so only then is the body
 * read again with the writer's type and written back: a string that was valid UTF-8 (even one
 * holding a real U+FFFD) gives the same bytes, a repaired one does not.
 */
function hasInvalidUtf8(value: unknown, body: Buffer, writerType: avro.Type): boolean {
  return containsReplacementCharacter(value) && !writesBackTheSame(body, writerType);
}

function containsReplacementCharacter(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\uFFFD');
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(containsReplacementCharacter);
}

function writesBackTheSame(body: Buffer, writerType: avro.Type): boolean {
  try {
    return writerType.toBuffer(writerType.fromBuffer(body)).equals(body);
  } catch {
    return false;
  }
}
