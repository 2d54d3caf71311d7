/**
 * The agent publisher: what an agent embeds to send its events. A call validates and encodes its
 * event at once and puts the record in a bounded outbox; one delivery loop connects (lazily, on
 * the first event, retrying with backoff), cuts batches under Kafka's record batch limit after at
 * most `lingerMs`, and sends them in order with an idempotent producer, acks from every in-sync
 * replica. The producer runs in a worker thread (worker-link.ts): kafkajs's work on one batch
 * overlaps with the agent's calls making the next. When Kafka is away the outbox fills up to `maxBufferBytes` and further events are
 * refused (PUBLISHER_BUFFER_FULL): the agent keeps running, its memory stays bounded, and every
 * refused event is counted and handed to `onDrop`.
 *
 * Failure never escapes as an exception: a call's promise rejects (and is caught here as well, so
 * an unawaited call is not an unhandled rejection), the loop catches everything it awaits, and no
 * timer callback can throw.
 */
import { randomUUID } from 'node:crypto';

import { DEFAULT_NAMESPACE } from '../../core/config.js';
import { PanaceaError, toPanaceaError, type ErrorCode } from '../../core/errors.js';
import { hasKafkaErrorType, type Message, messageBytes } from '../../core/kafka.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import { createNaming, type Naming } from '../../core/naming.js';
import { describeProblems, validateEvent } from '../../schemas/contract.js';
import type {
  ActivityBody,
  AgentEvent,
  AttributeValue,
  AuditBody,
  ErrorBody,
  EventKind,
  HeartbeatBody,
} from '../../schemas/event.js';
import { encodedBytesBeforeOpen, encoderFor, type EventEncoder } from './encoding.js';
import type { KafkaLink } from './kafka-link.js';
import { resolveOptions, type AgentPublisherOptions, type ResolvedOptions } from './options.js';
import {
  backoffMs,
  batchBytes,
  fitsOneBatch,
  Outbox,
  RECORD_BATCH_OVERHEAD_BYTES,
} from './outbox.js';
import { runTask } from './task.js';
import type {
  AgentPublisher,
  DeliveryReport,
  EventContext,
  PublishReceipt,
  PublisherStats,
} from './types.js';
import { createWorkerLink } from './worker-link.js';

/** Event ids listed in a delivery report; the count is always complete. */
const REPORTED_EVENT_IDS = 100;
/** How long `close` waits for a send still in flight after giving up on its events. */
const IN_FLIGHT_GRACE_MS = 2_000;
/**
 * Batches handed to the link and not yet acknowledged: one the worker is sending and one waiting
 * behind it, so the worker goes on to the next request without waiting for this thread (busy
 * with the agent's calls) to hear of the last one. More would only hold more memory.
 */
const MAX_SENDS_IN_FLIGHT = 2;
/** kafkajs error types that say a batch is too big for the broker, not that the broker is away. */
const SIZE_ERROR_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/**
 * kafkajs error types after which the producer is built again: the broker no longer knows its
 * producer id (a broker that lost its state), which retrying on the same producer cannot mend.
 */
const PRODUCER_STATE_ERROR_TYPES = new Set([
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/** One accepted event on its way to Kafka. */
interface PendingEvent {
  /** Order of acceptance; events are sent in this order. */
  sequence: number;
  event: AgentEvent;
  topic: string;
  /** Undefined while no encoder is open (Kafka was away since start); `bytes` is exact anyway. */
  message: Message | undefined;
  bytes: number;
  enqueuedAtMs: number;
  settled: boolean;
  resolve: (receipt: PublishReceipt) => void;
  reject: (error: PanaceaError) => void;
}

/**
 * A flush waiting for the events accepted before it (sequence up to `target`) to settle. It
 * counts them down rather than watching the highest settled sequence: an event refused in the
 * middle of a batch settles before the ones ahead of it.
 */
interface FlushWaiter {
  target: number;
  remaining: number;
  resolve: () => void;
}

/** A batch handed to the link. */
interface Send {
  batch: PendingEvent[];
  /** Close gave up on its events (they are settled) while it was in flight. */
  abandoned: boolean;
}

/** A batch whose send failed, or was refused behind one that failed, to be cut again. */
interface FailedSend {
  batch: PendingEvent[];
  error: unknown;
}

interface Settlement {
  resolve: (receipt: PublishReceipt) => void;
  reject: (error: PanaceaError) => void;
}

export function createAgentPublisher(options: AgentPublisherOptions): AgentPublisher {
  const resolved = resolveOptions(options);
  const naming = createNaming({ topicPrefix: resolved.topicPrefix, namespace: DEFAULT_NAMESPACE });
  const linkOf = (logger: Logger): KafkaLink =>
    createWorkerLink(
      {
        brokers: resolved.brokers,
        clientId: resolved.clientId,
        topicPrefix: resolved.topicPrefix,
        schemaRegistryUrl: resolved.schemaRegistryUrl,
        needsWriterIds: resolved.encoder === undefined,
        compression: resolved.compression,
        createTopics: resolved.createTopics,
        fallbackMaxBatchBytes: resolved.maxBatchBytes,
      },
      { logger },
    );
  return new Publisher(resolved, naming, linkOf);
}

/**
 * A publisher over a link given by the caller: for tests of the buffering and refusal paths that
 * need a Kafka which never answers, without waiting for real connection timeouts.
 */
export function createAgentPublisherWithLink(
  options: AgentPublisherOptions,
  link: KafkaLink,
): AgentPublisher {
  const resolved = resolveOptions(options);
  const naming = createNaming({ topicPrefix: resolved.topicPrefix, namespace: DEFAULT_NAMESPACE });
  return new Publisher(resolved, naming, () => link);
}

type LoopState = 'idle' | 'lingering' | 'connecting' | 'sending' | 'backing-off' | 'stopped';

class Publisher implements AgentPublisher {
  readonly #options: ResolvedOptions;
  readonly #naming: Naming;
  readonly #link: KafkaLink;
  readonly #logger: Logger;
  readonly #outbox: Outbox<PendingEvent>;

  #maxBatchBytes: number;
  #encoder: EventEncoder | undefined;
  readonly #key: Buffer;
  #connected = false;
  #closed = false;
  #stopped = false;
  #closing: Promise<DeliveryReport> | undefined;
  #loop: Promise<void> | undefined;
  #loopState: LoopState = 'idle';
  /** Batches handed to the link, oldest first; the link answers them in this order. */
  #sends: Send[] = [];
  /** Failed batches, oldest first, given back once every send behind them has answered. */
  #failedSends: FailedSend[] = [];
  /** Failed connects or sends since the last success. */
  #failures = 0;
  #wakeUp: (() => void) | undefined;

  #lastSequence = 0;
  /** Events up to this sequence go without waiting for the linger: a flush asked for them. */
  #flushThrough = 0;
  #flushWaiters: FlushWaiter[] = [];

  #published = 0;
  #batchesSent = 0;
  #dropped = 0;
  #droppedByCode: Partial<Record<ErrorCode, number>> = {};
  #refusedWhileFull = 0;
  #lastError: PanaceaError | undefined;

  constructor(options: ResolvedOptions, naming: Naming, linkOf: (logger: Logger) => KafkaLink) {
    this.#options = options;
    this.#naming = naming;
    this.#logger = (options.logger ?? componentLogger('agent-publisher')).child({
      agentId: options.agent.id,
    });
    this.#link = linkOf(this.#logger);
    this.#outbox = new Outbox(options.maxBufferBytes);
    this.#maxBatchBytes = options.maxBatchBytes;
    this.#encoder = options.encoder;
    this.#key = Buffer.from(options.agent.id);
  }

  activity(body: ActivityBody, context?: EventContext): Promise<PublishReceipt> {
    return this.#publish('activity', body, context);
  }

  error(body: ErrorBody, context?: EventContext): Promise<PublishReceipt> {
    return this.#publish('error', body, context);
  }

  audit(body: AuditBody, context?: EventContext): Promise<PublishReceipt> {
    return this.#publish('audit', body, context);
  }

  heartbeat(body: HeartbeatBody, context?: EventContext): Promise<PublishReceipt> {
    return this.#publish('heartbeat', body, context);
  }

  task<T>(
    name: string,
    work: () => T | PromiseLike<T>,
    attributes?: Record<string, AttributeValue>,
    context?: EventContext,
  ): Promise<T> {
    return runTask(this, name, work, attributes, context);
  }

  async flush(options: { timeoutMs?: number } = {}): Promise<DeliveryReport> {
    const timeoutMs = options.timeoutMs ?? this.#options.flushTimeoutMs;
    const report = await this.#flushFor(timeoutMs);
    if (!report.complete) {
      this.#logger.warn(
        { undeliveredEvents: report.undeliveredEvents, timeoutMs, reason: report.reason },
        'flush timed out; the events stay buffered and are still retried',
      );
    }
    return report;
  }

  close(options: { timeoutMs?: number } = {}): Promise<DeliveryReport> {
    this.#closing ??= this.#closeOnce(options.timeoutMs ?? this.#options.closeTimeoutMs);
    return this.#closing;
  }

  stats(): PublisherStats {
    return {
      published: this.#published,
      batchesSent: this.#batchesSent,
      bufferedEvents: this.#outbox.bufferedCount,
      bufferedBytes: this.#outbox.bufferedBytes,
      maxBufferBytes: this.#outbox.maxBufferBytes,
      maxBatchBytes: this.#maxBatchBytes,
      dropped: this.#dropped,
      droppedByCode: { ...this.#droppedByCode },
      connected: this.#connected,
      workerFailures: this.#link.workerFailures ?? 0,
    };
  }

  // --- accepting events -------------------------------------------------------------------

  #publish(
    kind: EventKind,
    body: unknown,
    context: EventContext | undefined,
  ): Promise<PublishReceipt> {
    let settlement: Settlement | undefined;
    const promise = new Promise<PublishReceipt>((resolve, reject) => {
      settlement = { resolve, reject };
    });
    // Handled here so a caller that does not await cannot crash the agent with an unhandled
    // rejection; a caller that awaits still sees the rejection on its own promise.
    promise.catch(() => undefined);

    try {
      this.#accept(kind, body, context, settlement as Settlement);
    } catch (error) {
      // Only a fault of ours gets here (the accept path refuses rather than throws).
      this.#refuse(
        kind,
        undefined,
        undefined,
        toPanaceaError(error, 'ENCODE_FAILED'),
        settlement as Settlement,
      );
    }
    return promise;
  }

  #accept(
    kind: EventKind,
    body: unknown,
    context: EventContext | undefined,
    settlement: Settlement,
  ): void {
    const eventId = context?.eventId;
    if (this.#closed) {
      const error = new PanaceaError(
        'PUBLISHER_CLOSED',
        `the publisher is closed; the ${kind} event was not accepted`,
        { kind, eventId },
      );
      this.#refuse(kind, eventId, undefined, error, settlement);
      return;
    }

    const input = this.#eventInput(kind, body, context);
    const checked = validateEvent(input);
    if (!checked.ok) {
      // The id the event would have had (the caller's or the generated one), so `onDrop` and the
      // logs can name the refused event; the event itself is absent, as it is not one.
      const inputEventId = typeof input.eventId === 'string' ? input.eventId : eventId;
      const field = checked.problems[0]?.field ?? '(event)';
      const error = new PanaceaError(
        'CONTRACT_VIOLATION',
        `the ${kind} event ${inputEventId ?? '(no id)'} is not valid: ${describeProblems(checked.problems)}`,
        { field, kind, eventId: inputEventId, problems: checked.problems },
      );
      this.#refuse(kind, inputEventId, undefined, error, settlement);
      return;
    }

    const event = checked.event;
    let message: Message | undefined;
    let bytes: number;
    try {
      message = this.#encoder === undefined ? undefined : this.#recordOf(event, this.#encoder);
      bytes = message === undefined ? this.#sizeBeforeEncoding(event) : messageBytes(message);
    } catch (error) {
      this.#refuse(kind, event.eventId, event, toPanaceaError(error, 'ENCODE_FAILED'), settlement);
      return;
    }

    if (!fitsOneBatch({ bytes }, this.#maxBatchBytes)) {
      this.#refuse(kind, event.eventId, event, this.#tooLarge(event, bytes), settlement);
      return;
    }

    const pending: PendingEvent = {
      sequence: this.#lastSequence + 1,
      event,
      topic: this.#naming.rawTopic(kind),
      message,
      bytes,
      enqueuedAtMs: performance.now(),
      settled: false,
      resolve: settlement.resolve,
      reject: settlement.reject,
    };
    const wasEmpty = this.#outbox.queuedCount === 0;
    if (!this.#outbox.admit(pending)) {
      this.#refuse(kind, event.eventId, event, this.#bufferFull(event, bytes), settlement);
      return;
    }

    this.#lastSequence = pending.sequence;
    this.#noteAdmittedAfterRefusals();
    this.#startLoop();
    const batchReady =
      this.#outbox.queuedBytes + RECORD_BATCH_OVERHEAD_BYTES >= this.#maxBatchBytes;
    if (wasEmpty || batchReady) this.#wakeIfWaitingForWork();
  }

  /**
   * The record of an event: key = agent id, shared as one Buffer (kafkajs hashes and writes the
   * key of every record; a string would be encoded to bytes again each time), and no timestamp:
   * kafkajs stamps the time the request is built, which is when the record is produced.
   */
  #recordOf(event: AgentEvent, encoder: EventEncoder): Message {
    return { key: this.#key, value: encoder.encode(event) };
  }

  /** What `messageBytes` will count once the event is encoded. */
  #sizeBeforeEncoding(event: AgentEvent): number {
    return messageBytes({ key: this.#key, value: null }) + encodedBytesBeforeOpen(event);
  }

  /** The event as the contract reads it: the call's body and context, the publisher's agent. */
  #eventInput(
    kind: EventKind,
    body: unknown,
    context: EventContext | undefined,
  ): Record<string, unknown> {
    // Copied key by key rather than with a rest pattern: this runs for every event, and object
    // rest is several times slower. Unknown keys are copied too, so the contract names them.
    const input: Record<string, unknown> = {};
    if (typeof context === 'object' && context !== null) {
      for (const key of Object.keys(context)) input[key] = context[key as keyof EventContext];
    }
    const timestamp = context?.timestamp;
    input.kind = kind;
    input.eventId = context?.eventId ?? randomUUID();
    input.timestamp = timestamp instanceof Date ? timestamp.getTime() : (timestamp ?? Date.now());
    input.agent = this.#options.agent;
    input[kind] = body;
    return input;
  }

  #tooLarge(event: AgentEvent, bytes: number): PanaceaError {
    const recordBytes = bytes + RECORD_BATCH_OVERHEAD_BYTES;
    return new PanaceaError(
      'RECORD_TOO_LARGE',
      `${event.kind} event ${event.eventId} is ${recordBytes} bytes as a Kafka record batch, over ` +
        `the ${this.#maxBatchBytes}-byte limit (max.message.bytes of the topic, or the ` +
        `maxBatchBytes option when that cannot be read)`,
      {
        eventId: event.eventId,
        kind: event.kind,
        recordBytes,
        maxBatchBytes: this.#maxBatchBytes,
      },
    );
  }

  #bufferFull(event: AgentEvent, bytes: number): PanaceaError {
    return new PanaceaError(
      'PUBLISHER_BUFFER_FULL',
      `${event.kind} event ${event.eventId} (${bytes} bytes) refused: ${this.#outbox.bufferedBytes} ` +
        `of ${this.#outbox.maxBufferBytes} buffer bytes are waiting for Kafka` +
        (this.#lastError === undefined ? '' : ` (last error: ${this.#lastError.reason})`),
      {
        eventId: event.eventId,
        kind: event.kind,
        eventBytes: bytes,
        bufferedBytes: this.#outbox.bufferedBytes,
        maxBufferBytes: this.#outbox.maxBufferBytes,
      },
    );
  }

  #refuse(
    kind: EventKind,
    eventId: string | undefined,
    event: AgentEvent | undefined,
    error: PanaceaError,
    settlement: Settlement,
  ): void {
    settlement.reject(error);
    this.#countDrop(kind, eventId ?? event?.eventId, event, error);

    if (error.code === 'PUBLISHER_BUFFER_FULL') {
      if (this.#refusedWhileFull === 0) {
        this.#logger.warn(
          {
            bufferedBytes: this.#outbox.bufferedBytes,
            maxBufferBytes: this.#outbox.maxBufferBytes,
          },
          'buffer full: refusing events until Kafka acknowledges some',
        );
      }
      this.#refusedWhileFull += 1;
    } else if (error.code !== 'PUBLISHER_CLOSED') {
      // A refused event is a fault of the caller's (contract, size) or of ours (encoding): each
      // is worth a line. Events refused after close are the caller's shutdown order: not logged.
      this.#logger.warn(
        { code: error.code, eventId: eventId ?? event?.eventId, kind, err: error },
        'event refused',
      );
    }
  }

  #noteAdmittedAfterRefusals(): void {
    if (this.#refusedWhileFull === 0) return;
    this.#logger.info(
      { refusedEvents: this.#refusedWhileFull, bufferedBytes: this.#outbox.bufferedBytes },
      'buffer has room again: accepting events',
    );
    this.#refusedWhileFull = 0;
  }

  #countDrop(
    kind: EventKind,
    eventId: string | undefined,
    event: AgentEvent | undefined,
    error: PanaceaError,
  ): void {
    this.#dropped += 1;
    this.#droppedByCode[error.code] = (this.#droppedByCode[error.code] ?? 0) + 1;
    if (this.#options.onDrop === undefined) return;
    try {
      this.#options.onDrop({ kind, eventId, error, event });
    } catch (callbackError) {
      this.#logger.warn({ err: callbackError }, 'the onDrop callback threw; ignored');
    }
  }

  // --- delivering events ------------------------------------------------------------------

  #startLoop(): void {
    // The loop catches everything it awaits; this catch is the last guard, so even a fault of
    // ours in it is logged rather than crashing the agent.
    this.#loop ??= this.#deliver().catch((error: unknown) => {
      this.#loopState = 'stopped';
      this.#logger.error({ err: error }, 'delivery loop failed; buffered events stay undelivered');
    });
  }

  async #deliver(): Promise<void> {
    while (!this.#stopped) {
      if (this.#failedSends.length > 0) {
        // The sends behind a failed one come back unsent (or fail too); only once all have
        // answered can their batches go back to the outbox in their order.
        if (this.#sends.length > 0) {
          this.#loopState = 'sending';
          await this.#sleep(undefined);
          continue;
        }
        this.#failures += 1;
        const error = this.#recoverFailedSends();
        await this.#backOff(this.#failures, error, 'send to Kafka failed; retrying');
        continue;
      }

      if (!this.#connected) {
        this.#loopState = 'connecting';
        try {
          await this.#connect();
        } catch (error) {
          this.#failures += 1;
          await this.#backOff(this.#failures, error, 'cannot connect to Kafka; retrying');
        }
        continue;
      }

      if (this.#sends.length >= MAX_SENDS_IN_FLIGHT) {
        this.#loopState = 'sending';
        await this.#sleep(undefined);
        continue;
      }

      const batch = await this.#nextBatch();
      if (batch === undefined || batch.length === 0) continue;
      this.#startSend(batch);
    }
    this.#loopState = 'stopped';
  }

  async #connect(): Promise<void> {
    const { limit, writerIds } = await this.#link.connect();
    if (this.#stopped) return;
    if (writerIds !== undefined) this.#encoder ??= encoderFor(writerIds);
    if (this.#encoder === undefined) {
      throw new Error('the link connected without the writer ids the publisher needs to encode');
    }
    this.#connected = true;
    this.#maxBatchBytes = limit.maxBatchBytes;
    this.#logger.info(
      {
        brokers: this.#options.brokers,
        maxBatchBytes: limit.maxBatchBytes,
        maxBatchBytesFrom: limit.source,
        ...(limit.detail === undefined ? {} : { detail: limit.detail }),
        compression: this.#options.compression,
        attempt: this.#failures + 1,
      },
      'connected to Kafka',
    );
    this.#failures = 0;
  }

  /** Hands a batch to the link without waiting: its answer settles it whenever it comes. */
  #startSend(batch: PendingEvent[]): void {
    const send: Send = { batch, abandoned: false };
    this.#sends.push(send);
    let sending: Promise<void>;
    try {
      sending = this.#link.send(batch);
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending
      .then(
        () => this.#sendAnswered(send, undefined, true),
        (error: unknown) => this.#sendAnswered(send, error, false),
      )
      .catch((error: unknown) => {
        // Only a fault of ours gets here; logged rather than an unhandled rejection.
        this.#logger.error({ err: error }, 'settling a sent batch failed');
      });
  }

  #sendAnswered(send: Send, error: unknown, sent: boolean): void {
    const index = this.#sends.indexOf(send);
    if (index >= 0) this.#sends.splice(index, 1);
    if (send.abandoned) return;

    if (sent) {
      if (this.#failures > 0) {
        this.#logger.info({ attempt: this.#failures + 1 }, 'Kafka accepts records again');
      }
      this.#failures = 0;
      this.#delivered(send.batch);
      if (this.#loopState === 'sending') this.#wake();
      return;
    }
    this.#failedSends.push({ batch: send.batch, error });
    this.#wake();
  }

  /**
   * The next batch, once there is a reason to send: a full batch is waiting, the oldest event has
   * waited `lingerMs`, or a flush asked for it. Undefined when the publisher stops meanwhile.
   */
  async #nextBatch(): Promise<PendingEvent[] | undefined> {
    while (!this.#stopped) {
      // A failed batch goes back to the front first; nothing may be cut ahead of it.
      if (this.#failedSends.length > 0) return undefined;
      const oldest = this.#outbox.peek();
      if (oldest === undefined) {
        this.#loopState = 'idle';
        await this.#sleep(undefined);
        continue;
      }

      const lingerLeftMs = oldest.enqueuedAtMs + this.#options.lingerMs - performance.now();
      const full = this.#outbox.queuedBytes + RECORD_BATCH_OVERHEAD_BYTES >= this.#maxBatchBytes;
      if (full || lingerLeftMs <= 0 || oldest.sequence <= this.#flushThrough) {
        const { batch, oversized } = this.#outbox.take(this.#maxBatchBytes);
        // Accepted under a larger limit than the topics turned out to allow.
        for (const entry of oversized) {
          this.#giveUp(entry, this.#tooLarge(entry.event, entry.bytes));
        }
        return this.#encodeBatch(batch);
      }
      this.#loopState = 'lingering';
      await this.#sleep(lingerLeftMs);
    }
    return undefined;
  }

  /**
   * Encodes the events of a batch that were accepted before the encoder was open. One that
   * cannot be encoded is refused and leaves the batch.
   */
  #encodeBatch(batch: PendingEvent[]): PendingEvent[] {
    const encoder = this.#encoder;
    if (encoder === undefined || batch.every((entry) => entry.message !== undefined)) return batch;

    const encoded: PendingEvent[] = [];
    for (const entry of batch) {
      if (entry.message !== undefined) {
        encoded.push(entry);
        continue;
      }
      try {
        entry.message = this.#recordOf(entry.event, encoder);
      } catch (error) {
        this.#outbox.settle([entry]);
        this.#giveUp(entry, toPanaceaError(error, 'ENCODE_FAILED'));
        continue;
      }
      const bytes = messageBytes(entry.message);
      if (bytes !== entry.bytes) {
        this.#logger.warn(
          { counted: entry.bytes, encoded: bytes },
          'an event counted before the encoder was open has another size encoded; count corrected',
        );
        this.#outbox.correctInFlight(bytes - entry.bytes);
        entry.bytes = bytes;
      }
      encoded.push(entry);
    }
    return encoded;
  }

  #delivered(batch: PendingEvent[]): void {
    this.#batchesSent += 1;
    this.#outbox.settle(batch);
    for (const entry of batch) {
      if (entry.settled) continue;
      entry.settled = true;
      this.#published += 1;
      entry.resolve({ eventId: entry.event.eventId, kind: entry.event.kind, topic: entry.topic });
      this.#countDownFlushes(entry.sequence);
    }
  }

  /**
   * Puts every failed batch back at the front of the outbox, in order, and returns the error of
   * the first (the ones behind it were refused because of it).
   */
  #recoverFailedSends(): unknown {
    const [first, ...behind] = this.#failedSends;
    this.#failedSends = [];
    if (first === undefined) return undefined;
    const { batch, error } = first;
    const later = behind.flatMap((failed) => failed.batch);
    this.#lastError = toPanaceaError(error, 'KAFKA_UNAVAILABLE');
    if (!isSizeError(error)) {
      this.#outbox.giveBack([...batch, ...later]);
      return error;
    }

    // The broker counts differently from us (another limit than the one read at connect):
    // a lone record is refused for good, a batch is cut again under half its size.
    const [lone] = batch;
    if (batch.length === 1 && lone !== undefined) {
      this.#outbox.settle(batch);
      this.#giveUp(lone, this.#tooLarge(lone.event, lone.bytes));
      this.#outbox.giveBack(later);
      return error;
    }
    this.#maxBatchBytes = Math.max(
      RECORD_BATCH_OVERHEAD_BYTES + 1,
      Math.floor(batchBytes(batch) / 2),
    );
    this.#logger.warn(
      { maxBatchBytes: this.#maxBatchBytes, err: error },
      'Kafka refused a batch as too large; sending smaller batches',
    );
    this.#outbox.giveBack([...batch, ...later]);
    return error;
  }

  async #backOff(attempt: number, error: unknown, message: string): Promise<void> {
    // A broker that forgot the producer, or a worker thread that died, needs a new producer.
    if (
      hasKafkaErrorType(error, PRODUCER_STATE_ERROR_TYPES) ||
      (error instanceof PanaceaError && error.code === 'PUBLISHER_WORKER_FAILED')
    ) {
      this.#connected = false;
    }
    this.#lastError = toPanaceaError(error, 'KAFKA_UNAVAILABLE');
    const waitMs = backoffMs(
      attempt,
      this.#options.retryBackoffMs,
      this.#options.maxRetryBackoffMs,
    );
    this.#logger.warn(
      {
        attempt,
        retryInMs: waitMs,
        bufferedEvents: this.#outbox.bufferedCount,
        bufferedBytes: this.#outbox.bufferedBytes,
        err: error,
      },
      message,
    );
    this.#loopState = 'backing-off';
    await this.#sleep(waitMs);
  }

  // --- settling, flush and close ----------------------------------------------------------

  /** Rejects one event the publisher will not deliver, and counts it. */
  #giveUp(entry: PendingEvent, error: PanaceaError): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.reject(error);
    this.#countDrop(entry.event.kind, entry.event.eventId, entry.event, error);
    this.#countDownFlushes(entry.sequence);
  }

  #countDownFlushes(sequence: number): void {
    for (const waiter of this.#flushWaiters) {
      if (sequence > waiter.target) continue;
      waiter.remaining -= 1;
      if (waiter.remaining === 0) waiter.resolve();
    }
  }

  async #settledOrTimeout(waiter: FlushWaiter, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      waiter.resolve = resolve;
      this.#flushWaiters.push(waiter);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#flushWaiters = this.#flushWaiters.filter((item) => item !== waiter);
  }

  /** Waits for every event accepted so far to settle, or for `timeoutMs`; logs nothing. */
  async #flushFor(timeoutMs: number): Promise<DeliveryReport> {
    // Every buffered event was accepted before this call, so all of them are waited for.
    const waiter: FlushWaiter = {
      target: this.#lastSequence,
      remaining: this.#outbox.bufferedCount,
      resolve: () => undefined,
    };
    if (waiter.remaining > 0) {
      this.#flushThrough = Math.max(this.#flushThrough, waiter.target);
      this.#wake();
      await this.#settledOrTimeout(waiter, timeoutMs);
    }
    return this.#report(waiter.remaining === 0, this.#undelivered());
  }

  async #closeOnce(timeoutMs: number): Promise<DeliveryReport> {
    this.#closed = true;
    const flushed = await this.#flushFor(timeoutMs);
    if (flushed.complete) {
      await this.#stop();
      this.#logger.info({ published: this.#published, dropped: this.#dropped }, 'publisher closed');
      return flushed;
    }

    // Whatever is left is given up: its promises reject now, not whenever Kafka answers.
    const report = this.#report(false, this.#undelivered());
    const reason =
      this.#lastError?.reason ?? 'KAFKA_UNAVAILABLE: Kafka did not acknowledge the events in time';
    const inFlight = this.#takeInFlight();
    this.#outbox.settle(inFlight);
    for (const entry of [...inFlight, ...this.#outbox.takeAllQueued()]) {
      const error = new PanaceaError(
        'KAFKA_UNAVAILABLE',
        `${entry.event.kind} event ${entry.event.eventId} was not acknowledged by Kafka before ` +
          `close gave up after ${timeoutMs} ms (${reason})`,
        { eventId: entry.event.eventId, kind: entry.event.kind },
        this.#lastError,
      );
      this.#giveUp(entry, error);
    }
    this.#logger.warn(
      {
        undeliveredEvents: report.undeliveredEvents,
        undeliveredEventIds: report.undeliveredEventIds.slice(0, 10),
        reason,
        timeoutMs,
      },
      'publisher closed with undelivered events',
    );
    await this.#stop();
    return report;
  }

  /** Ends the loop and disconnects. A send still in flight gets a short grace to end first. */
  async #stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    const loop = this.#loop ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      loop.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), IN_FLIGHT_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    await this.#link.disconnect();
    this.#connected = false;
    // kafkajs reconnects inside a send it is still retrying; disconnect again once it has ended.
    if (!ended) void loop.then(() => this.#link.disconnect());
  }

  /**
   * Every event handed to the link and not yet settled, oldest first; the sends still out are
   * abandoned, so their answers, whenever they come, change nothing.
   */
  #takeInFlight(): PendingEvent[] {
    const inFlight = [
      ...this.#failedSends.flatMap((failed) => failed.batch),
      ...this.#sends.flatMap((send) => send.batch),
    ];
    for (const send of this.#sends) send.abandoned = true;
    this.#sends = [];
    this.#failedSends = [];
    return inFlight;
  }

  /** What is accepted and not settled: counted whole, listed up to REPORTED_EVENT_IDS. */
  #undelivered(): Undelivered {
    const listed = [
      ...this.#failedSends.flatMap((failed) => failed.batch.slice(0, REPORTED_EVENT_IDS)),
      ...this.#sends.flatMap((send) => send.batch.slice(0, REPORTED_EVENT_IDS)),
      ...this.#outbox.peekQueued(REPORTED_EVENT_IDS),
    ];
    return {
      events: this.#outbox.bufferedCount,
      bytes: this.#outbox.bufferedBytes,
      eventIds: listed.slice(0, REPORTED_EVENT_IDS).map((entry) => entry.event.eventId),
    };
  }

  #report(complete: boolean, undelivered: Undelivered): DeliveryReport {
    return {
      complete,
      published: this.#published,
      undeliveredEvents: undelivered.events,
      undeliveredBytes: undelivered.bytes,
      undeliveredEventIds: undelivered.eventIds,
      ...(complete || this.#lastError === undefined ? {} : { reason: this.#lastError.reason }),
    };
  }

  // --- waiting ----------------------------------------------------------------------------

  /**
   * Waits `ms` (or until woken when undefined). Every wait ends early on stop and on flush; an
   * idle or lingering loop is also woken by new work.
   */
  async #sleep(ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.#wake(), ms);
      this.#wakeUp = () => {
        clearTimeout(timer);
        this.#wakeUp = undefined;
        resolve();
      };
    });
  }

  #wake(): void {
    this.#wakeUp?.();
  }

  #wakeIfWaitingForWork(): void {
    if (this.#loopState === 'idle' || this.#loopState === 'lingering') this.#wake();
  }
}

interface Undelivered {
  events: number;
  bytes: number;
  eventIds: string[];
}

function isSizeError(error: unknown): boolean {
  return hasKafkaErrorType(error, SIZE_ERROR_TYPES);
}
