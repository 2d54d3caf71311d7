/**
 * Opens the registry the configuration asks for: a Confluent-compatible one when
 * `SCHEMA_REGISTRY_URL` is set, else the embedded one in the cluster's `<prefix>panacea.schemas`
 * topic.
 */

import type { PanaceaConfig } from '../../core/config.js';
import type { Kafka } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming } from '../../core/naming.js';
import { openHttpRegistry } from './http-registry.js';
import { openKafkaRegistry } from './kafka-registry.js';
import type { SchemaRegistry } from './schema-registry.js';

export async function openSchemaRegistry(
  config: Pick<PanaceaConfig, 'schemaRegistryUrl' | 'kafkaBrokers' | 'topicPrefix' | 'namespace'>,
  kafka: Kafka,
): Promise<SchemaRegistry> {
  if (config.schemaRegistryUrl !== undefined) {
    return openHttpRegistry({
      url: config.schemaRegistryUrl,
      logger: componentLogger('schema-registry'),
    });
  }
  return openKafkaRegistry({
    kafka,
    brokers: config.kafkaBrokers,
    topic: createNaming(config).schemaRegistryTopic(),
    groupPrefix: config.topicPrefix,
    logger: componentLogger('schema-registry'),
  });
}
