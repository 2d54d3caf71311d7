/**
 * The options of the agent publisher: what a caller may set, the defaults (gathered here and
 * nowhere else), and the check that turns a wrong value into a CONFIG_INVALID error at
 * construction, with a message of the form "expected …, got …".
 */
import { PanaceaError } from '../../core/errors.js';
import { MAX_RECORD_BYTES } from '../../core/kafka.js';
import type { Logger } from '../../core/logger.js';
import { validateEvent } from '../../schemas/contract.js';
import { describeValue } from '../../schemas/describe-value.js';
import type { AgentEvent, AgentIdentity, EventKind } from '../../schemas/event.js';
import { MIN_EPOCH_MS } from '../../schemas/timestamp.js';
import type { EventEncoder } from './encoding.js';

export const COMPRESSIONS = ['gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** An event the publisher will not deliver, handed to `onDrop` once. */
export interface DroppedEvent {
  kind: EventKind;
  /** Undefined only when the event was refused before it had one (an invalid eventId). */
  eventId: string | undefined;
  /** Why: PUBLISHER_BUFFER_FULL, RECORD_TOO_LARGE, PUBLISHER_CLOSED, KAFKA_UNAVAILABLE (given
   * up at close), CONTRACT_VIOLATION or ENCODE_FAILED. The same error rejects the call's promise. */
  error: PanaceaError;
  /** The event as validated, when it got that far. */
  event: AgentEvent | undefined;
}

export interface AgentPublisherOptions {
  /** Kafka bootstrap servers: `['host:9092', …]` or `'host:9092,host2:9092'`. Required. */
  brokers: string[] | string;
  /** The agent every event is about; `id` is required. Filled into every event. */
  agent: AgentIdentity;
  /** Prefix of the raw topic names, the pipeline's `PANACEA_TOPIC_PREFIX`. Default `''`. */
  topicPrefix?: string;
  /** The client id Kafka sees. Default `panacea-agent`. */
  clientId?: string;
  /** How long an event may wait for others to share its request. Default 10 ms. */
  lingerMs?: number;
  /**
   * Largest record batch sent, in bytes (uncompressed, so it also holds for the compressed
   * batch). Used when the topics' `max.message.bytes` cannot be read at connect; when it can, that
   * value is used instead. An event whose record alone is bigger is refused. Default 1 000 000.
   */
  maxBatchBytes?: number;
  /**
   * Encoded bytes accepted but not yet acknowledged by Kafka. Past this, new events are refused
   * with PUBLISHER_BUFFER_FULL. Default 32 MiB.
   */
  maxBufferBytes?: number;
  /** Compression of record batches: `gzip` (built into kafkajs) or `none`. Default `gzip`. */
  compression?: Compression;
  /** Create the pipeline's topics at connect when missing (needs the right to). Default true. */
  createTopics?: boolean;
  /** How long `flush()` waits when no timeout is passed to it. Default 30 000 ms. */
  flushTimeoutMs?: number;
  /** How long `close()` waits for buffered events when no timeout is passed. Default 10 000 ms. */
  closeTimeoutMs?: number;
  /** First wait after a failed connect or send; it doubles per failure. Default 500 ms. */
  retryBackoffMs?: number;
  /** Longest wait between two attempts. Default 30 000 ms. */
  maxRetryBackoffMs?: number;
  /** Called once for every event that will not be delivered; must not throw (it is caught). */
  onDrop?: (drop: DroppedEvent) => void;
  /** Where the publisher logs its own life (connects, retries, drops). Default the project's. */
  logger?: Logger;
  /**
   * A Confluent-compatible schema registry. Default: the embedded registry the pipeline keeps in
   * the cluster's `<topicPrefix>panacea.schemas` topic, as `SCHEMA_REGISTRY_URL` for the pipeline.
   */
  schemaRegistryUrl?: string;
  /**
   * Turns an event into a record value. Default: the project's Avro codec, opened against the
   * registry when the publisher first connects (encoding.ts). Give one already open to encode
   * from the first call on.
   */
  encoder?: EventEncoder;
}

export interface ResolvedOptions {
  brokers: string[];
  agent: AgentIdentity;
  topicPrefix: string;
  clientId: string;
  lingerMs: number;
  maxBatchBytes: number;
  maxBufferBytes: number;
  compression: Compression;
  createTopics: boolean;
  flushTimeoutMs: number;
  closeTimeoutMs: number;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  onDrop: ((drop: DroppedEvent) => void) | undefined;
  logger: Logger | undefined;
  schemaRegistryUrl: string | undefined;
  encoder: EventEncoder | undefined;
}

export const DEFAULT_OPTIONS = {
  topicPrefix: '',
  clientId: 'panacea-agent',
  lingerMs: 10,
  maxBatchBytes: MAX_RECORD_BYTES,
  maxBufferBytes: 32 * 1024 * 1024,
  compression: 'gzip',
  createTopics: true,
  flushTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  retryBackoffMs: 500,
  maxRetryBackoffMs: 30_000,
} as const satisfies Partial<ResolvedOptions>;

/** A record batch under this cannot hold a useful event; a smaller value is a unit mistake. */
const MIN_BATCH_BYTES = 1_024;
const BROKER_PATTERN = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;
const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9._-]{0,100}$/;

/** Every option, by name: the type makes this list complete. */
const KNOWN_OPTIONS = new Set(
  Object.keys({
    brokers: true,
    agent: true,
    topicPrefix: true,
    clientId: true,
    lingerMs: true,
    maxBatchBytes: true,
    maxBufferBytes: true,
    compression: true,
    createTopics: true,
    flushTimeoutMs: true,
    closeTimeoutMs: true,
    retryBackoffMs: true,
    maxRetryBackoffMs: true,
    onDrop: true,
    logger: true,
    schemaRegistryUrl: true,
    encoder: true,
  } satisfies Record<keyof AgentPublisherOptions, true>),
);

export function resolveOptions(options: AgentPublisherOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('options', options, 'an object with brokers and agent');
  }
  // A misspelt option (`lingerMS`) would otherwise be ignored without a word.
  const unknown = Object.keys(options).filter((key) => !KNOWN_OPTIONS.has(key));
  if (unknown.length > 0) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `agent publisher options ${unknown.join(', ')}: not known; the options are ${[...KNOWN_OPTIONS].join(', ')}`,
      { field: unknown[0] },
    );
  }

  const resolved: ResolvedOptions = {
    brokers: readBrokers(options.brokers),
    agent: readAgent(options.agent),
    topicPrefix: options.topicPrefix ?? DEFAULT_OPTIONS.topicPrefix,
    clientId: options.clientId ?? DEFAULT_OPTIONS.clientId,
    lingerMs: options.lingerMs ?? DEFAULT_OPTIONS.lingerMs,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULT_OPTIONS.maxBatchBytes,
    maxBufferBytes: options.maxBufferBytes ?? DEFAULT_OPTIONS.maxBufferBytes,
    compression: options.compression ?? DEFAULT_OPTIONS.compression,
    createTopics: options.createTopics ?? DEFAULT_OPTIONS.createTopics,
    flushTimeoutMs: options.flushTimeoutMs ?? DEFAULT_OPTIONS.flushTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_OPTIONS.closeTimeoutMs,
    retryBackoffMs: options.retryBackoffMs ?? DEFAULT_OPTIONS.retryBackoffMs,
    maxRetryBackoffMs: options.maxRetryBackoffMs ?? DEFAULT_OPTIONS.maxRetryBackoffMs,
    onDrop: options.onDrop,
    logger: options.logger,
    schemaRegistryUrl: options.schemaRegistryUrl,
    encoder: options.encoder,
  };

  if (
    typeof resolved.topicPrefix !== 'string' ||
    !TOPIC_PREFIX_PATTERN.test(resolved.topicPrefix)
  ) {
    throw invalid('topicPrefix', resolved.topicPrefix, 'letters, digits, ".", "_" or "-"');
  }
  if (typeof resolved.clientId !== 'string' || resolved.clientId === '') {
    throw invalid('clientId', resolved.clientId, 'a non-empty string');
  }
  checkInteger('lingerMs', resolved.lingerMs, 0, 60_000);
  checkInteger('maxBatchBytes', resolved.maxBatchBytes, MIN_BATCH_BYTES, 1_073_741_824);
  checkInteger('maxBufferBytes', resolved.maxBufferBytes, MIN_BATCH_BYTES, Number.MAX_SAFE_INTEGER);
  checkInteger('flushTimeoutMs', resolved.flushTimeoutMs, 0, 86_400_000);
  checkInteger('closeTimeoutMs', resolved.closeTimeoutMs, 0, 86_400_000);
  checkInteger('retryBackoffMs', resolved.retryBackoffMs, 1, 3_600_000);
  checkInteger('maxRetryBackoffMs', resolved.maxRetryBackoffMs, resolved.retryBackoffMs, 3_600_000);
  if (!(COMPRESSIONS as readonly unknown[]).includes(resolved.compression)) {
    throw invalid('compression', resolved.compression, `one of ${COMPRESSIONS.join(', ')}`);
  }
  if (typeof resolved.createTopics !== 'boolean') {
    throw invalid('createTopics', resolved.createTopics, 'true or false');
  }
  if (resolved.onDrop !== undefined && typeof resolved.onDrop !== 'function') {
    throw invalid('onDrop', resolved.onDrop, 'a function');
  }
  if (
    resolved.schemaRegistryUrl !== undefined &&
    !/^https?:\/\/\S+$/.test(resolved.schemaRegistryUrl)
  ) {
    throw invalid('schemaRegistryUrl', resolved.schemaRegistryUrl, 'an http:// or https:// URL');
  }
  if (
    resolved.encoder !== undefined &&
    (typeof resolved.encoder !== 'object' ||
      resolved.encoder === null ||
      typeof resolved.encoder.encode !== 'function')
  ) {
    throw invalid('encoder', resolved.encoder, 'an object with an encode(event) method');
  }
  if (
    resolved.logger !== undefined &&
    (typeof resolved.logger !== 'object' ||
      resolved.logger === null ||
      typeof (resolved.logger as { child?: unknown }).child !== 'function')
  ) {
    throw invalid('logger', resolved.logger, 'a pino logger');
  }
  return resolved;
}

function readBrokers(value: unknown): string[] {
  const brokers =
    typeof value === 'string'
      ? value.split(',').map((broker) => broker.trim())
      : Array.isArray(value)
        ? value
        : undefined;
  if (brokers === undefined || brokers.length === 0) {
    throw invalid('brokers', value, 'host:port addresses, as an array or comma-separated');
  }
  for (const broker of brokers) {
    const port = typeof broker === 'string' ? Number(broker.slice(broker.lastIndexOf(':') + 1)) : 0;
    if (typeof broker !== 'string' || !BROKER_PATTERN.test(broker) || port < 1 || port > 65_535) {
      throw invalid('brokers', broker, 'a host:port address such as 127.0.0.1:9092');
    }
  }
  return brokers as string[];
}

function readAgent(value: unknown): AgentIdentity {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('agent', value, 'an object with at least an id, e.g. { id: "triage-bot-1" }');
  }
  const agent = value as Record<string, unknown>;
  if (typeof agent.id !== 'string' || agent.id === '') {
    throw invalid('agent.id', agent.id, 'a non-empty string');
  }
  for (const key of ['name', 'type', 'version'] as const) {
    if (agent[key] !== undefined && typeof agent[key] !== 'string') {
      throw invalid(`agent.${key}`, agent[key], 'a string');
    }
  }
  // The identity goes into every event: one the contract refuses would make every call fail, so
  // it is refused here, once, with the contract's own reason.
  const probe = validateEvent({
    kind: 'heartbeat',
    timestamp: MIN_EPOCH_MS,
    agent,
    heartbeat: { status: 'active' },
  });
  if (!probe.ok) {
    const problem = probe.problems.find((entry) => entry.field.startsWith('agent'));
    if (problem !== undefined) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `agent publisher option ${problem.field}: ${problem.reason}`,
        { field: problem.field },
      );
    }
  }
  // A copy, so a caller changing its object later does not change events already published.
  return { ...(value as AgentIdentity) };
}

function checkInteger(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, value, `an integer from ${min} to ${max}`);
  }
}

function invalid(option: string, value: unknown, expected: string): PanaceaError {
  return new PanaceaError(
    'CONFIG_INVALID',
    `agent publisher option ${option}: expected ${expected}, got ${describeValue(value)}`,
    { field: option },
  );
}
