/**
 * Writes documents with the bulk API using create semantics, so the event id decides uniqueness:
 * a 409 on create means the document is already there and counts as written. Items refused for a
 * reason that can pass (429, 5xx) are retried alone with backoff; items refused for a reason that
 * cannot (mapping or parsing errors) are returned to the caller for its dead-letter path. A request
 * that fails as a whole (Elasticsearch down) is retried until it succeeds or the stage stops: the
 * stage does not commit meanwhile, which is the backpressure.
 *
 * Bodies stay under half the server's `http.max_content_length` (read once, on the first write)
 * and under `maxRequestBytes`; a document over the server's limit on its own is refused without
 * being sent. At most `maxRequestsInFlight` bulk requests of one writer are in flight at a time,
 * over every partition it serves. Each document is serialised once, then resent as the same text.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import PQueue from 'p-queue';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { WriterStats } from '../../core/stage-runner.js';

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
  /**
   * Upper bound of one bulk request body, bytes. Default 10 MiB; never more than half the
   * server's `http.max_content_length` (100 MiB unless configured), whatever is set here.
   */
  maxRequestBytes?: number;
  /** Bulk requests of this writer in flight at once, over all its callers. Default 2. */
  maxRequestsInFlight?: number;
  /** First retry delay, ms; doubles per attempt. Default 200. */
  initialRetryDelayMs?: number;
  /** Longest wait between two retries, ms. Default 5 000. */
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

export const BULK_WRITER_DEFAULTS = {
  maxRequestBytes: 10 * 1024 * 1024,
  maxRequestsInFlight: 2,
  initialRetryDelayMs: 200,
  // Short enough that the writer notices within seconds that Elasticsearch is back.
  maxRetryDelayMs: 5_000,
  /** Elasticsearch's own default `http.max_content_length`, used until the server says more. */
  serverMaxContentLengthBytes: 100 * 1024 * 1024,
} as const;

const RETRIABLE_ITEM_STATUSES = new Set([429, 500, 502, 503, 504]);

/** An item with its two NDJSON lines, serialised once and resent as they are. */
interface PreparedItem<T> {
  item: BulkItem<T>;
  lines: string;
  bytes: number;
}

export class BulkWriter {
  readonly #client: Client;
  readonly #logger: Logger;
  readonly #maxRequestBytes: number;
  readonly #initialRetryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #requests: PQueue;
  /** The server's `http.max_content_length`, bytes, once read. */
  #serverLimitBytes: number | undefined;
  readonly #stats = {
    indexed: 0,
    duplicates: 0,
    retried: 0,
    refused: 0,
    requestsInFlight: 0,
    documentsInFlight: 0,
  };
  /** Ended outages, ms; the current one runs from `#unreachableSinceMs`. */
  #pausedMsBefore = 0;
  #unreachableSinceMs: number | undefined;
  readonly #availabilityListeners: ((available: boolean) => void)[] = [];

  constructor(options: BulkWriterOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#maxRequestBytes = positive(
      'maxRequestBytes',
      options.maxRequestBytes ?? BULK_WRITER_DEFAULTS.maxRequestBytes,
    );
    this.#initialRetryDelayMs =
      options.initialRetryDelayMs ?? BULK_WRITER_DEFAULTS.initialRetryDelayMs;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? BULK_WRITER_DEFAULTS.maxRetryDelayMs;
    this.#requests = new PQueue({
      concurrency: positive(
        'maxRequestsInFlight',
        options.maxRequestsInFlight ?? BULK_WRITER_DEFAULTS.maxRequestsInFlight,
      ),
    });
  }

  stats(): WriterStats {
    const currentMs =
      this.#unreachableSinceMs === undefined ? 0 : performance.now() - this.#unreachableSinceMs;
    return {
      ...this.#stats,
      pausedMs: Math.round(this.#pausedMsBefore + currentMs),
      currentPauseMs: Math.round(currentMs),
    };
  }

  /**
   * Calls `listener(false)` when a request finds Elasticsearch unreachable (the start of an
   * outage) and `listener(true)` when one gets through again, once per change: the stage runner
   * pauses its consumer in between, so nothing more is fetched while nothing can be written.
   */
  onAvailabilityChange(listener: (available: boolean) => void): void {
    this.#availabilityListeners.push(listener);
  }

  /** Resolves when every item is created, already present, or refused for good. */
  async write<T>(items: BulkItem<T>[], context: WriteContext): Promise<BulkResult<T>> {
    const result: BulkResult<T> = { created: 0, duplicates: 0, refused: [] };
    if (items.length === 0) return result;

    const serverLimitBytes = await this.#readServerLimitBytes(context);
    const chunkLimitBytes = Math.min(this.#maxRequestBytes, Math.floor(serverLimitBytes / 2));
    const prepared: PreparedItem<T>[] = [];
    for (const item of items) {
      const entry = prepare(item);
      if (entry.bytes < serverLimitBytes) prepared.push(entry);
      else this.#refuseOversize(entry, serverLimitBytes, result);
    }

    // Every chunk waits for a request slot; a chunk keeps its slot through its retries, so an
    // outage holds at most `maxRequestsInFlight` bodies in memory besides the batches in hand.
    const chunks = [...chunksBySize(prepared, chunkLimitBytes)];
    await Promise.all(
      chunks.map((chunk) => this.#requests.add(() => this.#writeChunk(chunk, context, result))),
    );
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
        const answer = await send(context.signal);
        this.#noteReachable();
        return answer;
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
        this.#noteUnreachable(error);
        this.#logger.warn(
          { err: summariseError(error), attempt, request: description },
          'request failed; retrying',
        );
      }
    }
  }

  async #writeChunk<T>(
    chunk: PreparedItem<T>[],
    context: WriteContext,
    result: BulkResult<T>,
  ): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > 1) await this.#backOff(attempt, pending.length, context);

      let items: estypes.BulkResponse['items'];
      this.#stats.requestsInFlight += 1;
      this.#stats.documentsInFlight += pending.length;
      try {
        const response = await this.#client.bulk(
          // Already NDJSON: the client writes strings into the body as they are.
          { operations: pending.map((entry) => entry.lines) },
          // A stop cuts a request that hangs short instead of waiting for its timeout.
          { signal: context.signal },
        );
        items = response.items;
        this.#noteReachable();
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
        this.#noteUnreachable(error);
        this.#stats.retried += pending.length;
        this.#logger.warn(
          { err: summariseError(error), attempt, documents: pending.length },
          'bulk request failed; retrying',
        );
        continue;
      } finally {
        this.#stats.requestsInFlight -= 1;
        this.#stats.documentsInFlight -= pending.length;
      }

      const retry: PreparedItem<T>[] = [];
      pending.forEach((entry, position) => {
        const outcome = items[position]?.create ?? items[position]?.index;
        const status = outcome?.status ?? 500;
        if (status === 200 || status === 201) {
          result.created += 1;
          this.#stats.indexed += 1;
        } else if (status === 409) {
          result.duplicates += 1;
          this.#stats.duplicates += 1;
        } else if (RETRIABLE_ITEM_STATUSES.has(status)) {
          retry.push(entry);
        } else {
          const reason = `${outcome?.error?.type ?? 'error'}: ${outcome?.error?.reason ?? `status ${status}`}`;
          result.refused.push({ item: entry.item, status, reason });
          this.#stats.refused += 1;
        }
      });
      if (retry.length > 0) {
        this.#stats.retried += retry.length;
        this.#logger.warn(
          { attempt, documents: retry.length },
          'bulk items refused with a retriable status; retrying them',
        );
      }
      pending = retry;
    }
  }

  /**
   * The server's `http.max_content_length`. Read once; when it cannot be read (the server is
   * down at the first write) the default is used for this write and it is read again next time.
   */
  async #readServerLimitBytes(context: WriteContext): Promise<number> {
    if (this.#serverLimitBytes !== undefined) return this.#serverLimitBytes;

    try {
      const settings = await this.#client.cluster.getSettings(
        { include_defaults: true, flat_settings: true, filter_path: ['*.http.max_content_length'] },
        { signal: context.signal },
      );
      // Transient overrides persistent, which overrides the node's own (defaults).
      const text = [settings.transient, settings.persistent, settings.defaults]
        .map((scope) => (scope as Record<string, unknown> | undefined)?.['http.max_content_length'])
        .find((value) => typeof value === 'string');
      this.#serverLimitBytes =
        typeof text === 'string'
          ? parseByteSize(text)
          : BULK_WRITER_DEFAULTS.serverMaxContentLengthBytes;
      this.#logger.info(
        {
          serverMaxContentLengthBytes: this.#serverLimitBytes,
          maxRequestBytes: Math.min(this.#maxRequestBytes, Math.floor(this.#serverLimitBytes / 2)),
          maxRequestsInFlight: this.#requests.concurrency,
        },
        'bulk request limits',
      );
      return this.#serverLimitBytes;
    } catch (error) {
      if (context.signal.aborted) throw stopped();
      this.#logger.warn(
        { err: summariseError(error) },
        'cannot read http.max_content_length; assuming the default for now',
      );
      return BULK_WRITER_DEFAULTS.serverMaxContentLengthBytes;
    }
  }

  #refuseOversize<T>(entry: PreparedItem<T>, limitBytes: number, result: BulkResult<T>): void {
    result.refused.push({
      item: entry.item,
      status: 413,
      reason:
        `request_entity_too_large: the document and its action take ${entry.bytes} bytes, ` +
        `over the server's http.max_content_length of ${limitBytes} bytes`,
    });
    this.#stats.refused += 1;
  }

  #noteUnreachable(error: unknown): void {
    if (this.#unreachableSinceMs !== undefined) return;
    this.#unreachableSinceMs = performance.now();
    this.#logger.warn(
      { err: summariseError(error) },
      'Elasticsearch does not answer; input paused until it does',
    );
    for (const listener of this.#availabilityListeners) listener(false);
  }

  #noteReachable(): void {
    if (this.#unreachableSinceMs === undefined) return;
    const pausedMs = Math.round(performance.now() - this.#unreachableSinceMs);
    this.#pausedMsBefore += pausedMs;
    this.#unreachableSinceMs = undefined;
    this.#logger.info({ pausedMs }, 'Elasticsearch answers again; input resumed');
    for (const listener of this.#availabilityListeners) listener(true);
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
}

/** Splits items into runs whose bodies stay under `limitBytes`; an item over it goes alone. */
function* chunksBySize<T>(
  items: PreparedItem<T>[],
  limitBytes: number,
): Generator<PreparedItem<T>[]> {
  let chunk: PreparedItem<T>[] = [];
  let chunkBytes = 0;
  for (const entry of items) {
    if (chunk.length > 0 && chunkBytes + entry.bytes > limitBytes) {
      yield chunk;
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(entry);
    chunkBytes += entry.bytes;
  }
  if (chunk.length > 0) yield chunk;
}

function prepare<T>(item: BulkItem<T>): PreparedItem<T> {
  const lines = `${JSON.stringify(actionOf(item))}\n${JSON.stringify(item.document)}`;
  // The two lines and their two newlines, as the body carries them.
  return { item, lines, bytes: Buffer.byteLength(lines) + 2 };
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
  pb: 1024 ** 5,
};

/** Elasticsearch's byte sizes: `100mb`, `1.5gb`, `512kb`, `1048576b` or a bare number of bytes. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = BYTE_UNITS[(match?.[2] ?? '').toLowerCase() || 'b'];
  if (match === null || factor === undefined) {
    throw new PanaceaError('CONFIG_INVALID', `expected a byte size such as 100mb, got "${text}"`, {
      field: 'http.max_content_length',
    });
  }
  return Math.floor(Number(match[1]) * factor);
}

function positive(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `${option}: expected a positive integer, got ${value}`,
    );
  }
  return value;
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
