/**
 * Tails the compacted checkpoint topic of a stateful stage (metrics, alerts) and keeps the latest
 * checkpoint under each key, so that input moving in can be restored to the state its committed
 * offset stands on.
 *
 * It reads with a consumer group of its own that commits nothing (kafkajs has no manual partition
 * assignment), read_committed: a checkpoint of an aborted or fenced transaction is never seen.
 * `catchUp` waits until the reader has passed the topic's current end. The end is taken after the
 * caller fenced the partition's previous writer, so the previous owner's last transaction is
 * committed or aborted by then and the end covers it. Progress is followed through kafkajs's
 * END_BATCH_PROCESS event, which also reports batches holding only transaction markers (the last
 * thing in this topic is always one).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { PanaceaError } from './errors.js';
import type { Admin, Consumer, Kafka } from './kafka.js';

export interface CheckpointReaderOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  /** Prefix of the reader's own consumer group. */
  groupIdPrefix: string;
  /** Longest wait for `catchUp`. Default 60 000 ms. */
  catchUpTimeoutMs?: number;
}

const POLL_INTERVAL_MS = 50;

export class CheckpointReader {
  readonly #options: Required<CheckpointReaderOptions>;
  readonly #consumer: Consumer;
  /** Latest value per key; null for a tombstone. */
  readonly #latest = new Map<string, Buffer | null>();
  /** Next offset to read, per partition of the topic. */
  readonly #positions = new Map<number, bigint>();
  #failure: Error | undefined;

  constructor(options: CheckpointReaderOptions) {
    this.#options = { catchUpTimeoutMs: 60_000, ...options };
    this.#consumer = options.kafka.consumer({
      groupId: `${options.groupIdPrefix}-${randomBytes(6).toString('hex')}`,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    });
  }

  async start(): Promise<void> {
    const consumer = this.#consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.#positions.set(payload.partition, BigInt(payload.lastOffset) + 1n);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.#failure = payload.error;
    });

    await consumer.connect();
    await consumer.subscribe({ topic: this.#options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (message.key !== null) this.#latest.set(message.key.toString(), message.value);
        }
      },
    });
  }

  /**
   * Once caught up, a lookup of the latest value under a key (undefined when there is none or it
   * was deleted). Looked up synchronously, several keys read the same moment of the topic.
   */
  async caughtUp(): Promise<(key: string) => Buffer | undefined> {
    await this.#catchUp();
    return (key) => this.#latest.get(key) ?? undefined;
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }

  async #catchUp(): Promise<void> {
    const ends = await this.#options.admin.fetchTopicOffsets(this.#options.topic);
    const deadlineMs = Date.now() + this.#options.catchUpTimeoutMs;

    for (;;) {
      if (this.#failure !== undefined) {
        throw new PanaceaError(
          'KAFKA_UNAVAILABLE',
          `the checkpoint reader of ${this.#options.topic} stopped: ${this.#failure.message}`,
          { topic: this.#options.topic },
          this.#failure,
        );
      }
      const behind = ends.filter(
        ({ partition, high, low }) =>
          BigInt(high) > BigInt(low) && (this.#positions.get(partition) ?? 0n) < BigInt(high),
      );
      if (behind.length === 0) return;
      if (Date.now() > deadlineMs) {
        throw new PanaceaError(
          'KAFKA_UNAVAILABLE',
          `the checkpoint topic ${this.#options.topic} was not read to its end within ` +
            `${this.#options.catchUpTimeoutMs} ms`,
          { topic: this.#options.topic },
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }
}
