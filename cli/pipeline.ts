/**
 * Composes the stages into one running pipeline (the embedded default of `panacea run`): creates
 * topics and index templates, starts enrichment, the Elasticsearch sink, the metrics stage and
 * its Elasticsearch sink, the audit archive and, when alert destinations are configured, the
 * webhook sink, and stops them in order on request.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@elastic/elasticsearch';

import type { PanaceaConfig } from '../core/config.js';
import { totalLag } from '../core/consumer-progress.js';
import { elasticsearchConnection, printableUrl } from '../core/elasticsearch-access.js';
import {
  type Admin,
  connectKafkaAdmin,
  createDurableProducer,
  createKafka,
  type Producer,
} from '../core/kafka.js';
import { componentLogger } from '../core/logger.js';
import { createNaming, type Naming } from '../core/naming.js';
import { startStage, type RunningStage } from '../core/stage-runner.js';
import { readCapabilities } from '../infra/elasticsearch/capabilities.js';
import { elasticsearchFailure } from '../infra/elasticsearch/request-errors.js';
import { startRetentionSchedule } from '../infra/elasticsearch/retention.js';
import {
  mechanismOf,
  retentionTargetsFor,
  setupElasticsearch,
  type SetupReport,
} from '../infra/elasticsearch/setup.js';
import { ensureTopics } from '../infra/topics.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../processors/enrich/agent-registry/kafka-agent-registry.js';
import { createEnrichStage } from '../processors/enrich/enrich-stage.js';
import { startMetricsStage } from '../processors/metrics/metrics-stage.js';
import { startAlertsStage } from '../processors/alerts/alerts-stage.js';
import { loadAlertRules } from '../processors/alerts/rules-file.js';
import { openSilenceStore, type SilenceStore } from '../processors/alerts/silences.js';
import { loadRedactionRules } from '../processors/enrich/redaction-rules-file.js';
import { openSchemaCodec } from '../schemas/codec.js';
import { openSchemaRegistry } from '../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../schemas/registry/schema-registry.js';
import {
  auditArchiveRoot,
  startAuditArchiveStage,
} from '../sinks/audit-archive/audit-archive-stage.js';
import {
  createElasticsearchStage,
  ELASTICSEARCH_STAGE_MAX_BYTES_PER_PARTITION,
} from '../sinks/elasticsearch/elasticsearch-stage.js';
import { createMetricsSinkStage } from '../sinks/elasticsearch/metrics-sink-stage.js';
import { createAlertsSinkStage } from '../sinks/elasticsearch/alerts-sink-stage.js';
import { loadDestinationsFile } from '../sinks/webhooks/destinations-file.js';
import { startWebhookSink } from '../sinks/webhooks/webhook-stage.js';

const logger = componentLogger('pipeline');

export interface RunningPipeline {
  naming: Naming;
  stages: RunningStage[];
  /** The pipeline's own clients, for its health checks and lag metrics; closed by `stop`. */
  admin: Admin;
  elasticsearch: Client;
  /** Rejects when a stage fails for good. */
  failed: Promise<never>;
  /** Resolves once every input partition of every stage is consumed and committed. */
  waitUntilIdle(pollIntervalMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `panacea es setup` before the pipeline starts (unless `PANACEA_ES_SETUP=false`), and Panacea's
 * retention enforcement for what Elasticsearch does not expire itself.
 */
export async function prepareElasticsearch(
  client: Client,
  config: PanaceaConfig,
): Promise<{ stop(): Promise<void> }> {
  try {
    const capabilities = await readCapabilities(client);
    for (const degradation of capabilities.degradations) {
      logger.warn(
        { elasticsearchVersion: capabilities.version, degradation },
        'Elasticsearch lacks a feature; working around it',
      );
    }
    if (config.elasticsearchSetupOnStart) {
      const report = await setupElasticsearch(client, {
        namespace: config.namespace,
        retention: config.retention,
        capabilities,
      });
      logger.info(summariseSetup(report), 'Elasticsearch set up');
    }

    const mechanism = mechanismOf(capabilities);
    const intervalMs = config.retention.enforcementIntervalMs;
    if (intervalMs === undefined) {
      // Asked for in so many words, so not a warning; `es status` shows it too.
      logger.info(
        { mechanism },
        'retention enforcement by Panacea is off (PANACEA_RETENTION_INTERVAL=off)',
      );
      return { stop: async () => undefined };
    }
    const targets = retentionTargetsFor(config.namespace, config.retention, mechanism);
    return startRetentionSchedule(client, targets, intervalMs, componentLogger('retention'));
  } catch (error) {
    throw elasticsearchFailure(
      error,
      `cannot set up Elasticsearch at ${printableUrl(config.elasticsearchUrl)}`,
    );
  }
}

/** The setup report as log fields: only what changed, and the retention mechanism. */
export function summariseSetup(report: SetupReport): Record<string, unknown> {
  return {
    mechanism: report.mechanism,
    changedTemplates: report.templates
      .filter((template) => template.change !== 'unchanged')
      .map((template) => `${template.name} ${template.change}`),
    rolledOver: report.dataStreams
      .filter((stream) => stream.rolledOver)
      .map((stream) => stream.name),
  };
}

export function createElasticsearchClient(config: PanaceaConfig): Client {
  // Below the consumer group's 15 s session timeout: a request that hangs must fail (and be
  // retried with a heartbeat) before the group gives this instance up.
  return new Client({ ...elasticsearchConnection(config), maxRetries: 0, requestTimeout: 10_000 });
}

export async function startPipeline(config: PanaceaConfig): Promise<RunningPipeline> {
  const naming = createNaming(config);
  const kafka = createKafka(config, 'panacea-pipeline');
  const admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
  const elasticsearch = createElasticsearchClient(config);
  const producers: Producer[] = [createDurableProducer(kafka), createDurableProducer(kafka)];
  const stages: RunningStage[] = [];
  let registry: SchemaRegistry | undefined;
  let agentRegistry: AgentRegistry | undefined;
  let silences: SilenceStore | undefined;
  let retention: { stop(): Promise<void> } | undefined;
  // Everything opened so far is closed again when start-up fails half-way, so a caller in the
  // same process (tests, the bench) is not left with stages consuming in the background.
  const release = async (): Promise<void> => {
    await retention?.stop();
    await Promise.allSettled(stages.map((stage) => stage.stop()));
    await Promise.allSettled(producers.map((producer) => producer.disconnect()));
    await Promise.allSettled([
      admin.disconnect(),
      elasticsearch.close(),
      registry?.close(),
      agentRegistry?.close(),
      silences?.close(),
    ]);
  };

  try {
    // Before anything connects: a bad rules file is a configuration error, reported first.
    const redactionRules = loadRedactionRules(config.redactionRulesFile);
    const alertRules =
      config.alertRulesFile === undefined ? undefined : loadAlertRules(config.alertRulesFile);
    const alertDestinations =
      config.alertDestinationsFile === undefined
        ? undefined
        : loadDestinationsFile(config.alertDestinationsFile);
    const created = await ensureTopics(admin, naming);
    if (created.length > 0) logger.info({ topics: created }, 'created topics');
    retention = await prepareElasticsearch(elasticsearch, config);
    await Promise.all(producers.map((producer) => producer.connect()));
    const [enrichedProducer, deadLetterProducer] = producers as [Producer, Producer];
    registry = await openSchemaRegistry(config, kafka);
    const codec = await openSchemaCodec(registry);
    logger.info(
      { registry: registry.description, writerIds: codec.writerIds },
      'schemas registered',
    );
    // Read to its end before any stage starts, so the first events already see every entry.
    agentRegistry = await openAgentRegistry({
      kafka,
      brokers: config.kafkaBrokers,
      topic: naming.agentRegistryTopic(),
      groupPrefix: config.topicPrefix,
      logger: componentLogger('agent-registry'),
    });
    logger.info(
      { topic: naming.agentRegistryTopic(), agents: agentRegistry.list().length },
      'agent registry read',
    );

    // Upstream first: the idle check relies on this order (see consumer-progress.ts).
    const runnerOptions = { kafka, naming, deadLetterProducer };
    const enrich = createEnrichStage({
      naming,
      producer: enrichedProducer,
      codec,
      redactionRules,
      agentRegistry,
    });
    stages.push(
      await startStage(enrich, runnerOptions),
      await startStage(
        createElasticsearchStage({ naming, namespace: config.namespace, client: elasticsearch }),
        { ...runnerOptions, maxBytesPerPartition: ELASTICSEARCH_STAGE_MAX_BYTES_PER_PARTITION },
      ),
      // Its own loop: one Kafka transaction per batch instead of a commit after the write.
      await startMetricsStage({ kafka, admin, naming, settings: config.metrics }),
      await startStage(
        createMetricsSinkStage({ naming, client: elasticsearch, admin }),
        runnerOptions,
      ),
      // Its own loop: offsets are committed once the segment holding them is sealed.
      await startAuditArchiveStage({
        kafka,
        naming,
        root: auditArchiveRoot(config.dataDir),
        settings: config.archive,
        codec,
        deadLetterProducer,
      }),
    );
    if (alertRules !== undefined) {
      silences = await openSilenceStore({
        kafka,
        brokers: config.kafkaBrokers,
        topic: naming.silencesTopic(),
        groupPrefix: config.topicPrefix,
        logger: componentLogger('silences'),
      });
      stages.push(
        // Its own loop: one Kafka transaction holds notifications, state and input offsets.
        await startAlertsStage({ kafka, admin, naming, rules: alertRules, silences }),
        await startStage(createAlertsSinkStage({ naming, client: elasticsearch }), runnerOptions),
      );
    }
    // One stage per destination, only when a destinations file is configured.
    if (alertDestinations !== undefined) {
      const webhookStages = await startWebhookSink({
        kafka,
        admin,
        brokers: config.kafkaBrokers,
        naming,
        groupPrefix: config.topicPrefix,
        destinations: alertDestinations.destinations,
        deadLetterProducer,
      });
      stages.push(...webhookStages);
    }
  } catch (error) {
    await release();
    throw error;
  }
  logger.info(
    {
      stages: stages.map((stage) => stage.name),
      namespace: config.namespace,
      dataDir: config.dataDir,
    },
    'pipeline started',
  );

  const failed = Promise.race(
    stages.map((stage) => stage.finished.then(() => new Promise<never>(() => undefined))),
  );
  // Observed by whoever runs the pipeline; this guard only keeps a late failure, after the runner
  // stopped listening, from ending the process as an unhandled rejection.
  failed.catch(() => undefined);
  let stopping: Promise<void> | undefined;

  return {
    naming,
    stages,
    admin,
    elasticsearch,
    failed,
    async waitUntilIdle(pollIntervalMs = 500) {
      const groups = stages.map((stage) => ({
        groupId: stage.groupId,
        topics: stage.inputTopics,
        consumedPositions: stage.consumedPositions?.bind(stage),
      }));
      // Two idle readings in a row: a commit and the publish it follows cannot both fall between them.
      let idleReadings = 0;
      while (idleReadings < 2) {
        await sleep(pollIntervalMs);
        idleReadings = (await totalLag(admin, groups)) === 0n ? idleReadings + 1 : 0;
      }
    },
    stop() {
      stopping ??= (async () => {
        // Each stage commits only what it finished, so they can stop side by side: input a
        // downstream stage did not commit is read again on the next start.
        await release();
        logger.info({}, 'pipeline stopped');
      })();
      return stopping;
    },
  };
}
