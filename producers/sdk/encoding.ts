/**
 * The one place where the SDK learns how an event becomes a record value. Everything else in the
 * SDK calls `encoder.encode(event)` and never imports a codec.
 *
 * The encoder is the project's schema codec (Avro in the Confluent wire format, schema ids from
 * the registry). Opening it needs the registry, which needs Kafka (or SCHEMA_REGISTRY_URL), so it
 * happens when the publisher connects, in the Kafka worker thread: the worker registers the
 * schemas, closes the registry again (an agent keeps no registry reader running) and hands the
 * writer ids to the publisher's thread, which encodes with them (`encoderFor`) at each call.
 */

import { DEFAULT_NAMESPACE } from '../../core/config.js';
import type { Kafka } from '../../core/kafka.js';
import { newestBuildSchema } from '../../schemas/catalog.js';
import { createSchemaWriter, openSchemaCodec } from '../../schemas/codec.js';
import type { AgentEvent, EventKind } from '../../schemas/event.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';

export interface EventEncoder {
  /** The record value of one valid event; throws a PanaceaError (ENCODE_FAILED) if it cannot. */
  encode(event: AgentEvent): Buffer;
}

export interface EncoderSettings {
  brokers: string[];
  topicPrefix: string;
  /** A Confluent-compatible registry; unset means the embedded one in the cluster's topic. */
  schemaRegistryUrl: string | undefined;
}

/** The registry id each kind is written with; plain numbers, so they can cross to a thread. */
export type WriterIds = Readonly<Record<EventKind, number>>;

/** Registers this build's schemas (where not yet there) and returns the ids to write with. */
export async function openWriterIds(kafka: Kafka, settings: EncoderSettings): Promise<WriterIds> {
  const registry = await openSchemaRegistry(
    {
      kafkaBrokers: settings.brokers,
      topicPrefix: settings.topicPrefix,
      namespace: DEFAULT_NAMESPACE,
      schemaRegistryUrl: settings.schemaRegistryUrl,
    },
    kafka,
  );
  try {
    return (await openSchemaCodec(registry)).writerIds;
  } finally {
    await registry.close();
  }
}

/** Registers this build's schemas (where not yet there) and returns an encoder for them. */
export async function openEventEncoder(
  kafka: Kafka,
  settings: EncoderSettings,
): Promise<EventEncoder> {
  return encoderFor(await openWriterIds(kafka, settings));
}

/** An encoder for writer ids a registry gave out, in this thread or another. */
export function encoderFor(writerIds: WriterIds): EventEncoder {
  return createSchemaWriter(writerIds);
}

/** The codec's header: magic byte and 4-byte schema id (Confluent wire format). */
const WIRE_HEADER_BYTES = 5;

/**
 * The size `encode` will give `event`, for events accepted before an encoder is open (Kafka down
 * at start): the same Avro body, written with this build's newest schema of the kind, behind the
 * same header. A unit test pins it to the codec's output; should the two ever differ, the
 * publisher corrects its count when it encodes the event. Throws like `encode` for an event Avro
 * cannot write.
 */
export function encodedBytesBeforeOpen(event: AgentEvent): number {
  const { kind, ...fields } = event;
  return WIRE_HEADER_BYTES + newestBuildSchema(kind).type.toBuffer(fields).length;
}
