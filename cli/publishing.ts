/**
 * A publisher for the commands that send events (produce, import, demo): connects, makes sure the
 * topics exist, and turns a broker that cannot be reached into one clear error.
 */
import type { PanaceaConfig } from '../core/config.js';
import { PanaceaError } from '../core/errors.js';
import { connectKafkaAdmin, createDurableProducer, createKafka } from '../core/kafka.js';
import type { Naming } from '../core/naming.js';
import { ensureTopics } from '../infra/topics.js';
import { createEventPublisher, type EventPublisher } from '../producers/event-publisher.js';
import { openSchemaCodec } from '../schemas/codec.js';
import { openSchemaRegistry } from '../schemas/registry/open-registry.js';

export interface OpenPublisher extends EventPublisher {
  close(): Promise<void>;
}

export async function openPublisher(config: PanaceaConfig, naming: Naming): Promise<OpenPublisher> {
  const kafka = createKafka(config, 'panacea-producer');
  const admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
  try {
    await ensureTopics(admin, naming);
  } finally {
    await admin.disconnect();
  }

  const registry = await openSchemaRegistry(config, kafka);
  const producer = createDurableProducer(kafka);
  try {
    const codec = await openSchemaCodec(registry);
    await connectProducer(producer, config);
    return {
      ...createEventPublisher(producer, naming, codec),
      close: async () => {
        await Promise.allSettled([producer.disconnect(), registry.close()]);
      },
    };
  } catch (error) {
    await Promise.allSettled([producer.disconnect(), registry.close()]);
    throw error;
  }
}

async function connectProducer(
  producer: ReturnType<typeof createDurableProducer>,
  config: PanaceaConfig,
): Promise<void> {
  try {
    await producer.connect();
  } catch (error) {
    throw new PanaceaError(
      'KAFKA_UNAVAILABLE',
      `cannot reach Kafka at ${config.kafkaBrokers.join(',')}`,
      {},
      error,
    );
  }
}
