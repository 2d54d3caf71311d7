/**
 * Where a replay writes. Into the sinks (the deployment's own, or the same sinks under another
 * Elasticsearch namespace) a record goes through the code of the stage that consumes its topic
 * live, in this process: the same document ids and versions, so replaying what is already stored
 * adds nothing (a 409 on create counts as a duplicate). Into a topic, records are copied byte for
 * byte with their keys, headers and timestamps.
 *
 * By topic, into the sinks:
 * - a raw topic: enriched as the enrich stage does, then written as the Elasticsearch sink does;
 *   nothing is published to the enriched topic, so the live metrics and alerts stages never see
 *   a replayed event twice;
 * - the enriched topic: the Elasticsearch sink, and the metrics windows recomputed from every
 *   record of the range (sinks/elasticsearch/metrics-recompute.ts says which windows are exact);
 * - the metrics topic: the metrics sink;
 * - the alerts and silences topics: the alerts sink.
 * Records a stage refuses go to the dead-letter topic of their source, as live, marked with the
 * replay that sent them.
 */
import type { Client } from '@elastic/elasticsearch';

import { withDeadline } from '../../core/deadline.js';
import { deadLetterTopicMessages, type DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import { type Admin, type Message, type Producer, sendDurably } from '../../core/kafka.js';
import { createNaming, kindOfRawTopic, type Naming } from '../../core/naming.js';
import type { BatchContext, StageDefinition, StageRecord } from '../../core/stage-runner.js';
import type { PanaceaConfig } from '../../core/config.js';
import {
  createEnricher,
  ENRICH_STAGE,
  type Enricher,
} from '../../processors/enrich/enrich-stage.js';
import type { RedactionRule } from '../../processors/enrich/redaction.js';
import type { AgentRegistry } from '../../processors/enrich/agent-registry/kafka-agent-registry.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { createAlertsSinkStage } from '../../sinks/elasticsearch/alerts-sink-stage.js';
import { createElasticsearchStage } from '../../sinks/elasticsearch/elasticsearch-stage.js';
import {
  createMetricsRecomputation,
  type MetricsRecomputationResult,
} from '../../sinks/elasticsearch/metrics-recompute.js';
import { createMetricsSinkStage } from '../../sinks/elasticsearch/metrics-sink-stage.js';
import { storedDocuments } from '../../sinks/elasticsearch/stored-documents.js';
import type { ReplayInto } from './replay-request.js';

/** How long one batch may take to write, retries included, before a replay gives up on it. */
export const BATCH_WRITE_TIMEOUT_MS = 120_000;

/** A dead letter a replay sends carries this header, with the replay's id. */
export const REPLAY_HEADER = 'panacea.replay.id';

export interface TargetWrite {
  /** Records stored by the target (for the sinks: indexed, or already there). */
  written: number;
  deadLettered: number;
}

export interface ReplayTarget {
  description: string;
  /** Writes one batch of one topic's records; resolves once they are durable or dead-lettered. */
  write(records: StageRecord[], context: BatchContext): Promise<TargetWrite>;
  /** Documents Elasticsearch already held, over all writes (a replay of what is stored). */
  duplicates(): number;
  /**
   * For the enriched topic into the sinks: sees every record of the offset range (filters and
   * time bounds not applied) to recompute the metrics windows, which need all their events.
   */
  observeRange?(records: StageRecord[]): Promise<void>;
  /** Writes what the target still holds (recomputed windows) and says what it did. */
  finish?(): Promise<MetricsRecomputationResult>;
}

export interface ReplayTargetOptions {
  config: PanaceaConfig;
  naming: Naming;
  into: ReplayInto;
  client: Client;
  admin: Admin;
  producer: Producer;
  codec: SchemaCodec;
  redactionRules: readonly RedactionRule[];
  agentRegistry?: Pick<AgentRegistry, 'profile' | 'catchUp'>;
  replayId: string;
  /**
   * Whether a replay of the enriched topic recomputes the metrics windows: only when every
   * record of the range is replayed (no filter), since a window counts all of its events.
   */
  recomputeMetrics: boolean;
  signal?: AbortSignal;
}

/**
 * Writes a batch, giving up after BATCH_WRITE_TIMEOUT_MS. The sinks retry a target that refuses or
 * does not answer for as long as it takes; a replay, which a person waits for, ends instead and
 * says why. A stop request (`context.signal`) still ends the write with STAGE_STOPPED.
 */
export async function writeWithinTimeout(
  target: ReplayTarget,
  records: StageRecord[],
  context: BatchContext,
  where: string,
): Promise<TargetWrite> {
  return withDeadline(
    context.signal,
    BATCH_WRITE_TIMEOUT_MS,
    (signal) => target.write(records, { ...context, signal }),
    (error) =>
      new PanaceaError(
        'ELASTICSEARCH_UNAVAILABLE',
        `a batch of ${records.length} records from ${where} could not be written in ${BATCH_WRITE_TIMEOUT_MS / 1_000} s: the target kept refusing or did not answer (see the log)`,
        {},
        error,
      ),
  );
}

/** The topics a replay into the sinks knows how to route, for checks and error messages. */
/** Refuses, before anything is read, a topic no sink consumes when the target is the sinks. */
export function checkSinkTopic(naming: Naming, into: ReplayInto, topic: string): void {
  if (into.kind !== 'topic' && !sinkTopics(naming).includes(topic)) throw noSinkFor(naming, topic);
}

function noSinkFor(naming: Naming, topic: string): PanaceaError {
  return new PanaceaError(
    'USAGE',
    `--topic ${topic}: no sink consumes this topic; into the sinks a replay takes ${sinkTopics(naming).join(', ')} (or use --into topic:NAME to copy any topic)`,
    { topic },
  );
}

export function sinkTopics(naming: Naming): string[] {
  return [
    ...naming.rawTopics(),
    naming.enrichedTopic(),
    naming.metricsTopic(),
    naming.alertsTopic(),
    naming.silencesTopic(),
  ];
}

export function createReplayTarget(options: ReplayTargetOptions, topic: string): ReplayTarget {
  if (options.into.kind === 'topic') return topicTarget(options, options.into.topic);
  // The sinks of another namespace: same topics, other Elasticsearch names.
  const naming =
    options.into.kind === 'elasticsearch'
      ? createNaming({ topicPrefix: options.config.topicPrefix, namespace: options.into.namespace })
      : options.naming;
  const namespace =
    options.into.kind === 'elasticsearch' ? options.into.namespace : options.config.namespace;
  const sinkOptions = { ...options, naming, namespace };

  if (kindOfRawTopic(naming, topic) !== undefined) return rawTopicTarget(sinkOptions);
  if (topic === naming.enrichedTopic()) {
    const events = eventsTarget(sinkOptions);
    if (!options.recomputeMetrics) return events;
    const metrics = createMetricsRecomputation({
      client: options.client,
      admin: options.admin,
      naming,
      settings: options.config.metrics,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return {
      ...events,
      description: `${events.description} and the metrics windows`,
      observeRange: (records) => metrics.add(records),
      finish: () => metrics.finish(),
    };
  }
  if (topic === naming.metricsTopic()) {
    return stageTarget(
      sinkOptions,
      createMetricsSinkStage({ naming, client: options.client, admin: options.admin }),
    );
  }
  if (topic === naming.alertsTopic() || topic === naming.silencesTopic()) {
    return stageTarget(sinkOptions, createAlertsSinkStage({ naming, client: options.client }));
  }
  throw noSinkFor(naming, topic);
}

type SinkOptions = ReplayTargetOptions & { naming: Naming; namespace: string };

/** A sink stage's own batch handling, as its live consumer would call it. */
function stageTarget(options: SinkOptions, stage: StageDefinition): ReplayTarget {
  return {
    description: `${stage.name} (${JSON.stringify(stage.summary)})`,
    async write(records, context) {
      const outcome = await stage.handleBatch(records, context);
      await publishDeadLetters(options, stage.name, outcome.deadLetters);
      return {
        written: records.length - outcome.deadLetters.length,
        deadLettered: outcome.deadLetters.length,
      };
    },
    duplicates: () => stage.writerStats?.().duplicates ?? 0,
  };
}

/**
 * Enriched documents into their data streams, by the Elasticsearch sink's code, leaving out first
 * the ones their data stream already holds in any backing index (see stored-documents.ts).
 */
function eventsTarget(options: SinkOptions): ReplayTarget {
  const sink = stageTarget(
    options,
    createElasticsearchStage({
      naming: options.naming,
      namespace: options.namespace,
      client: options.client,
    }),
  );
  let foundStored = 0;
  return {
    ...sink,
    async write(records, context) {
      const stored = await storedDocuments(options.client, options.naming, records);
      const fresh = records.filter((record) => !stored.has(record));
      foundStored += records.length - fresh.length;
      const written = await sink.write(fresh, context);
      return { ...written, written: written.written + records.length - fresh.length };
    },
    duplicates: () => sink.duplicates() + foundStored,
  };
}

/**
 * Raw records: enriched in this process, then written by the Elasticsearch sink. A record the
 * sink refuses is dead-lettered from its raw position, so its dead letter names the record that
 * was replayed; its value is the enriched document the sink refused.
 */
function rawTopicTarget(options: SinkOptions): ReplayTarget {
  const enricher: Enricher = createEnricher({
    naming: options.naming,
    codec: options.codec,
    redactionRules: options.redactionRules,
    agentRegistry: options.agentRegistry,
  });
  const sink = eventsTarget(options);
  return {
    description: `${ENRICH_STAGE} then ${sink.description}`,
    async write(records, context) {
      await options.agentRegistry?.catchUp();
      const enriched = await enricher.enrich(records, Date.now());
      await publishDeadLetters(options, ENRICH_STAGE, enriched.deadLetters);
      const documents: StageRecord[] = enriched.messages.map((message, index) => ({
        ...enriched.sources[index]!,
        value: message.value as Buffer,
      }));
      const written = await sink.write(documents, context);
      return {
        written: written.written,
        deadLettered: written.deadLettered + enriched.deadLetters.length,
      };
    },
    duplicates: sink.duplicates,
  };
}

function topicTarget(options: ReplayTargetOptions, topic: string): ReplayTarget {
  return {
    description: `topic ${topic}`,
    async write(records) {
      const messages: Message[] = records.map((record) => ({
        key: record.key,
        value: record.value,
        headers: record.headers,
        timestamp: String(record.timestampMs),
      }));
      await sendDurably(options.producer, [{ topic, messages }]);
      return { written: records.length, deadLettered: 0 };
    },
    duplicates: () => 0,
  };
}

async function publishDeadLetters(
  options: ReplayTargetOptions,
  stage: string,
  deadLetters: DeadLetter[],
): Promise<void> {
  if (deadLetters.length === 0) return;
  await sendDurably(
    options.producer,
    deadLetterTopicMessages(deadLetters, stage, options.naming.deadLetterTopic, Date.now(), {
      [REPLAY_HEADER]: options.replayId,
    }),
  );
}
