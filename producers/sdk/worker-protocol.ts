/**
 * What the publisher's thread and its Kafka worker thread say to each other: the messages, a
 * batch of records packed into one transferable buffer, and errors as plain data.
 *
 * A batch crosses as one ArrayBuffer of keys and values back to back plus one Int32Array of
 * lengths, both transferred (moved, not copied) with the message: cloning a thousand records as
 * objects would cost the publishing thread more than encoding them did. A key that every record
 * shares (the publisher's agent id) crosses once and is one Buffer again on the other side, as
 * it was on this one.
 */

import { PanaceaError, type ErrorCode, type ErrorContext } from '../../core/errors.js';
import type { Message, TopicMessages } from '../../core/kafka.js';
import type { WriterIds } from './encoding.js';
import type { BatchLimit, LinkSettings } from './kafka-link.js';

/** What the worker is started with (`workerData`): the link settings, all plain values. */
export type WorkerSettings = LinkSettings;

export type ToWorker =
  | { type: 'connect'; requestId: number }
  | { type: 'send'; requestId: number; generation: number; batch: PackedBatch }
  | { type: 'disconnect'; requestId: number };

export type FromWorker =
  | { type: 'connected'; requestId: number; limit: BatchLimit; writerIds: WriterIds | undefined }
  | { type: 'sent'; requestId: number }
  | { type: 'disconnected'; requestId: number }
  | { type: 'failed'; requestId: number; error: SerializedError };

export interface PackedBatch {
  /**
   * Every record's key, then its value, record after record; or, when `keyShared`, the one key
   * first and then the values.
   */
  bytes: ArrayBuffer;
  keyShared: boolean;
  /** Per record the key's length, then the value's; -1 for null. */
  lengths: Int32Array;
  /** Runs of consecutive records of one topic, in order: the topic and how many records. */
  topics: string[];
  runLengths: number[];
}

/** A batch, and the buffers to transfer with it. */
export function packRecords(
  records: ReadonlyArray<{ topic: string; message: Message | undefined }>,
): { batch: PackedBatch; transfer: ArrayBuffer[] } {
  const lengths = new Int32Array(records.length * 2);
  const topics: string[] = [];
  const runLengths: number[] = [];
  const firstKey = records[0]?.message?.key;
  const keyShared =
    Buffer.isBuffer(firstKey) && records.every((record) => record.message?.key === firstKey);
  const parts: Array<Buffer | null> = keyShared ? [firstKey] : [];
  let totalBytes = keyShared ? firstKey.length : 0;

  for (let index = 0; index < records.length; index += 1) {
    const { topic, message } = records[index] as (typeof records)[number];
    if (message === undefined) throw new Error('a record was sent before it was encoded');
    const key = bytesOf(message.key);
    const value = bytesOf(message.value);
    lengths[index * 2] = key === null ? -1 : key.length;
    lengths[index * 2 + 1] = value === null ? -1 : value.length;
    if (!keyShared) {
      totalBytes += key?.length ?? 0;
      parts.push(key);
    }
    totalBytes += value?.length ?? 0;
    parts.push(value);

    const lastRun = runLengths.length - 1;
    if (topics[lastRun] === topic) runLengths[lastRun] = (runLengths[lastRun] ?? 0) + 1;
    else {
      topics.push(topic);
      runLengths.push(1);
    }
  }

  const bytes = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    if (part === null) continue;
    bytes.set(part, offset);
    offset += part.length;
  }
  return {
    batch: { bytes: bytes.buffer, keyShared, lengths, topics, runLengths },
    transfer: [bytes.buffer, lengths.buffer as ArrayBuffer],
  };
}

/** The batch as kafkajs takes it; keys and values are views of the one buffer, not copies. */
export function unpackRecords(batch: PackedBatch): TopicMessages[] {
  const topicMessages: TopicMessages[] = [];
  let record = 0;
  let offset = 0;
  const take = (length: number): Buffer | null => {
    if (length < 0) return null;
    const view = Buffer.from(batch.bytes, offset, length);
    offset += length;
    return view;
  };
  const sharedKey = batch.keyShared ? take(batch.lengths[0] ?? -1) : undefined;

  for (let run = 0; run < batch.topics.length; run += 1) {
    const messages: Message[] = [];
    const count = batch.runLengths[run] ?? 0;
    for (let index = 0; index < count; index += 1) {
      const key = sharedKey ?? take(batch.lengths[record * 2] ?? -1);
      const value = take(batch.lengths[record * 2 + 1] ?? -1);
      messages.push({ key, value });
      record += 1;
    }
    topicMessages.push({ topic: batch.topics[run] as string, messages });
  }
  return topicMessages;
}

function bytesOf(data: Buffer | string | null | undefined): Buffer | null {
  if (data === null || data === undefined) return null;
  return typeof data === 'string' ? Buffer.from(data) : data;
}

/**
 * An error as data. kafkajs's errors carry what the publisher decides on in fields (`type`, such
 * as MESSAGE_TOO_LARGE, through a chain of `cause`), which a structured clone would drop.
 */
export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  type: string | undefined;
  code: ErrorCode | undefined;
  context: ErrorContext | undefined;
  cause: SerializedError | undefined;
}

/** How deep a chain of causes is kept; kafkajs wraps once or twice. */
const MAX_CAUSE_DEPTH = 5;

export function serializeError(error: unknown, depth = 0): SerializedError {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    stack?: unknown;
    type?: unknown;
    cause?: unknown;
  };
  const panacea = error instanceof PanaceaError ? error : undefined;
  return {
    name: typeof fields.name === 'string' ? fields.name : 'Error',
    message: typeof fields.message === 'string' ? fields.message : String(error),
    stack: typeof fields.stack === 'string' ? fields.stack : undefined,
    type: typeof fields.type === 'string' ? fields.type : undefined,
    code: panacea?.code,
    context: panacea === undefined ? undefined : plainContext(panacea.context),
    cause:
      fields.cause === undefined || depth >= MAX_CAUSE_DEPTH
        ? undefined
        : serializeError(fields.cause, depth + 1),
  };
}

/** The error again, as a PanaceaError when it was one, else an Error with its `type`. */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause === undefined ? undefined : deserializeError(data.cause);
  let error: Error;
  if (data.code === undefined) {
    error = new Error(data.message, cause === undefined ? undefined : { cause });
    error.name = data.name;
  } else {
    error = new PanaceaError(data.code, data.message, data.context ?? {}, cause);
  }
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.type !== undefined) Object.assign(error, { type: data.type });
  return error;
}

/** Context values that survive a structured clone; anything else becomes its text. */
function plainContext(context: ErrorContext): ErrorContext {
  const plain: ErrorContext = {};
  for (const [key, value] of Object.entries(context)) {
    plain[key] =
      value === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof value)
        ? value
        : safeJson(value);
  }
  return plain;
}

function safeJson(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    // A value JSON cannot write (a cycle, a BigInt) is kept as its text rather than lost.
    return String(value);
  }
}
