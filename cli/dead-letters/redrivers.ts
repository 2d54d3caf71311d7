/**
 * The re-drivers of `dlq replay`: for each stage that allows it (see redrive-policy.ts), the
 * stage's own code run in-process over dead letters put back into the records they were, at
 * their source position. Clients are opened the first time a stage's dead letters come up and
 * closed with `close()`, so re-driving one stage's dead letters needs only that stage's servers.
 */
import { randomUUID } from 'node:crypto';

import type { Client } from '@elastic/elasticsearch';

import type { PanaceaConfig } from '../../core/config.js';
import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  createDurableProducer,
  type Kafka,
  type Producer,
  type TopicMessages,
} from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import type { BatchContext, StageDefinition, StageRecord } from '../../core/stage-runner.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../../processors/enrich/agent-registry/kafka-agent-registry.js';
import { createEnricher, type Enricher } from '../../processors/enrich/enrich-stage.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { createAlertsSinkStage } from '../../sinks/elasticsearch/alerts-sink-stage.js';
import { createElasticsearchStage } from '../../sinks/elasticsearch/elasticsearch-stage.js';
import { createMetricsSinkStage } from '../../sinks/elasticsearch/metrics-sink-stage.js';
import { DeliveryLedger, ensureLedgerTopic } from '../../sinks/webhooks/delivery-ledger.js';
import { loadDestinationsFile } from '../../sinks/webhooks/destinations-file.js';
import { createDestinationStage } from '../../sinks/webhooks/webhook-stage.js';
import { createElasticsearchClient } from '../pipeline.js';
import type { DeadLetterEntry } from './dead-letter-entry.js';
import type { RedriveMode } from './redrive-policy.js';

/** What re-driving a batch of one stage's dead letters produced. */
export interface RedriveResult {
  /** Records to publish besides dead letters: the enriched documents of an `enrich` re-drive. */
  messages: TopicMessages[];
  /** The records that failed again, at their source position, with the new reason. */
  deadLetters: DeadLetter[];
}

export interface Redriver {
  redrive(records: StageRecord[], context: BatchContext): Promise<RedriveResult>;
}

export interface RedriverClients {
  config: PanaceaConfig;
  naming: Naming;
  kafka: Kafka;
  admin: Admin;
  /** Opens the schema codec once, for whoever needs it first. */
  codec(): Promise<SchemaCodec>;
}

/** The record a dead letter was, where it was: the stage sees exactly what it saw then. */
export function sourceRecordOf(entry: DeadLetterEntry): StageRecord {
  return {
    topic: entry.source.topic,
    partition: entry.source.partition,
    offset: entry.source.offset,
    key: entry.key,
    value: entry.value,
    headers: entry.recordHeaders,
    // The source record's own timestamp is not kept in a dead letter: the dead letter's, when it
    // was rejected, is the nearest there is (the enrichment's `event.created`).
    timestampMs: entry.timestampMs,
  };
}

export class Redrivers {
  readonly #clients: RedriverClients;
  readonly #redrivers = new Map<string, Promise<Redriver>>();
  readonly #closers: Array<() => Promise<unknown>> = [];
  #elasticsearch: Client | undefined;

  constructor(clients: RedriverClients) {
    this.#clients = clients;
  }

  /** The re-driver of a stage that allows re-driving, opened on first use. */
  for(stage: string, mode: Exclude<RedriveMode, { kind: 'refused' }>): Promise<Redriver> {
    let redriver = this.#redrivers.get(stage);
    if (redriver === undefined) {
      redriver = this.#open(mode);
      this.#redrivers.set(stage, redriver);
    }
    return redriver;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#closers.map((close) => close()));
  }

  async #open(mode: Exclude<RedriveMode, { kind: 'refused' }>): Promise<Redriver> {
    switch (mode.kind) {
      case 'enrich':
        return this.#enrichRedriver();
      case 'sink':
        return this.#sinkRedriver(mode.stage);
      case 'webhook':
        return this.#webhookRedriver(mode.destination);
    }
  }

  async #enrichRedriver(): Promise<Redriver> {
    const { config, naming, kafka } = this.#clients;
    const redactionRules = loadRedactionRules(config.redactionRulesFile);
    const codec = await this.#clients.codec();
    const agentRegistry: AgentRegistry = await openAgentRegistry({
      kafka,
      brokers: config.kafkaBrokers,
      topic: naming.agentRegistryTopic(),
      groupPrefix: config.topicPrefix,
      logger: componentLogger('agent-registry'),
    });
    this.#closers.push(() => agentRegistry.close());
    const enricher: Enricher = createEnricher({ naming, codec, redactionRules, agentRegistry });

    return {
      async redrive(records) {
        // As the stage does: an entry written before now applies to the re-driven events.
        await agentRegistry.catchUp();
        const enriched = await enricher.enrich(records, Date.now());
        return {
          messages: [{ topic: naming.enrichedTopic(), messages: enriched.messages }],
          deadLetters: enriched.deadLetters,
        };
      },
    };
  }

  #sinkRedriver(stage: 'sink-elasticsearch' | 'sink-metrics' | 'sink-alerts'): Redriver {
    const { config, naming, admin } = this.#clients;
    const client = this.#elasticsearchClient();
    const definitions: Record<typeof stage, () => StageDefinition> = {
      'sink-elasticsearch': () =>
        createElasticsearchStage({ naming, namespace: config.namespace, client }),
      'sink-metrics': () => createMetricsSinkStage({ naming, client, admin }),
      'sink-alerts': () => createAlertsSinkStage({ naming, client }),
    };
    return this.#throughDefinition(definitions[stage]());
  }

  async #webhookRedriver(destinationName: string): Promise<Redriver> {
    const { config, naming, kafka, admin } = this.#clients;
    if (config.alertDestinationsFile === undefined) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `cannot re-drive to destination "${destinationName}": no alert destinations file is configured (PANACEA_ALERT_DESTINATIONS)`,
      );
    }
    const { destinations } = loadDestinationsFile(config.alertDestinationsFile);
    const destination = destinations.find((candidate) => candidate.name === destinationName);
    if (destination === undefined) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `cannot re-drive to destination "${destinationName}": ${config.alertDestinationsFile} has no destination of that name`,
        { file: config.alertDestinationsFile },
      );
    }

    await ensureLedgerTopic(admin, naming.alertDeliveriesTopic());
    const producer: Producer = createDurableProducer(kafka);
    await producer.connect();
    this.#closers.push(() => producer.disconnect());
    const ledger = new DeliveryLedger({
      kafka,
      brokers: config.kafkaBrokers,
      topic: naming.alertDeliveriesTopic(),
      destination: destination.name,
      groupId: `${config.topicPrefix}panacea.alert-deliveries.${randomUUID()}`,
      producer,
      logger: componentLogger('dlq.redrive.webhooks'),
    });
    await ledger.open();
    const definition = createDestinationStage({
      naming,
      destination,
      ledger,
      // The dead letter was this destination's: whatever it cannot take goes back to the
      // dead-letter topic, as its first rejection did.
      refusesForAll: true,
      knownDestinations: new Set(destinations.map((candidate) => candidate.name)),
    });
    this.#closers.push(() => definition.close?.() ?? Promise.resolve());
    return this.#throughDefinition(definition);
  }

  #throughDefinition(definition: StageDefinition): Redriver {
    return {
      async redrive(records, context) {
        const outcome = await definition.handleBatch(records, context);
        return { messages: [], deadLetters: outcome.deadLetters };
      },
    };
  }

  #elasticsearchClient(): Client {
    if (this.#elasticsearch === undefined) {
      const client = createElasticsearchClient(this.#clients.config);
      this.#elasticsearch = client;
      this.#closers.push(() => client.close());
    }
    return this.#elasticsearch;
  }
}
