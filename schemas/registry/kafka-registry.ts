/**
 * The embedded schema registry: its subjects live in one compacted, single-partition Kafka topic
 * (`<prefix>panacea.schemas`), so every process that reaches the cluster shares the same ids and
 * no other server is needed.
 *
 * Each process tails the topic with a consumer of its own (core/compacted-topic.ts) and keeps the
 * state in memory (registry-log.ts). Before answering anything that depends on the newest state
 * it catches up to the topic's end, so an id written by another process a moment ago is found.
 */
import { randomUUID } from 'node:crypto';

import type avro from 'avsc';

import {
  CompactedTopicReader,
  DEFAULT_CATCH_UP_TIMEOUT_MS,
  type CompactedTableOptions,
} from '../../core/compacted-topic.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import { createDurableProducer, MAX_RECORD_BYTES, type Producer } from '../../core/kafka.js';
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

export type KafkaRegistryOptions = CompactedTableOptions;

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
  private producer: Producer | undefined;
  private readonly reader: CompactedTopicReader;

  constructor(options: KafkaRegistryOptions) {
    this.options = { catchUpTimeoutMs: DEFAULT_CATCH_UP_TIMEOUT_MS, ...options };
    this.description = `embedded (Kafka topic ${options.topic})`;
    this.reader = new CompactedTopicReader({
      kafka: options.kafka,
      brokers: options.brokers,
      topic: options.topic,
      groupId: `${options.groupPrefix}panacea.schema-registry.${randomUUID()}`,
      logger: options.logger,
      catchUpTimeoutMs: this.options.catchUpTimeoutMs,
      unavailableCode: 'SCHEMA_REGISTRY_UNAVAILABLE',
      label: 'the schema registry',
      apply: ({ value, offset }) => {
        const record = parseRegistryRecord(value);
        if (record !== undefined) this.log.apply(record);
        else options.logger.warn({ offset }, 'unreadable registry record skipped');
      },
    });
  }

  async start(): Promise<void> {
    const { kafka, topic } = this.options;
    try {
      this.producer = createDurableProducer(kafka);
      await this.producer.connect();
      await this.reader.start();
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
    const producer = this.producer;
    this.producer = undefined;
    await Promise.allSettled([this.reader.close(), producer?.disconnect()]);
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
  private catchUp(): Promise<void> {
    return this.reader.catchUp();
  }

  private closedError(): PanaceaError {
    return new PanaceaError('SCHEMA_REGISTRY_UNAVAILABLE', 'the schema registry is closed');
  }
}
