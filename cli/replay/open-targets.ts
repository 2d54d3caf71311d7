/**
 * The clients and targets of a replay, opened as they are needed and closed together: the schema
 * codec, a durable producer, the Elasticsearch client and the agent registry, and one target per
 * topic (see replay-targets.ts). Shared by the topic replay and the archive rehydration.
 */
import { randomUUID } from 'node:crypto';

import type { Client } from '@elastic/elasticsearch';

import type { PanaceaConfig } from '../../core/config.js';
import { type Admin, createDurableProducer, type Kafka, type Producer } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, kindOfRawTopic, type Naming } from '../../core/naming.js';
import { setupElasticsearch } from '../../infra/elasticsearch/setup.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../../processors/enrich/agent-registry/kafka-agent-registry.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../../schemas/registry/schema-registry.js';
import { createElasticsearchClient } from '../pipeline.js';
import { isFiltering, type ReplayRequest } from './replay-request.js';
import { createReplayTarget, type ReplayTarget } from './replay-targets.js';

export interface TargetClients {
  kafka: Kafka;
  admin: Admin;
  codec: SchemaCodec | undefined;
  opened: OpenedClients;
  /** Stops the writes of a target in progress (the metrics recomputation's). */
  signal?: AbortSignal;
}

export async function openTargets(
  request: ReplayRequest,
  config: PanaceaConfig,
  naming: Naming,
  topics: string[],
  clients: TargetClients,
): Promise<Map<string, ReplayTarget>> {
  const { kafka, admin, opened } = clients;
  const producer = await opened.producer(kafka);
  const client = opened.elasticsearch(config);
  const rawTopics = topics.filter((topic) => kindOfRawTopic(naming, topic) !== undefined);
  if (request.into.kind !== 'topic') {
    const namespace =
      request.into.kind === 'elasticsearch' ? request.into.namespace : config.namespace;
    // Idempotent; a side namespace gets its templates here, an index that was lost its own.
    await setupElasticsearch(client, { namespace, retention: config.retention });
  }
  const intoSinks = request.into.kind !== 'topic';
  const options = {
    config,
    naming,
    into: request.into,
    client,
    admin,
    producer,
    codec: clients.codec as SchemaCodec,
    redactionRules: loadRedactionRules(config.redactionRulesFile),
    agentRegistry:
      intoSinks && rawTopics.length > 0 ? await opened.agentRegistry(config, kafka) : undefined,
    replayId: randomUUID(),
    recomputeMetrics: !isFiltering(request.filter),
    ...(clients.signal === undefined ? {} : { signal: clients.signal }),
  };
  return new Map(topics.map((topic) => [topic, createReplayTarget(options, topic)]));
}

/** The clients a replay opens as it needs them, closed together at the end. */
export class OpenedClients {
  #registry: SchemaRegistry | undefined;
  #producer: Producer | undefined;
  #client: Client | undefined;
  #agentRegistry: AgentRegistry | undefined;

  async codec(config: PanaceaConfig, kafka: Kafka): Promise<SchemaCodec> {
    this.#registry ??= await openSchemaRegistry(config, kafka);
    return openSchemaCodec(this.#registry);
  }

  async producer(kafka: Kafka): Promise<Producer> {
    if (this.#producer === undefined) {
      this.#producer = createDurableProducer(kafka);
      await this.#producer.connect();
    }
    return this.#producer;
  }

  elasticsearch(config: PanaceaConfig): Client {
    this.#client ??= createElasticsearchClient(config);
    return this.#client;
  }

  async agentRegistry(config: PanaceaConfig, kafka: Kafka): Promise<AgentRegistry> {
    this.#agentRegistry ??= await openAgentRegistry({
      kafka,
      brokers: config.kafkaBrokers,
      topic: createNaming(config).agentRegistryTopic(),
      groupPrefix: config.topicPrefix,
      logger: componentLogger('agent-registry'),
    });
    return this.#agentRegistry;
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.#registry?.close(),
      this.#producer?.disconnect(),
      this.#client?.close(),
      this.#agentRegistry?.close(),
    ]);
  }
}
