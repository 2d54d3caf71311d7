/**
 * The one place that builds Kafka clients, so every client gets the same brokers, client id,
 * retry policy and a logger that writes kafkajs's own messages as structured pino lines. It is
 * also the only module that imports the client library: the rest of the product takes the types
 * and the few values it needs from here, so a change of client is a change of this file.
 */
import kafkajsModule from 'kafkajs';
import {
  Kafka,
  type Admin,
  type ITopicConfig,
  logLevel,
  Partitioners,
  type LogEntry,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';

export { AssignerProtocol, Kafka, logLevel, Partitioners } from 'kafkajs';
export type {
  Admin,
  Batch,
  Consumer,
  EachBatchPayload,
  IHeaders,
  ITopicConfig,
  KafkaMessage,
  Message,
  PartitionAssigner,
  Producer,
  TopicMessages,
  Transaction,
} from 'kafkajs';
/** A compression codec of produced batches (kafkajs's enum). */
export type CompressionType = kafkajsModule.CompressionTypes;
// kafkajs is CommonJS, and Node's ESM loader finds only some of its enums as named exports.
export const { CompressionTypes, ConfigResourceTypes } = kafkajsModule;

import { setTimeout as sleep } from 'node:timers/promises';

import type { PanaceaConfig } from './config.js';
import { PanaceaError } from './errors.js';
import { componentLogger } from './logger.js';

const kafkaLogger = componentLogger('kafkajs');

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Broker answers that only say a moment of the broker's own life (a coordinator loading after a
 * start, a leader moving, a topic another process created first). kafkajs retries them, and what
 * it cannot recover from reaches our code as a thrown error, so they are debug lines, not noise on
 * every command run against a broker that has just started.
 */
const TRANSIENT_BROKER_ANSWERS = [
  'The coordinator is loading',
  'This is not the correct coordinator',
  'The coordinator is not available',
  'The group coordinator is not available',
  'There is no leader for this topic-partition',
  'Leader not available',
  'This server does not host this topic-partition',
  'This server is not the leader for that topic-partition',
  'Topic with this name already exists',
  'Topic creation errors',
  // A transaction begun right after the previous one's commit, while the broker still ends it.
  'another concurrent operation on the same transaction was ongoing',
  // kafkajs restarting a consumer after a retriable crash (the answers above); a crash it gives
  // up on reaches the consumer's owner as a CRASH event without a restart, and is logged there.
  'Restarting the consumer in',
];

export function isTransientBrokerAnswer(fields: Record<string, unknown>): boolean {
  const error = fields.error;
  return (
    typeof error === 'string' && TRANSIENT_BROKER_ANSWERS.some((answer) => error.includes(answer))
  );
}

function logEntry({ namespace, level, log }: LogEntry): void {
  const { message, ...fields } = log;
  if (message === KNOWN_HARMLESS_WARNING) return;
  // kafkajs's producer repeats the broker's answer in its own message ("Failed to send messages:
  // …") before retrying it.
  if (isTransientBrokerAnswer(fields) || isTransientBrokerAnswer({ error: message })) {
    kafkaLogger.debug({ namespace, ...fields }, message);
    return;
  }
  // kafkajs logs every error response of the broker at ERROR, although it retries the retriable
  // ones (a coordinator still loading, a leader moving). What it cannot recover from reaches our
  // code as a thrown error and is logged there, so its connection-level errors are warnings.
  const levelName =
    namespace === 'Connection' && level === logLevel.ERROR ? 'warn' : LEVEL_NAMES[level];
  kafkaLogger[levelName ?? 'info']({ namespace, ...fields }, message);
}

export interface KafkaClientOptions {
  /**
   * kafkajs's own log lines: WARN by default (its INFO level is per-connection chatter). The agent
   * SDK passes NOTHING: it logs each failed attempt itself, with kafkajs's error, and an agent
   * whose broker is away should not get several kafkajs lines per retry on its stderr.
   */
  kafkajsLogLevel?: logLevel;
}

export function createKafka(
  config: Pick<PanaceaConfig, 'kafkaBrokers'> &
    Partial<Pick<PanaceaConfig, 'kafkaTls' | 'kafkaSasl'>>,
  clientId: string,
  options: KafkaClientOptions = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers: config.kafkaBrokers,
    ...(config.kafkaTls === undefined ? {} : { ssl: config.kafkaTls }),
    ...(config.kafkaSasl === undefined ? {} : { sasl: config.kafkaSasl }),
    logLevel: options.kafkajsLogLevel ?? logLevel.WARN,
    logCreator: () => logEntry,
    connectionTimeout: 5_000,
    // About 15 s of retries in all: enough for a broker that is starting, short enough for a person
    // who gave a wrong address to get an answer.
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
}

/**
 * kafkajs warns that an idempotent producer with limited retries "may invalidate EoS guarantees".
 * We want limited retries (a send to a dead cluster must fail, not hang) and do not rely on
 * exactly-once: idempotence removes the duplicates of a retried request, and the sinks dedupe by
 * event id what a retry after an error could still repeat.
 */
const KNOWN_HARMLESS_WARNING =
  'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * An idempotent producer whose sends the callers make with acks from every in-sync replica: a
 * send that resolves is durable, which is what lets a stage commit its input offsets after it,
 * and a request the client retries (after a lost answer) is written once.
 */
export function createDurableProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
}

/**
 * The largest record the pipeline writes. A broker refuses a record batch above its
 * `message.max.bytes` (1 MiB by default), and kafkajs sends one batch per partition per request.
 */
export const MAX_RECORD_BYTES = 1_000_000;

/** Upper bound of the records sent in one request, so one partition's batch stays under 1 MiB. */
const MAX_REQUEST_BYTES = 900_000;

/** Bytes a message takes in a record batch, near enough to keep requests under the limit. */
export function messageBytes(message: Message): number {
  const headerBytes = Object.entries(message.headers ?? {}).reduce(
    (total, [name, value]) =>
      total + name.length + (value === undefined ? 0 : String(value).length),
    0,
  );
  return (message.key?.length ?? 0) + (message.value?.length ?? 0) + headerBytes + 64;
}

/**
 * Sends with acks from every in-sync replica, split into requests under MAX_REQUEST_BYTES: many
 * records of one agent land on one partition and would otherwise form a batch the broker refuses.
 * Takes a producer or a kafkajs transaction alike.
 */
export async function sendDurably(
  producer: Pick<Producer, 'sendBatch'>,
  topicMessages: TopicMessages[],
): Promise<void> {
  let request: TopicMessages[] = [];
  let requestBytes = 0;
  const flush = async (): Promise<void> => {
    if (request.length > 0) await producer.sendBatch({ acks: -1, topicMessages: request });
    request = [];
    requestBytes = 0;
  };

  for (const { topic, messages } of topicMessages) {
    for (const message of messages) {
      const bytes = messageBytes(message);
      if (requestBytes > 0 && requestBytes + bytes > MAX_REQUEST_BYTES) await flush();
      const last = request.at(-1);
      if (last?.topic === topic) last.messages.push(message);
      else request.push({ topic, messages: [message] });
      requestBytes += bytes;
    }
  }
  await flush();
}

/** An admin client, connected, or a KAFKA_UNAVAILABLE error that says what to check. */
export async function connectKafkaAdmin(kafka: Kafka, brokers: string[]): Promise<Admin> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return admin;
  } catch (error) {
    throw new PanaceaError(
      'KAFKA_UNAVAILABLE',
      `cannot reach Kafka at ${brokers.join(',')}: is it running? (\`panacea stack up\` starts one on this machine)`,
      {},
      error,
    );
  }
}

/**
 * Whether kafkajs's error, or one it wraps as `cause`, has one of these broker error types
 * (kafkajs wraps the last error of a retried request; a few levels are plenty).
 */
export function hasKafkaErrorType(error: unknown, types: ReadonlySet<string>): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && types.has(type)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const NOT_YET_SERVED = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
]);
const TOPIC_SERVED_TIMEOUT_MS = 30_000;
const TOPIC_SERVED_POLL_MS = 100;

/**
 * Creates topics and returns once the broker answers for every partition of them. kafkajs's
 * `waitForLeaders` waits for the metadata to name leaders, but on a busy broker (topics being
 * created or deleted meanwhile) that wait can itself fail with "does not host this
 * topic-partition" although the topics were created, and the leader may still answer so for a
 * moment after; a consumer joining right then takes it as a crash. Both are waited out here.
 * A concurrent creator of the same topics is fine.
 */
export async function createTopicsServed(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } catch (error) {
    if (!hasKafkaErrorType(error, NOT_YET_SERVED)) throw error;
  }
  const deadlineMs = Date.now() + TOPIC_SERVED_TIMEOUT_MS;
  for (const { topic } of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic);
        break;
      } catch (error) {
        if (!hasKafkaErrorType(error, NOT_YET_SERVED) || Date.now() > deadlineMs) throw error;
        await sleep(TOPIC_SERVED_POLL_MS);
      }
    }
  }
}
