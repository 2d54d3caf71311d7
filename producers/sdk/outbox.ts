/**
 * The publisher's memory: events accepted but not yet acknowledged by Kafka, in the order they
 * were accepted. It holds the buffer bound (bytes queued plus bytes in flight never exceed
 * `maxBufferBytes`) and cuts batches that fit Kafka's record batch limit. Pure bookkeeping: no
 * timers, no I/O, so it is tested on its own.
 */
/**
 * Bytes a record batch adds around its records (the v2 batch header is 61 bytes). With the 64
 * bytes core/kafka.ts `messageBytes` counts per record, a batch counted here is never smaller
 * than on the wire.
 */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;

/** What the outbox needs of an entry: its size as Kafka counts it. */
export interface Sized {
  bytes: number;
}

/** Bytes of a record batch holding records of these sizes. */
export function batchBytes(entries: readonly Sized[]): number {
  let total = RECORD_BATCH_OVERHEAD_BYTES;
  for (const entry of entries) total += entry.bytes;
  return total;
}

/** Whether one record alone fits a batch of `maxBatchBytes`. */
export function fitsOneBatch(entry: Sized, maxBatchBytes: number): boolean {
  return RECORD_BATCH_OVERHEAD_BYTES + entry.bytes <= maxBatchBytes;
}

export interface TakenBatch<T extends Sized> {
  /** Entries that fit one batch, in order; now in flight until settled or returned. */
  batch: T[];
  /**
   * Entries at the front too large for any batch under the current limit (the limit read from
   * the topics at connect can be below the one assumed when they were accepted). They are out of
   * the outbox; the caller refuses them.
   */
  oversized: T[];
}

export class Outbox<T extends Sized> {
  readonly maxBufferBytes: number;
  // A queue as an array and a head index: shifting 50 000 entries one by one would be quadratic.
  #entries: T[] = [];
  #head = 0;
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #inFlightCount = 0;

  constructor(maxBufferBytes: number) {
    this.maxBufferBytes = maxBufferBytes;
  }

  /** Bytes accepted and not yet settled: queued plus in flight. */
  get bufferedBytes(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  get bufferedCount(): number {
    return this.queuedCount + this.#inFlightCount;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get queuedCount(): number {
    return this.#entries.length - this.#head;
  }

  /** The oldest queued entry, the one whose wait decides when the next batch goes. */
  peek(): T | undefined {
    return this.#entries[this.#head];
  }

  /** Queues the entry if the bound allows it; false means it was refused and nothing changed. */
  admit(entry: T): boolean {
    if (this.bufferedBytes + entry.bytes > this.maxBufferBytes) return false;
    this.#entries.push(entry);
    this.#queuedBytes += entry.bytes;
    return true;
  }

  /**
   * Takes from the front the longest run of entries that fits one batch of `maxBatchBytes`. The
   * batch moves to in flight: its bytes still count against the bound until `settle`.
   */
  take(maxBatchBytes: number): TakenBatch<T> {
    const oversized: T[] = [];
    const batch: T[] = [];
    let bytes = RECORD_BATCH_OVERHEAD_BYTES;

    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head] as T;
      if (batch.length === 0 && !fitsOneBatch(entry, maxBatchBytes)) {
        oversized.push(this.#removeHead());
        continue;
      }
      if (bytes + entry.bytes > maxBatchBytes) break;
      batch.push(this.#removeHead());
      bytes += entry.bytes;
    }

    for (const entry of batch) this.#inFlightBytes += entry.bytes;
    this.#inFlightCount += batch.length;
    this.#compact();
    return { batch, oversized };
  }

  /** Releases the bytes of a batch that was acknowledged or given up. */
  settle(batch: readonly T[]): void {
    for (const entry of batch) this.#inFlightBytes -= entry.bytes;
    this.#inFlightCount -= batch.length;
  }

  /** Adjusts the in-flight count when an entry's size changed after it was taken. */
  correctInFlight(deltaBytes: number): void {
    this.#inFlightBytes += deltaBytes;
  }

  /**
   * Puts an in-flight batch back at the front, in its order, to be cut again (after a failed send,
   * so a changed batch limit applies to it too).
   */
  giveBack(batch: readonly T[]): void {
    this.settle(batch);
    for (const entry of batch) this.#queuedBytes += entry.bytes;
    if (this.#head >= batch.length) {
      this.#head -= batch.length;
      for (let index = 0; index < batch.length; index += 1) {
        this.#entries[this.#head + index] = batch[index] as T;
      }
    } else {
      this.#entries = [...batch, ...this.#entries.slice(this.#head)];
      this.#head = 0;
    }
  }

  /** The first `limit` queued entries, oldest first, left in place. */
  peekQueued(limit: number): T[] {
    return this.#entries.slice(this.#head, this.#head + limit);
  }

  /** Removes and returns every queued entry (not those in flight), oldest first. */
  takeAllQueued(): T[] {
    const queued = this.#entries.slice(this.#head);
    this.#entries = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    return queued;
  }

  #removeHead(): T {
    const entry = this.#entries[this.#head] as T;
    // The slot is cleared so a delivered event can be collected before the array is compacted.
    this.#entries[this.#head] = undefined as unknown as T;
    this.#head += 1;
    this.#queuedBytes -= entry.bytes;
    return entry;
  }

  #compact(): void {
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1_024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The wait before retry `attempt` (1 for the first): doubles from `initialMs` up to `maxMs`, then
 * takes a random point in its upper half, so publishers that lost the same broker do not all
 * come back in the same millisecond.
 */
export function backoffMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceilingMs / 2 + (random() * ceilingMs) / 2);
}
