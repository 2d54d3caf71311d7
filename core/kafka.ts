/**
 * The one place that builds Kafka clients, so every client gets the same brokers, client id,
 * retry policy and a logger that writes kafkajs's own messages as structured pino lines.
 */
import { Kafka, logLevel, Partitioners, type LogEntry, type Producer } from 'kafkajs';

import type { PanaceaConfig } from './config.js';
import { componentLogger } from './logger.js';

const kafkaLogger = componentLogger('kafkajs');

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

function logEntry({ namespace, level, log }: LogEntry): void {
  const { message, ...fields } = log;
  kafkaLogger[LEVEL_NAMES[level] ?? 'info']({ namespace, ...fields }, message);
}

export function createKafka(config: Pick<PanaceaConfig, 'kafkaBrokers'>, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: config.kafkaBrokers,
    // kafkajs logs a coordinator hiccup at ERROR although it retries it; WARN keeps real trouble.
    logLevel: logLevel.WARN,
    logCreator: () => logEntry,
    connectionTimeout: 5_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 10_000 },
  });
}

/**
 * A producer whose sends the callers make with acks from every in-sync replica: a send that
 * resolves is durable, which is what lets a stage commit its input offsets after it. It is not
 * kafkajs's idempotent producer: that one needs unlimited retries (a send would hang forever on a
 * dead broker), and a retried duplicate is harmless here because every sink dedupes by event id.
 * One request in flight keeps each partition's records in order across retries.
 */
export function createDurableProducer(kafka: Kafka): Producer {
  return kafka.producer({
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
}
