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
 * An idempotent producer that waits for every in-sync replica: a send that resolves is durable,
 * which is what lets a stage commit its input offsets after it.
 */
export function createDurableProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
}
