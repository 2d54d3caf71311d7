/**
 * A table kept in a compacted, single-partition Kafka topic, read by every process that needs it:
 * the embedded schema registry and the agent registry.
 *
 * Each reader tails the topic with a consumer group of its own (nobody else joins it and it
 * commits nothing, so every start reads the whole compacted topic) and hands each record to
 * `apply`. `catchUp()` waits until every record written before the call has been applied, which is
 * how a reader answers with the newest state: the table is read to its end before it is used, and
 * again whenever a caller needs what another process has just written.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { messageOf, PanaceaError, type ErrorCode } from './errors.js';
import {
  type Admin,
  connectKafkaAdmin,
  type Consumer,
  createTopicsServed,
  type Kafka,
} from './kafka.js';
import type { Logger } from './logger.js';

export interface CompactedRecord {
  key: Buffer | null;
  /** Null for a tombstone: the key's entry is removed. */
  value: Buffer | null;
  offset: string;
}

/** What a table kept in a compacted topic (the schema and agent registries) is opened with. */
export interface CompactedTableOptions {
  kafka: Kafka;
  brokers: string[];
  topic: string;
  /** Prefix of the table reader's own consumer group, like every group of this pipeline. */
  groupPrefix: string;
  logger: Logger;
  /** How long reading the topic to its end may take before the table counts as unavailable. */
  catchUpTimeoutMs?: number;
}

export const DEFAULT_CATCH_UP_TIMEOUT_MS = 30_000;

export interface CompactedTopicOptions {
  kafka: Kafka;
  brokers: string[];
  topic: string;
  /** The reader's private consumer group: unique per process (a random suffix). */
  groupId: string;
  logger: Logger;
  /** How long `catchUp` may wait for the topic's end before the table counts as unavailable. */
  catchUpTimeoutMs: number;
  /** The retriable code of the errors this reader throws, e.g. `SCHEMA_REGISTRY_UNAVAILABLE`. */
  unavailableCode: ErrorCode;
  /** What the table is called in error messages, e.g. `the schema registry`. */
  label: string;
  /** Applies one record to the table, in topic order. */
  apply(record: CompactedRecord): void;
}

export class CompactedTopicReader {
  readonly #options: CompactedTopicOptions;
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;
  /** The offset after the last record applied. */
  #nextOffset = 0n;
  readonly #waiters = new Set<() => void>();
  #consumerFailure: Error | undefined;

  constructor(options: CompactedTopicOptions) {
    this.#options = options;
  }

  /** Creates the topic if needed, starts tailing it, and returns once it is read to its end. */
  async start(): Promise<void> {
    const { kafka, brokers, topic, groupId } = this.#options;
    this.#admin = await connectKafkaAdmin(kafka, brokers);
    await ensureCompactedTopic(this.#admin, topic);
    this.#consumer = kafka.consumer({ groupId, sessionTimeout: 15_000, maxWaitTimeInMs: 250 });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic, fromBeginning: true });
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts the consumer after a retriable crash (a coordinator still loading on a
      // broker that has just started); only a crash it gives up on stops the reader.
      if (payload.restart) return;
      this.#consumerFailure = payload.error;
      this.#wakeWaiters();
    });
    await this.#consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        this.#options.apply({ key: message.key, value: message.value, offset: message.offset });
        this.#nextOffset = BigInt(message.offset) + 1n;
        this.#wakeWaiters();
      },
    });
    await this.catchUp();
  }

  /** Waits until every record written before this call has been applied. */
  async catchUp(): Promise<void> {
    const { topic, catchUpTimeoutMs, label } = this.#options;
    const admin = this.#admin;
    if (admin === undefined) throw this.#unavailable(`${label} is closed`);
    let endOffset: bigint;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      endOffset = BigInt(offsets[0]?.high ?? '0');
    } catch (error) {
      throw this.#unavailable(
        `cannot read the end of ${label}'s topic ${topic}: ${messageOf(error)}`,
        error,
      );
    }
    const deadline = Date.now() + catchUpTimeoutMs;

    while (this.#nextOffset < endOffset) {
      if (this.#consumerFailure !== undefined) {
        throw this.#unavailable(
          `${label}'s reader stopped: ${this.#consumerFailure.message}`,
          this.#consumerFailure,
        );
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw this.#unavailable(
          `${label}'s topic ${topic} was not read to its end (offset ${endOffset}) within ${catchUpTimeoutMs} ms; at ${this.#nextOffset}`,
        );
      }
      await this.#nextRecordOrTimeout(Math.min(remainingMs, 1_000));
    }
  }

  async close(): Promise<void> {
    const clients = [this.#consumer, this.#admin];
    this.#consumer = undefined;
    this.#admin = undefined;
    this.#wakeWaiters();
    await Promise.allSettled(clients.map((client) => client?.disconnect()));
  }

  #unavailable(message: string, cause?: unknown): PanaceaError {
    return new PanaceaError(
      this.#options.unavailableCode,
      message,
      { topic: this.#options.topic },
      cause,
    );
  }

  async #nextRecordOrTimeout(timeoutMs: number): Promise<void> {
    const controller = new AbortController();
    await Promise.race([
      new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        controller.signal.addEventListener('abort', wake);
      }),
      delay(timeoutMs, undefined, { signal: controller.signal }).catch(() => undefined),
    ]).finally(() => controller.abort());
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** Creates a compacted single-partition topic unless it exists; a concurrent creator is fine. */
export async function ensureCompactedTopic(admin: Admin, topic: string): Promise<void> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return;
  await createTopicsServed(admin, [
    { topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ]);
}
