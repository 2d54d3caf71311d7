/**
 * The publisher's connection to Kafka: connect (create missing topics, read the record batch
 * limit the raw topics allow, learn the schema writer ids from the registry, start an idempotent
 * producer) and send one batch with acks from every in-sync replica. It neither retries nor
 * waits: the publisher's delivery loop decides that.
 *
 * `KafkaLink` is what the publisher talks to. `createKafkaLink` is the kafkajs side of it, which
 * runs in the publisher's worker thread (kafka-worker.ts); worker-link.ts is the link the
 * publisher holds, which forwards to that thread.
 */

import {
  type Admin,
  type CompressionType,
  CompressionTypes,
  ConfigResourceTypes,
  createDurableProducer,
  createKafka,
  type Kafka,
  logLevel,
  type Message,
  type Producer,
  type TopicMessages,
} from '../../core/kafka.js';
import type { Naming } from '../../core/naming.js';
import { ensureTopics } from '../../infra/topics.js';
import { openWriterIds, type WriterIds } from './encoding.js';
import type { Compression } from './options.js';

/** What the link needs to know; a subset of the publisher's options. */
export interface LinkSettings {
  brokers: string[];
  clientId: string;
  topicPrefix: string;
  schemaRegistryUrl: string | undefined;
  /**
   * Whether to learn the writer ids from the registry at the first connect; false when the
   * caller encodes with an encoder of its own.
   */
  needsWriterIds: boolean;
  compression: Compression;
  createTopics: boolean;
  /** The record batch limit to use when the topics' own cannot be read. */
  fallbackMaxBatchBytes: number;
}

export interface BatchLimit {
  maxBatchBytes: number;
  /** Where the limit came from, for the log line at connect. */
  source: 'topic config' | 'option';
  /** Why the topic config could not be used, when it could not. */
  detail?: string;
}

export interface Connection {
  limit: BatchLimit;
  /** The ids to encode with; undefined when the settings asked for none. */
  writerIds: WriterIds | undefined;
}

export interface KafkaLink {
  /** Connects; resolves with the batch limit and the writer ids, or rejects with the cause. */
  connect(): Promise<Connection>;
  /**
   * Sends records, in order, as one request with acks -1; rejects with kafkajs's error. Calls may
   * overlap: batches go out one at a time in call order, and once one fails, those called before
   * its failure was reported fail too without being sent, so none overtakes it.
   */
  send(records: ReadonlyArray<{ topic: string; message: Message | undefined }>): Promise<void>;
  /** Closes every connection; never rejects. */
  disconnect(): Promise<void>;
  /** Times the link's worker thread stopped without being asked to; none for a link without. */
  readonly workerFailures?: number;
}

const COMPRESSION_TYPES: Record<Compression, CompressionType> = {
  gzip: CompressionTypes.GZIP,
  none: CompressionTypes.None,
};

/** The kafkajs side of the link, which also sends records already grouped by topic. */
export interface KafkaClientLink extends KafkaLink {
  /** Sends one request with acks -1; records of one topic in their order. */
  sendTopicMessages(topicMessages: TopicMessages[]): Promise<void>;
}

/**
 * The link on kafkajs, in the calling thread. Its sends must not overlap: the worker thread calls
 * them one at a time, which is what gives `KafkaLink.send` its order.
 */
export function createKafkaLink(settings: LinkSettings, naming: Naming): KafkaClientLink {
  let kafka: Kafka | undefined;
  let producer: Producer | undefined;
  let writerIds: WriterIds | undefined;
  const compression = COMPRESSION_TYPES[settings.compression];

  const disconnect = async (): Promise<void> => {
    const closing = producer;
    producer = undefined;
    await closing?.disconnect().catch(() => undefined);
  };

  return {
    async connect() {
      await disconnect();
      kafka ??= createKafka({ kafkaBrokers: settings.brokers }, settings.clientId, {
        kafkajsLogLevel: logLevel.NOTHING,
      });

      const admin = kafka.admin();
      let limit: BatchLimit;
      try {
        await admin.connect();
        if (settings.createTopics) await ensureTopics(admin, naming);
        limit = await readBatchLimit(admin, naming.rawTopics(), settings.fallbackMaxBatchBytes);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }

      if (settings.needsWriterIds) writerIds ??= await openWriterIds(kafka, settings);

      const connecting = createDurableProducer(kafka);
      try {
        await connecting.connect();
      } catch (error) {
        await connecting.disconnect().catch(() => undefined);
        throw error;
      }
      producer = connecting;
      return { limit, writerIds };
    },

    async send(records) {
      // Records of one topic stay in their order; kafkajs keeps the order within a partition.
      const topicMessages: TopicMessages[] = [];
      for (const { topic, message } of records) {
        if (message === undefined) throw new Error('a record was sent before it was encoded');
        const last = topicMessages.at(-1);
        if (last?.topic === topic) last.messages.push(message);
        else topicMessages.push({ topic, messages: [message] });
      }
      await this.sendTopicMessages(topicMessages);
    },

    async sendTopicMessages(topicMessages) {
      if (producer === undefined) throw new Error('the producer is not connected');
      await producer.sendBatch({ acks: -1, compression, topicMessages });
    },

    disconnect,
  };
}

/**
 * The smallest `max.message.bytes` of the raw topics: a batch under it is accepted by any of them.
 * A cluster that refuses DescribeConfigs (an ACL) leaves the option's value in force.
 */
async function readBatchLimit(
  admin: Admin,
  topics: string[],
  fallbackMaxBatchBytes: number,
): Promise<BatchLimit> {
  try {
    const response = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configNames: ['max.message.bytes'],
      })),
    });
    const values: number[] = [];
    for (const resource of response.resources) {
      const entry = resource.configEntries.find((item) => item.configName === 'max.message.bytes');
      const value = Number(entry?.configValue);
      if (resource.errorCode !== 0 || !Number.isInteger(value) || value <= 0) {
        return {
          maxBatchBytes: fallbackMaxBatchBytes,
          source: 'option',
          detail: `topic ${resource.resourceName}: ${resource.errorMessage || 'no max.message.bytes'}`,
        };
      }
      values.push(value);
    }
    if (values.length === 0) return { maxBatchBytes: fallbackMaxBatchBytes, source: 'option' };
    return { maxBatchBytes: Math.min(...values), source: 'topic config' };
  } catch (error) {
    return {
      maxBatchBytes: fallbackMaxBatchBytes,
      source: 'option',
      detail: error instanceof Error ? error.message : String(error),
    };
  }
}
