/**
 * Writes documents with the bulk API using create semantics, so the event id decides uniqueness:
 * a 409 on create means the document is already there and counts as written. Items refused for a
 * reason that can pass (429, 5xx) are retried alone with backoff; items refused for a reason that
 * cannot (mapping or parsing errors) are returned to the caller for its dead-letter path. A request
 * that fails as a whole (Elasticsearch down) is retried until it succeeds or the stage stops: the
 * stage does not commit meanwhile, which is the backpressure.
 */
import type { Client, estypes } from '@elastic/elasticsearch';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export interface BulkItem<T> {
  index: string;
  id: string;
  document: object;
  /**
   * `create` (the default) stores a document once; `index` overwrites it when `version` is at
   * least the stored one (`version_type: external_gte`), so a retried older write never replaces
   * a newer one. Either way a 409 means the stored document is as new or newer: written.
   */
  operation?: 'create' | 'index';
  /** Required with `index`: a number that only grows for the same id. */
  version?: number;
  /** Carried through untouched so the caller can find the source record of a refused item. */
  tag: T;
}

export interface RefusedItem<T> {
  item: BulkItem<T>;
  status: number;
  /** Elasticsearch's error type and reason, e.g. `mapper_parsing_exception: failed to parse …`. */
  reason: string;
}

export interface BulkWriterOptions {
  client: Client;
  logger: Logger;
  /** Upper bound of one bulk request body, bytes. Default 5 MiB (the server allows 100 MiB). */
  maxRequestBytes?: number;
  /** First retry delay, ms; doubles per attempt. Default 200. */
  initialRetryDelayMs?: number;
  /** Longest wait between two retries, ms. Default 30 000. */
  maxRetryDelayMs?: number;
}

export interface WriteContext {
  /** Stops the retries: the write then fails with `STAGE_STOPPED`. */
  signal: AbortSignal;
  /** Called before each wait between retries, so a consumer group keeps this instance. */
  heartbeat?: () => Promise<void>;
}

export interface BulkResult<T> {
  created: number;
  duplicates: number;
  refused: RefusedItem<T>[];
}

const RETRIABLE_ITEM_STATUSES = new Set([429, 500, 502, 503, 504]);

export class BulkWriter {
  readonly #client: Client;
  readonly #logger: Logger;
  readonly #maxRequestBytes: number;
  readonly #initialRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;

  constructor(options: BulkWriterOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#maxRequestBytes = options.maxRequestBytes ?? 5 * 1024 * 1024;
    this.#initialRetryDelayMs = options.initialRetryDelayMs ?? 200;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  /** Resolves when every item is created, already present, or refused for good. */
  async write<T>(items: BulkItem<T>[], context: WriteContext): Promise<BulkResult<T>> {
    const result: BulkResult<T> = { created: 0, duplicates: 0, refused: [] };
    for (const chunk of this.#chunksBySize(items)) {
      await this.#writeChunk(chunk, context, result);
    }
    return result;
  }

  /**
   * Sends a request that reads or writes as a whole (the combiner's `mget`) with the same retry
   * policy as a bulk request: retried with backoff while the failure may pass (no answer, 429,
   * 5xx), refused for good otherwise, and cut short by a stop.
   */
  async request<R>(
    description: string,
    send: (signal: AbortSignal) => Promise<R>,
    context: WriteContext,
  ): Promise<R> {
    for (let attempt = 1; ; attempt += 1) {
      if (attempt > 1) await this.#backOff(attempt, 0, context);

      try {
        return await send(context.signal);
      } catch (error) {
        if (context.signal.aborted) throw stopped();
        if (!canPass(error)) {
          throw new PanaceaError(
            'ELASTICSEARCH_UNAVAILABLE',
            `Elasticsearch refused the ${description} request and retrying cannot help: ${summariseError(error).message}`,
            { statusCode: summariseError(error).statusCode },
            error,
          );
        }
        this.#logger.warn(
          { err: summariseError(error), attempt, request: description },
          'request failed; retrying',
        );
      }
    }
  }

  async #writeChunk<T>(
    chunk: BulkItem<T>[],
    context: WriteContext,
    result: BulkResult<T>,
  ): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > 1) await this.#backOff(attempt, pending.length, context);

      let items: estypes.BulkResponse['items'];
      try {
        const response = await this.#client.bulk(
          {
            operations: pending.flatMap((item) => [actionOf(item), item.document]),
          },
          // A stop cuts a request that hangs short instead of waiting for its timeout.
          { signal: context.signal },
        );
        items = response.items;
      } catch (error) {
        if (context.signal.aborted) throw stopped();
        if (!canPass(error)) {
          throw new PanaceaError(
            'ELASTICSEARCH_UNAVAILABLE',
            `Elasticsearch refused the bulk request and retrying cannot help: ${summariseError(error).message}`,
            { statusCode: summariseError(error).statusCode },
            error,
          );
        }
        // The whole request failed: nothing is known to be written, so all of it is retried.
        this.#logger.warn(
          { err: summariseError(error), attempt, documents: pending.length },
          'bulk request failed; retrying',
        );
        continue;
      }

      const retry: BulkItem<T>[] = [];
      pending.forEach((item, position) => {
        const outcome = items[position]?.create ?? items[position]?.index;
        const status = outcome?.status ?? 500;
        if (status === 200 || status === 201) result.created += 1;
        else if (status === 409) result.duplicates += 1;
        else if (RETRIABLE_ITEM_STATUSES.has(status)) retry.push(item);
        else {
          const reason = `${outcome?.error?.type ?? 'error'}: ${outcome?.error?.reason ?? `status ${status}`}`;
          result.refused.push({ item, status, reason });
        }
      });
      if (retry.length > 0) {
        this.#logger.warn(
          { attempt, documents: retry.length },
          'bulk items refused with a retriable status; retrying them',
        );
      }
      pending = retry;
    }
  }

  async #backOff(attempt: number, documents: number, context: WriteContext): Promise<void> {
    const exponentialMs = Math.min(
      this.#maxRetryDelayMs,
      this.#initialRetryDelayMs * 2 ** (attempt - 2),
    );
    // Full jitter keeps many writers from retrying in step against a recovering cluster.
    const delayMs = Math.round(exponentialMs / 2 + Math.random() * (exponentialMs / 2));
    this.#logger.info({ attempt, delayMs, documents }, 'waiting before bulk retry');
    await context.heartbeat?.();
    await abortableSleep(delayMs, context.signal);
  }

  *#chunksBySize<T>(items: BulkItem<T>[]): Generator<BulkItem<T>[]> {
    let chunk: BulkItem<T>[] = [];
    let chunkBytes = 0;
    for (const item of items) {
      const itemBytes =
        Buffer.byteLength(JSON.stringify(item.document)) + item.id.length + item.index.length + 40;
      if (chunk.length > 0 && chunkBytes + itemBytes > this.#maxRequestBytes) {
        yield chunk;
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(item);
      chunkBytes += itemBytes;
    }
    if (chunk.length > 0) yield chunk;
  }
}

function abortableSleep(delayMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(stopped());
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(stopped());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Whether a failed request may succeed later: no answer at all (connection refused, timeout), or
 * an answer that says "later" (429, 5xx). A 401, 403, 400 or 404 says the same every time.
 */
function canPass(error: unknown): boolean {
  const statusCode = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
  if (statusCode === undefined || statusCode === 0) return true;
  return statusCode === 429 || statusCode >= 500;
}

function stopped(): PanaceaError {
  return new PanaceaError('STAGE_STOPPED', 'stopping while writing to Elasticsearch');
}

/**
 * The client's errors carry the whole request, documents included: logging them as they are
 * would copy event data into the pipeline's own logs. Only what explains the failure is kept.
 */
function summariseError(error: unknown): { type: string; message: string; statusCode?: number } {
  if (!(error instanceof Error)) return { type: 'unknown', message: String(error) };
  const statusCode = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
  return {
    type: error.name,
    message: error.message,
    ...(statusCode === undefined || statusCode === 0 ? {} : { statusCode }),
  };
}

function actionOf(item: BulkItem<unknown>): estypes.BulkOperationContainer {
  if (item.operation !== 'index') return { create: { _index: item.index, _id: item.id } };
  return {
    index: {
      _index: item.index,
      _id: item.id,
      version: item.version ?? 0,
      version_type: 'external_gte',
    },
  };
}
