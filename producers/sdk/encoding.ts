/**
 * The one place where the SDK learns how an event becomes a record value. Everything else in the
 * SDK calls `encoder.encode(event)` and never imports a codec.
 *
 * The encoder is the project's schema codec (Avro in the Confluent wire format, schema ids from
 * the registry). Opening it needs the registry, which needs Kafka (or SCHEMA_REGISTRY_URL), so
 * the publisher opens it when it connects; the codec's `encode` is synchronous and uses only the
 * writer ids it learned while opening, so the registry is closed again right away and an agent
 * keeps no registry reader running.
 */
import type { Kafka } from 'kafkajs';

import { DEFAULT_NAMESPACE } from '../../core/config.js';
import { newestBuildSchema } from '../../schemas/catalog.js';
import { openSchemaCodec } from '../../schemas/codec.js';
import type { AgentEvent } from '../../schemas/event.js';
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

/** Registers this build's schemas (where not yet there) and returns an encoder for them. */
export async function openEventEncoder(
  kafka: Kafka,
  settings: EncoderSettings,
): Promise<EventEncoder> {
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
    return await openSchemaCodec(registry);
  } finally {
    await registry.close();
  }
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
