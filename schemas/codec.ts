/**
 * Avro encoding of contract events in the Confluent wire format: one magic byte 0, the writer
 * schema's id as a 4-byte big-endian integer, then the Avro binary body. Decoding checks each of
 * those and turns any failure into a PanaceaError whose message says which part was wrong.
 */
import { messageOf, PanaceaError } from '../core/errors.js';
import { schemaById, writerSchemaFor } from './catalog.js';
import type { AgentEvent, EventKind } from './event.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export interface DecodedRecord {
  schemaId: number;
  kind: EventKind;
  /** The decoded event in contract shape: absent optional fields are left out, not null. */
  event: unknown;
}

export function encodeEvent(event: AgentEvent): Buffer {
  const entry = writerSchemaFor(event.kind);
  const { kind: _kind, ...fields } = event;
  let body: Buffer;
  try {
    body = entry.type.toBuffer(fields);
  } catch (error) {
    const detail = messageOf(error);
    throw new PanaceaError(
      'ENCODE_FAILED',
      `the event does not fit schema ${entry.subject}: ${detail}`,
      {},
      error,
    );
  }

  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(entry.id, 1);
  return Buffer.concat([header, body]);
}

export function decodeEvent(buffer: Buffer | null): DecodedRecord {
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

  const schemaId = buffer.readUInt32BE(1);
  const entry = schemaById(schemaId);
  if (entry === undefined) {
    throw new PanaceaError(
      'UNKNOWN_SCHEMA_ID',
      `schema id ${schemaId} is not registered with this pipeline`,
    );
  }

  let value: unknown;
  try {
    value = entry.type.fromBuffer(buffer.subarray(HEADER_BYTES));
  } catch (error) {
    const detail = messageOf(error);
    throw new PanaceaError(
      'DECODE_FAILED',
      `the Avro body does not match schema ${entry.subject} v${entry.version} (id ${schemaId}): ${detail}`,
      {},
      error,
    );
  }

  const event = { kind: entry.kind, ...(withoutNulls(value) as Record<string, unknown>) };
  return { schemaId, kind: entry.kind, event };
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
