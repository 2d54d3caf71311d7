/**
 * The agent publisher as its users see it: the methods, what each call takes and returns, and the
 * reports of flush, close and stats.
 */
import type { ErrorCode } from '../../core/errors.js';
import type {
  ActivityBody,
  AttributeValue,
  AuditBody,
  ErrorBody,
  EventKind,
  HeartbeatBody,
} from '../../schemas/event.js';

/** The envelope fields a call may set; the agent identity is the publisher's own. */
export interface EventContext {
  /** Default: a random UUID, so two identical calls are two events. The sinks dedupe by it. */
  eventId?: string;
  /** A Date, epoch milliseconds or an RFC 3339 string with an offset. Default: now. */
  timestamp?: Date | number | string;
  workflowId?: string;
  taskId?: string;
  traceId?: string;
  spanId?: string;
}

/** What a publish call resolves with once Kafka has the event. */
export interface PublishReceipt {
  eventId: string;
  kind: EventKind;
  topic: string;
}

/** The answer of `flush()` and `close()`. */
export interface DeliveryReport {
  /** True when every event accepted before the call was acknowledged (or refused) in time. */
  complete: boolean;
  /** Events Kafka acknowledged since the publisher was created. */
  published: number;
  /**
   * Events not delivered: after `flush`, still buffered (and still being retried); after
   * `close`, given up with KAFKA_UNAVAILABLE (their promises rejected, `onDrop` called).
   */
  undeliveredEvents: number;
  undeliveredBytes: number;
  /** The ids of the first 100 of them. */
  undeliveredEventIds: string[];
  /** Why they were not delivered: the last error from Kafka, as `code: sentence`. */
  reason?: string;
}

export interface PublisherStats {
  /** Events Kafka acknowledged. */
  published: number;
  /** Record batches (produce requests) Kafka acknowledged. */
  batchesSent: number;
  /** Events accepted and not yet acknowledged: queued and in flight. */
  bufferedEvents: number;
  /** Their encoded size as Kafka counts it; never above `maxBufferBytes`. */
  bufferedBytes: number;
  maxBufferBytes: number;
  /** The record batch limit in force: the topics' `max.message.bytes`, or the option. */
  maxBatchBytes: number;
  /** Events refused or given up, whatever the reason; each also went to `onDrop`. */
  dropped: number;
  droppedByCode: Partial<Record<ErrorCode, number>>;
  /** Whether the producer is connected (it connects on the first event, and retries). */
  connected: boolean;
  /**
   * Times the publisher's Kafka worker thread stopped on its own (each logged as an error, with
   * PUBLISHER_WORKER_FAILED). The publisher starts a new one and sends the batches it had again.
   */
  workerFailures: number;
}

export interface AgentPublisher {
  /**
   * Each publish method validates the event at the call and resolves when every in-sync replica
   * has it. It rejects with a PanaceaError: CONTRACT_VIOLATION (naming the field),
   * RECORD_TOO_LARGE, PUBLISHER_BUFFER_FULL, PUBLISHER_CLOSED, ENCODE_FAILED, or KAFKA_UNAVAILABLE
   * when `close()` gave up on it. Awaiting is optional: a promise nobody awaits never becomes an
   * unhandled rejection, and every failure also reaches `onDrop`.
   */
  activity(body: ActivityBody, context?: EventContext): Promise<PublishReceipt>;
  error(body: ErrorBody, context?: EventContext): Promise<PublishReceipt>;
  audit(body: AuditBody, context?: EventContext): Promise<PublishReceipt>;
  heartbeat(body: HeartbeatBody, context?: EventContext): Promise<PublishReceipt>;
  /**
   * Runs `work` between an activity `started` and `succeeded` (with `durationMs`) or `failed`
   * plus an error event; returns its result or rethrows its error, without waiting for Kafka.
   */
  task<T>(
    name: string,
    work: () => T | PromiseLike<T>,
    attributes?: Record<string, AttributeValue>,
    context?: EventContext,
  ): Promise<T>;
  /**
   * Sends everything accepted so far without waiting for the linger and resolves when it is
   * acknowledged, or after `timeoutMs` (default the `flushTimeoutMs` option) with a report of what
   * is still buffered and why. Never rejects; what it did not deliver stays buffered and retried.
   */
  flush(options?: { timeoutMs?: number }): Promise<DeliveryReport>;
  /**
   * Refuses new events (PUBLISHER_CLOSED), flushes for up to `timeoutMs` (default the
   * `closeTimeoutMs` option), gives up on what is left (KAFKA_UNAVAILABLE) and disconnects.
   * Never rejects; calling it again returns the same report.
   */
  close(options?: { timeoutMs?: number }): Promise<DeliveryReport>;
  stats(): PublisherStats;
}
