/**
 * Avro object container files, written block by block to a file handle this code owns, so that a
 * segment grows on disk as batches arrive (memory stays flat), every batch is one compressed
 * block, and the size that decides a roll is the exact size on disk. Reading goes through avsc's
 * standard BlockDecoder, so what is written is checked against another implementation of the
 * format, not only against this one.
 */
import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';

import avro from 'avsc';

import { PanaceaError } from '../../core/errors.js';

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_MARKER_BYTES = 16;
const LONG_TYPE = avro.Type.forSchema('long');
const META_TYPE = avro.Type.forSchema({ type: 'map', values: 'bytes' });

/** The codec every segment is written with: raw deflate, as the Avro specification names it. */
export const CONTAINER_CODEC = 'deflate';

export class ContainerWriter {
  readonly path: string;
  #file: FileHandle;
  #type: avro.Type;
  #syncMarker: Buffer;
  #sizeBytes = 0;

  private constructor(path: string, file: FileHandle, type: avro.Type, syncMarker: Buffer) {
    this.path = path;
    this.#file = file;
    this.#type = type;
    this.#syncMarker = syncMarker;
  }

  /** Creates (or truncates) the file and writes the header with the schema and codec. */
  static async create(path: string, type: avro.Type): Promise<ContainerWriter> {
    const file = await open(path, 'w');
    const writer = new ContainerWriter(path, file, type, randomBytes(SYNC_MARKER_BYTES));
    const meta = {
      'avro.schema': Buffer.from(JSON.stringify(type.schema())),
      'avro.codec': Buffer.from(CONTAINER_CODEC),
    };
    await writer.#write(Buffer.concat([MAGIC, META_TYPE.toBuffer(meta), writer.#syncMarker]));
    return writer;
  }

  /** Bytes written so far: the file's size once the writes are flushed. */
  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  /** Appends one block holding `values`; nothing is written for an empty list. */
  async appendBlock(values: unknown[]): Promise<void> {
    if (values.length === 0) return;
    const data = deflateRawSync(Buffer.concat(values.map((value) => this.#type.toBuffer(value))));
    await this.#write(
      Buffer.concat([
        LONG_TYPE.toBuffer(values.length),
        LONG_TYPE.toBuffer(data.length),
        data,
        this.#syncMarker,
      ]),
    );
  }

  /** Flushes the file to disk and closes it. */
  async finish(): Promise<void> {
    try {
      await this.#file.sync();
    } finally {
      await this.#file.close();
    }
  }

  /** Closes the file without flushing, for a segment that is being thrown away. */
  async abandon(): Promise<void> {
    await this.#file.close().catch(() => undefined);
  }

  async #write(bytes: Buffer): Promise<void> {
    await this.#file.write(bytes);
    this.#sizeBytes += bytes.length;
  }
}

export interface DecodedContainer {
  /** The `name` of the schema in the file's header, e.g. `panacea.archive.ArchivedRecord`. */
  schemaName: string | undefined;
  codec: string;
  records: unknown[];
}

/**
 * Decodes a whole container file held in memory; a file that is not one fails DECODE_FAILED.
 * With `readerSchema`, records are read into it by Avro schema resolution: fields it leaves out
 * are skipped rather than decoded, which is how `verify` reads only what it checks.
 */
export async function decodeContainer(
  bytes: Buffer,
  readerSchema?: avro.Schema,
): Promise<DecodedContainer> {
  const decoder = new avro.streams.BlockDecoder(readerSchema === undefined ? {} : { readerSchema });
  let schemaName: string | undefined;
  let codec = 'null';
  decoder.on('metadata', (type: avro.Type, codecName: string) => {
    schemaName = type.name;
    codec = codecName;
  });

  const records: unknown[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      decoder.on('data', (record: unknown) => records.push(record));
      decoder.on('end', resolve);
      decoder.on('error', reject);
      Readable.from([bytes]).on('error', reject).pipe(decoder);
    });
  } catch (error) {
    throw new PanaceaError('DECODE_FAILED', 'not a readable Avro container file', {}, error);
  }
  return { schemaName, codec, records };
}
