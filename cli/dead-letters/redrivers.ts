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
import { printableUrl } from '../../core/elasticsearch-access.js';
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
import { elasticsearchFailure } from '../../infra/elasticsearch/request-errors.js';
import {
  createEnricher,
  ENRICH_STAGE,
  type Enricher,
} from '../../processors/enrich/enrich-stage.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { createAlertsSinkStage } from '../../sinks/elasticsearch/alerts-sink-stage.js';
import { createElasticsearchStage } from '../../sinks/elasticsearch/elasticsearch-stage.js';
import { createMetricsSinkStage } from '../../sinks/elasticsearch/metrics-sink-stage.js';
import { storedDocuments } from '../../sinks/elasticsearch/stored-documents.js';
import { DeliveryLedger, ensureLedgerTopic } from '../../sinks/webhooks/delivery-ledger.js';
import { loadDestinationsFile } from '../../sinks/webhooks/destinations-file.js';
import { createDestinationStage, webhookStageName } from '../../sinks/webhooks/webhook-stage.js';
import { OpenedClients } from '../replay/open-targets.js';
import type { DeadLetterEntry } from './dead-letter-entry.js';
import type { RedriveMode } from './redrive-policy.js';

/** What re-driving a batch of one stage's dead letters produced. */
export interface RedriveResult {
  /** Records to publish besides dead letters: the enriched documents of an `enrich` re-drive. */
  messages: TopicMessages[];
  /**
   * The records that failed again, at their source position, with the new reason, and the stage
   * that refused them (a webhook dead letter re-driven to every destination may fail in several).
   */
  failed: Array<{ deadLetter: DeadLetter; stage: string }>;
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
  /** The agent registry and the Elasticsearch client, opened as the replay opens them. */
  readonly #opened = new OpenedClients();
  #webhookStages: Promise<StageDefinition[]> | undefined;

  constructor(clients: RedriverClients) {
    this.#clients = clients;
  }

  /** The re-driver of a stage that allows re-driving, opened on first use. */
  for(mode: Exclude<RedriveMode, { kind: 'refused' }>): Promise<Redriver> {
    const key = JSON.stringify(mode);
    let redriver = this.#redrivers.get(key);
    if (redriver === undefined) {
      redriver = this.#open(mode);
      this.#redrivers.set(key, redriver);
    }
    return redriver;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#closers.map((close) => close()), this.#opened.close()]);
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
    const agentRegistry = await this.#opened.agentRegistry(config, kafka);
    const enricher: Enricher = createEnricher({ naming, codec, redactionRules, agentRegistry });

    return {
      async redrive(records) {
        // As the stage does: an entry written before now applies to the re-driven events.
        await agentRegistry.catchUp();
        const enriched = await enricher.enrich(records, Date.now());
        return {
          messages: [{ topic: naming.enrichedTopic(), messages: enriched.messages }],
          failed: enriched.deadLetters.map((deadLetter) => ({ deadLetter, stage: ENRICH_STAGE })),
        };
      },
    };
  }

  async #sinkRedriver(
    stage: 'sink-elasticsearch' | 'sink-metrics' | 'sink-alerts',
  ): Promise<Redriver> {
    const { config, naming, admin } = this.#clients;
    const client = this.#elasticsearchClient();
    const where = printableUrl(config.elasticsearchUrl);
    // A server that does not answer at all is said at once, with its address: the writers would
    // retry it until the batch's time runs out. (The cluster's health, as the minimal test server
    // has no `GET /`.)
    try {
      await client.cluster.health();
    } catch (error) {
      throw elasticsearchFailure(error, `cannot reach Elasticsearch at ${where}`);
    }
    const definitions: Record<typeof stage, () => StageDefinition> = {
      'sink-elasticsearch': () =>
        createElasticsearchStage({ naming, namespace: config.namespace, client }),
      'sink-metrics': () => createMetricsSinkStage({ naming, client, admin }),
      'sink-alerts': () => createAlertsSinkStage({ naming, client }),
    };
    const through = this.#throughDefinition(definitions[stage]());
    if (stage !== 'sink-elasticsearch') return through;

    return {
      async redrive(records, context) {
        // Create-by-id finds a stored document in the write index only: a dead letter re-driven
        // again (--again) after the stream rolled over would be stored twice without this look.
        let stored: Set<StageRecord>;
        try {
          stored = await storedDocuments(client, naming, records);
        } catch (error) {
          throw elasticsearchFailure(error, `cannot look up stored documents at ${where}`);
        }
        return through.redrive(
          records.filter((record) => !stored.has(record)),
          context,
        );
      },
    };
  }

  async #webhookRedriver(destinationName: string | undefined): Promise<Redriver> {
    const definitions = await (this.#webhookStages ??= this.#openWebhookStages());
    if (destinationName === undefined) {
      return {
        async redrive(records, context) {
          const failed: RedriveResult['failed'] = [];
          for (const definition of definitions) {
            const outcome = await definition.handleBatch(records, context);
            for (const deadLetter of outcome.deadLetters) {
              failed.push({ deadLetter, stage: definition.name });
            }
          }
          return { messages: [], failed };
        },
      };
    }

    const definition = definitions.find(
      (candidate) => candidate.name === webhookStageName(destinationName),
    );
    if (definition === undefined) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `destination "${destinationName}" is no longer in ${this.#clients.config.alertDestinationsFile ?? 'the destinations file'}`,
      );
    }
    return this.#throughDefinition(definition);
  }

  /**
   * One stage per configured destination, as the live sink runs them: the first dead-letters what
   * no destination can take, each reads its own entries of the delivery ledger.
   */
  async #openWebhookStages(): Promise<StageDefinition[]> {
    const { config, naming, kafka, admin } = this.#clients;
    if (config.alertDestinationsFile === undefined) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        'no alert destinations file is configured (PANACEA_ALERT_DESTINATIONS)',
      );
    }
    const { destinations } = loadDestinationsFile(config.alertDestinationsFile);

    await ensureLedgerTopic(admin, naming.alertDeliveriesTopic());
    const producer: Producer = createDurableProducer(kafka);
    await producer.connect();
    this.#closers.push(() => producer.disconnect());
    const knownDestinations = new Set(destinations.map((destination) => destination.name));
    const definitions: StageDefinition[] = [];
    for (const [index, destination] of destinations.entries()) {
      const ledger = new DeliveryLedger({
        kafka,
        brokers: config.kafkaBrokers,
        topic: naming.alertDeliveriesTopic(),
        destination: destination.name,
        groupId: `${config.topicPrefix}panacea.alert-deliveries.${randomUUID()}`,
        producer,
        logger: componentLogger('dlq.redrive.webhooks'),
      });
      this.#closers.push(() => ledger.close());
      await ledger.open();
      definitions.push(
        createDestinationStage({
          naming,
          destination,
          ledger,
          refusesForAll: index === 0,
          knownDestinations,
        }),
      );
    }
    return definitions;
  }

  #throughDefinition(definition: StageDefinition): Redriver {
    return {
      async redrive(records, context) {
        const outcome = await definition.handleBatch(records, context);
        return {
          messages: [],
          failed: outcome.deadLetters.map((deadLetter) => ({ deadLetter, stage: definition.name })),
        };
      },
    };
  }

  #elasticsearchClient(): Client {
    return this.#opened.elasticsearch(this.#clients.config);
  }
}
