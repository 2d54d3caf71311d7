/**
 * The combining step of the metrics sink: after a batch's partial workflow windows are stored,
 * each workflow window the batch touched is read back whole (every partial, one per input
 * partition of the enriched topic) and written once more as one combined document, with figures
 * exact over all partitions (see combined-window.ts for the merge and its version).
 *
 * Single writer per window: every partial of a window carries the window id as its Kafka key, so
 * they all reach one partition of `agent.metrics` and one sink consumer. The sink commits its
 * offsets only after both writes, so a crash between them recombines the window on redelivery.
 */
import type { Client } from '@elastic/elasticsearch';

import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import type { Admin } from '../../core/kafka.js';
import type { Logger } from '../../core/logger.js';
import { deadLetterFor, type StageRecord } from '../../core/stage-runner.js';
import type { WindowFiguresOptions } from '../../processors/metrics/window-figures.js';
import { deadLettersForRefused } from './bulk-batch.js';
import type { BulkItem, BulkWriter, WriteContext } from './bulk-writer.js';
import { combineStoredPartials, partialWindowId, type StoredPartial } from './combined-window.js';

export interface WorkflowWindowCombinerOptions {
  client: Client;
  /** A connected admin client, for the partition count of the enriched topic. */
  admin: Admin;
  writer: BulkWriter;
  logger: Logger;
  /** The topic whose partitions the partials come from; their sources are `<topic>-<partition>`. */
  enrichedTopic: string;
  partialIndex: string;
  windowIndex: string;
  figuresOptions: WindowFiguresOptions;
}

/** A workflow window a batch wrote a partial of. */
export interface TouchedWindow {
  /** The sources the batch wrote partials from. */
  sources: Set<string>;
  /** The last record that touched it: dead-lettered if the combined document is refused. */
  record: StageRecord;
}

export class WorkflowWindowCombiner {
  readonly #options: WorkflowWindowCombinerOptions;
  /** Partitions of the enriched topic, read once and again when a source names a higher one. */
  #partitionCount: number | undefined;

  constructor(options: WorkflowWindowCombinerOptions) {
    this.#options = options;
  }

  /** Combines every touched window; returns dead letters for the windows that could not be. */
  async combine(
    touched: ReadonlyMap<string, TouchedWindow>,
    context: WriteContext,
  ): Promise<DeadLetter[]> {
    if (touched.size === 0) return [];

    const sourcesByWindow = new Map(
      [...touched].map(([windowId, window]) => [windowId, window.sources] as const),
    );
    const storedByWindow = await this.readPartials(sourcesByWindow, context);

    const deadLetters: DeadLetter[] = [];
    const items: BulkItem<StageRecord>[] = [];
    for (const [windowId, window] of touched) {
      const stored = storedByWindow.get(windowId) ?? [];
      // Every partial refused by Elasticsearch: those records are dead-lettered already.
      if (stored.length === 0) continue;
      try {
        const combined = combineStoredPartials(stored, this.#options.figuresOptions);
        items.push({
          index: this.#options.windowIndex,
          id: combined.id,
          document: combined.document,
          operation: 'index',
          version: combined.version,
          tag: window.record,
        });
      } catch (error) {
        deadLetters.push(deadLetterFor(window.record, error));
      }
    }

    const result = await this.#options.writer.write(items, context);
    deadLetters.push(...deadLettersForRefused(result.refused, 'the combined window'));
    return deadLetters;
  }

  /**
   * Every stored partial of each window, with its version, read with one realtime `mget`: one id
   * per partition of the enriched topic, and one per source the caller names besides (a source
   * on a partition the count read earlier did not know yet). Realtime reads the stored document
   * itself, not the last refresh, so partials just written are seen.
   */
  async readPartials(
    sourcesByWindow: ReadonlyMap<string, ReadonlySet<string>>,
    context: WriteContext,
  ): Promise<Map<string, StoredPartial[]>> {
    const partitionCount = await this.#knownPartitionCount(sourcesByWindow);
    const everySource = Array.from({ length: partitionCount }, (_, p) => this.#sourceName(p));
    const wanted = [...sourcesByWindow].flatMap(([windowId, sources]) =>
      [...new Set([...everySource, ...sources])].map((source) => ({ windowId, source })),
    );
    const { client, partialIndex } = this.#options;
    const response = await this.#options.writer.request(
      'mget',
      (signal) =>
        client.mget<unknown>(
          {
            index: partialIndex,
            realtime: true,
            ids: wanted.map(({ windowId, source }) => partialWindowId(windowId, source)),
          },
          { signal },
        ),
      context,
    );

    const storedByWindow = new Map<string, StoredPartial[]>();
    response.docs.forEach((doc, position) => {
      const want = wanted[position];
      if (want === undefined || !('found' in doc) || !doc.found) return;
      const stored = storedByWindow.get(want.windowId) ?? [];
      stored.push({ source: want.source, version: doc._version ?? 0, document: doc._source });
      storedByWindow.set(want.windowId, stored);
    });
    return storedByWindow;
  }

  async #knownPartitionCount(
    sourcesByWindow: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<number> {
    const highestSeen = Math.max(
      -1,
      ...[...sourcesByWindow.values()].flatMap((sources) =>
        [...sources].map((source) => this.#partitionOf(source) ?? -1),
      ),
    );
    if (this.#partitionCount !== undefined && highestSeen < this.#partitionCount) {
      return this.#partitionCount;
    }

    const topic = this.#options.enrichedTopic;
    let partitions: number;
    try {
      // Not `fetchTopicMetadata`: on a topic missing from the client's cache (or an expired
      // cache) it replaces kafkajs's cached metadata with that topic's alone, and a concurrent
      // `fetchTopicOffsets` on the shared admin (the pipeline's idle check) then finds no
      // partitions and fails with a TypeError. `fetchTopicOffsets` refreshes the cache for every
      // topic the client follows and answers one entry per partition.
      partitions = (await this.#options.admin.fetchTopicOffsets(topic)).length;
    } catch (error) {
      throw new PanaceaError(
        'KAFKA_UNAVAILABLE',
        `cannot read the partition count of ${topic}`,
        { topic },
        error,
      );
    }
    // Two batches may both read the count first; only a real change is worth a line.
    if (this.#partitionCount !== undefined && this.#partitionCount !== partitions) {
      this.#options.logger.info(
        { topic, partitions, previousPartitions: this.#partitionCount },
        'partition count of the enriched topic changed',
      );
    }
    this.#partitionCount = partitions;
    return partitions;
  }

  #sourceName(partition: number): string {
    return `${this.#options.enrichedTopic}-${partition}`;
  }

  #partitionOf(source: string): number | undefined {
    const prefix = `${this.#options.enrichedTopic}-`;
    if (!source.startsWith(prefix)) return undefined;
    const partition = Number(source.slice(prefix.length));
    return Number.isSafeInteger(partition) && partition >= 0 ? partition : undefined;
  }
}
