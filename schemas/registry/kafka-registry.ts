/**
 * The embedded schema registry: its subjects live in one compacted, single-partition Kafka topic
 * (`<prefix>panacea.schemas`), so every process that reaches the cluster shares the same ids and
 * no other server is needed.
 *
 * Each process tails the topic with a consumer of its own (a group nobody else joins, which
 * commits nothing) and keeps the state in memory (registry-log.ts). Before answering anything
 * that depends on the newest state it catches up to the topic's end, so an id written by another
 * process a moment ago is found.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type avro from 'avsc';
import type { Logger } from 'pino';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { connectKafkaAdmin, createDurableProducer, MAX_RECORD_BYTES } from '../../core/kafka.js';
import type { CompatibilityMode } from './compatibility.js';
import {
  parseRegistryRecord,
  registryRecordKey,
  RegistryLog,
  type RegistryRecord,
} from './registry-log.js';
import {
  assertCompatible,
  schemaText,
  type RegisteredSchema,
  type SchemaRegistry,
} from './schema-registry.js';

export interface KafkaRegistryOptions {
  kafka: Kafka;
  brokers: string[];
  topic: string;
  /** Prefix of the registry's own consumer group, like every group of this pipeline. */
  groupPrefix: string;
  logger: Logger;
  /** How long a read may wait for the topic's end before the registry counts as unavailable. */
  catchUpTimeoutMs?: number;
}

const DEFAULT_CATCH_UP_TIMEOUT_MS = 30_000;
/** Proposals lost to concurrent registrations before giving up; each loss means another won. */
const MAX_PROPOSALS = 10;

export async function openKafkaRegistry(options: KafkaRegistryOptions): Promise<SchemaRegistry> {
  const registry = new KafkaSchemaRegistry(options);
  await registry.start();
  return registry;
}

class KafkaSchemaRegistry implements SchemaRegistry {
  readonly description: string;
  private readonly log = new RegistryLog();
  private readonly options: Required<KafkaRegistryOptions>;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private consumer: Consumer | undefined;
  /** The offset after the last record applied to `log`. */
  private nextOffset = 0n;
  private readonly waiters = new Set<() => void>();
  private consumerFailure: Error | undefined;

  constructor(options: KafkaRegistryOptions) {
    this.options = { catchUpTimeoutMs: DEFAULT_CATCH_UP_TIMEOUT_MS, ...options };
    this.description = `embedded (Kafka topic ${options.topic})`;
  }

  async start(): Promise<void> {
    const { kafka, brokers, topic } = this.options;
    try {
      this.admin = await connectKafkaAdmin(kafka, brokers);
      await this.ensureTopic(this.admin, topic);
      this.producer = createDurableProducer(kafka);
      await this.producer.connect();
      this.consumer = kafka.consumer({
        groupId: `${this.options.groupPrefix}panacea.schema-registry.${randomUUID()}`,
        // Nothing is committed: every process reads the whole (compacted) topic at start.
        sessionTimeout: 15_000,
        maxWaitTimeInMs: 250,
      });
      await this.consumer.connect();
      await this.consumer.subscribe({ topic, fromBeginning: true });
      this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
        this.consumerFailure = payload.error;
        this.wakeWaiters();
      });
      await this.consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          const record = parseRegistryRecord(message.value);
          if (record !== undefined) this.log.apply(record);
          else
            this.options.logger.warn(
              { offset: message.offset },
              'unreadable registry record skipped',
            );
          this.nextOffset = BigInt(message.offset) + 1n;
          this.wakeWaiters();
        },
      });
      await this.catchUp();
    } catch (error) {
      await this.close();
      throw error instanceof PanaceaError
        ? error
        : new PanaceaError(
            'SCHEMA_REGISTRY_UNAVAILABLE',
            `cannot open the schema registry in topic ${topic}: ${messageOf(error)}`,
            { topic },
            error,
          );
    }
  }

  async register(subject: string, schema: avro.Schema): Promise<RegisteredSchema> {
    const text = schemaText(schema);
    for (let attempt = 0; attempt < MAX_PROPOSALS; attempt++) {
      await this.catchUp();
      const existing = this.log.find(subject, text);
      if (existing !== undefined) return existing;
      assertCompatible(
        subject,
        this.log.compatibility(subject),
        schema,
        this.log.versions(subject),
      );

      const proposal = this.log.propose(subject, text);
      await this.write(proposal);
      await this.catchUp();
      const accepted = this.log.find(subject, text);
      if (accepted !== undefined) return accepted;
      this.options.logger.info(
        { subject, attempt },
        'another process registered a version first; proposing again',
      );
    }
    throw new PanaceaError(
      'SCHEMA_REGISTRY_UNAVAILABLE',
      `could not register a version of ${subject} after ${MAX_PROPOSALS} attempts: other processes kept registering first`,
      { subject },
    );
  }

  async schemaById(id: number): Promise<RegisteredSchema | undefined> {
    const known = this.log.schemaById(id);
    if (known !== undefined) return known;
    await this.catchUp();
    return this.log.schemaById(id);
  }

  async versions(subject: string): Promise<RegisteredSchema[]> {
    await this.catchUp();
    return this.log.versions(subject);
  }

  async subjects(): Promise<string[]> {
    await this.catchUp();
    return this.log.subjects();
  }

  async compatibility(subject: string): Promise<CompatibilityMode> {
    await this.catchUp();
    return this.log.compatibility(subject);
  }

  async setCompatibility(subject: string, mode: CompatibilityMode): Promise<void> {
    await this.write({ kind: 'config', subject, compatibility: mode });
    await this.catchUp();
  }

  async close(): Promise<void> {
    const clients = [this.consumer, this.producer, this.admin];
    this.consumer = undefined;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.allSettled(clients.map((client) => client?.disconnect()));
  }

  private async ensureTopic(admin: Admin, topic: string): Promise<void> {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return;
    // A concurrent creator makes this return false, which is as good as creating it.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
  }

  private async write(record: RegistryRecord): Promise<void> {
    const producer = this.producer;
    if (producer === undefined) throw this.closedError();
    const value = JSON.stringify(record);
    const valueBytes = Buffer.byteLength(value);
    if (valueBytes > MAX_RECORD_BYTES) {
      throw new PanaceaError(
        'SCHEMA_INVALID',
        `the schema of ${record.subject} is ${valueBytes} bytes as a registry record, over the ${MAX_RECORD_BYTES}-byte limit of the registry topic`,
        { subject: record.subject },
      );
    }
    try {
      await producer.send({
        topic: this.options.topic,
        acks: -1,
        messages: [{ key: registryRecordKey(record), value }],
      });
    } catch (error) {
      throw new PanaceaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `cannot write to the schema registry topic ${this.options.topic}: ${messageOf(error)}`,
        { topic: this.options.topic },
        error,
      );
    }
  }

  /** Waits until every record written before this call has been applied. */
  private async catchUp(): Promise<void> {
    const admin = this.admin;
    if (admin === undefined) throw this.closedError();
    const offsets = await admin.fetchTopicOffsets(this.options.topic);
    const endOffset = BigInt(offsets[0]?.high ?? '0');
    const deadline = Date.now() + this.options.catchUpTimeoutMs;

    while (this.nextOffset < endOffset) {
      if (this.consumerFailure !== undefined) {
        throw new PanaceaError(
          'SCHEMA_REGISTRY_UNAVAILABLE',
          `the schema registry's reader stopped: ${this.consumerFailure.message}`,
          { topic: this.options.topic },
          this.consumerFailure,
        );
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new PanaceaError(
          'SCHEMA_REGISTRY_UNAVAILABLE',
          `the schema registry topic ${this.options.topic} was not read to its end (offset ${endOffset}) within ${this.options.catchUpTimeoutMs} ms; at ${this.nextOffset}`,
          { topic: this.options.topic },
        );
      }
      await this.nextRecordOrTimeout(Math.min(remainingMs, 1_000));
    }
  }

  private async nextRecordOrTimeout(timeoutMs: number): Promise<void> {
    const controller = new AbortController();
    await Promise.race([
      new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        controller.signal.addEventListener('abort', wake);
      }),
      delay(timeoutMs, undefined, { signal: controller.signal }).catch(() => undefined),
    ]).finally(() => controller.abort());
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private closedError(): PanaceaError {
    return new PanaceaError('SCHEMA_REGISTRY_UNAVAILABLE', 'the schema registry is closed');
  }
}
