/**
 * What one record of an archive segment holds: the Kafka record exactly as the agent published it
 * (its Avro-encoded value with the schema id prefix, key, headers) and where it sat in the log
 * (topic, partition, offset, timestamp), plus the event id read from it so a reviewer can find an
 * event without the schema registry. Its Avro schema is written into every segment's header, so a
 * segment can be read years later by any Avro reader, without this code.
 */
import avro from 'avsc';

import type { StageRecord } from '../../core/stage-runner.js';

/** The container record schema, `panacea.archive.ArchivedRecord`; documented in the README. */
export const ARCHIVED_RECORD_SCHEMA = {
  type: 'record',
  name: 'ArchivedRecord',
  namespace: 'panacea.archive',
  doc: 'One Kafka record of the raw audit topic, byte for byte as it was published.',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'partition', type: 'int' },
    { name: 'offset', type: 'long' },
    { name: 'timestampMs', type: 'long', doc: "The record's Kafka timestamp, epoch ms." },
    { name: 'key', type: ['null', 'bytes'], default: null },
    {
      name: 'value',
      type: 'bytes',
      doc: 'The record value as published: schema-registry framing, then the Avro event.',
    },
    {
      name: 'headers',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Header',
          fields: [
            { name: 'key', type: 'string' },
            { name: 'value', type: ['null', 'bytes'], default: null },
          ],
        },
      },
      default: [],
    },
    { name: 'eventId', type: 'string', doc: 'Read from the value when archived, for lookup.' },
  ],
} as const;

export const ARCHIVED_RECORD_TYPE = avro.Type.forSchema(
  ARCHIVED_RECORD_SCHEMA as unknown as avro.Schema,
);

export interface ArchivedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer;
  headers: Array<{ key: string; value: Buffer | null }>;
  eventId: string;
}

export function toArchivedRecord(record: StageRecord, eventId: string): ArchivedRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    // Exact below 2^53, which a partition's offsets do not reach in practice.
    offset: Number(record.offset),
    timestampMs: record.timestampMs,
    key: record.key,
    value: record.value ?? Buffer.alloc(0),
    headers: flattenHeaders(record.headers),
    eventId,
  };
}

/** kafkajs gives a header as a buffer, a string or a list of either; the archive keeps each. */
function flattenHeaders(headers: StageRecord['headers']): ArchivedRecord['headers'] {
  const flat: ArchivedRecord['headers'] = [];
  for (const [key, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      flat.push({ key, value: item === undefined ? null : Buffer.from(item) });
    }
  }
  return flat;
}
