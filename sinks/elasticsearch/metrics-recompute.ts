/**
 * Metrics recomputed from a replay of the enriched topic: the records of each partition go
 * through a fresh PartitionRecomputation (the live stage's aggregator, same options, same append
 * times), and every window it proves exact overwrites its stored document, under the same `_id`
 * and in the same shape as the live metrics sink writes it. Windows at the edges of the range are
 * left alone (see processors/metrics/window-recomputation.ts for which, and why).
 *
 * Versions. Live documents carry external versions made of input offsets (a workflow window the
 * sum of its partials'), which a replay does not have. A recomputed window is written with
 * `version_type: external_gte` at the version stored now, read with a realtime `mget` just
 * before, so it replaces the stored figures, and a later live write, whose version only grows,
 * still wins over it. A window with no stored document (deleted) is created, with Elasticsearch's
 * own versioning, which also steps over the tombstone a delete leaves. A 409 either way means the
 * live pipeline wrote the window in between: its document is kept.
 *
 * Workflow windows: each source partition's partial is written like an agent window, then every
 * window whose partial was written is combined again from all its stored partials, with the
 * sink's own reading and merging (WorkflowWindowCombiner.readPartials, combineStoredPartials).
 *
 * Memory: exact windows are held until `flushWindows` of them wait, then written, so `add`
 * resolves once its share is written and a long replay holds only that many at a time.
 */
import type { Client } from '@elastic/elasticsearch';

import type { MetricsConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import type { Admin } from '../../core/kafka.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';
import type { WindowResult } from '../../processors/metrics/metrics-document.js';
import { windowDocumentOf } from '../../processors/metrics/metrics-records.js';
import { WINDOW_AGGREGATOR_DEFAULTS } from '../../processors/metrics/window-aggregator.js';
import type { WindowFiguresOptions } from '../../processors/metrics/window-figures.js';
import {
  PartitionRecomputation,
  type PartitionRecomputationCounts,
} from '../../processors/metrics/window-recomputation.js';
import { BulkWriter, type BulkItem, type BulkResult, type WriteContext } from './bulk-writer.js';
import { combineStoredPartials } from './combined-window.js';
import { WorkflowWindowCombiner } from './workflow-window-combiner.js';

export interface MetricsRecomputationOptions {
  client: Client;
  /** A connected admin client: the combiner reads the enriched topic's partition count. */
  admin: Admin;
  naming: Naming;
  /** `config.metrics`: the options the live stage runs with. */
  settings: MetricsConfig;
  /** Stops the writes in hand: they fail with `STAGE_STOPPED`. */
  signal?: AbortSignal;
  /** Exact windows held before they are written. Default 500, at least 1. */
  flushWindows?: number;
}

export interface MetricsRecomputationResult {
  /**
   * Agent windows written (overwritten or restored), and workflow windows combined again from
   * their stored partials, each counted once.
   */
  windowsWritten: number;
  /** Partial workflow windows written, one per source partition. */
  partialsWritten: number;
  /** Agent windows and partials for which a newer live document was stored in between: kept. */
  windowsKeptNewer: number;
  /** Windows (agent windows and partials) that records outside the range may have changed. */
  windowsSkippedAtEdges: number;
  /** Windows the live stage may have closed early after a quiet gap in the partition. */
  windowsSkippedAfterQuietGaps: number;
  /** Events left out of a window that had closed, as the live stage leaves them out. */
  lateEvents: number;
  /** Events stamped too far after their record's append time, left out likewise. */
  futureEvents: number;
  /** Records that are not an enriched event (the live stage dead-lettered them). */
  unreadableRecords: number;
}

export interface MetricsRecomputation {
  /**
   * Counts enriched records, in offset order per partition, as the replay reads them (every
   * record of the range: see window-recomputation.ts), and writes the exact windows once
   * enough wait. Resolves when that is done; call it for one batch at a time per partition.
   */
  add(records: readonly StageRecord[]): Promise<void>;
  /** Writes the windows still held; resolves with what the recomputation did. */
  finish(): Promise<MetricsRecomputationResult>;
}

export const METRICS_RECOMPUTATION_DEFAULTS = { flushWindows: 500 } as const;

const FIGURES_OPTIONS: WindowFiguresOptions = {
  relativeAccuracy: WINDOW_AGGREGATOR_DEFAULTS.relativeAccuracy,
  maxErrorTypes: WINDOW_AGGREGATOR_DEFAULTS.maxErrorTypes,
};

export function createMetricsRecomputation(
  options: MetricsRecomputationOptions,
): MetricsRecomputation {
  return new ElasticsearchMetricsRecomputation(options);
}

/** An exact window and the partition it was recomputed from. */
interface ExactWindow {
  result: WindowResult;
  source: string;
}

/** One document to write, as Elasticsearch should store it. */
interface WindowWrite {
  index: string;
  id: string;
  document: object;
}

class ElasticsearchMetricsRecomputation implements MetricsRecomputation {
  readonly #options: MetricsRecomputationOptions;
  readonly #flushWindows: number;
  readonly #logger: Logger = componentLogger('replay.metrics');
  readonly #writer: BulkWriter;
  readonly #combiner: WorkflowWindowCombiner;
  readonly #context: WriteContext;
  readonly #partitions = new Map<number, PartitionRecomputation>();
  #held: ExactWindow[] = [];
  /** Writes run one after another, whichever partition's `add` started them. */
  #writing: Promise<void> = Promise.resolve();
  readonly #written = { windows: 0, partials: 0, keptNewer: 0 };
  /** Workflow windows combined again: once each, however many of their partials were written. */
  readonly #recombined = new Set<string>();
  #finished = false;

  constructor(options: MetricsRecomputationOptions) {
    this.#options = options;
    this.#flushWindows = options.flushWindows ?? METRICS_RECOMPUTATION_DEFAULTS.flushWindows;
    if (!Number.isInteger(this.#flushWindows) || this.#flushWindows < 1) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `metrics recomputation option flushWindows: expected a positive integer, got ${this.#flushWindows}`,
        { field: 'flushWindows' },
      );
    }
    this.#writer = new BulkWriter({ client: options.client, logger: this.#logger });
    this.#combiner = new WorkflowWindowCombiner({
      client: options.client,
      admin: options.admin,
      writer: this.#writer,
      logger: this.#logger,
      enrichedTopic: options.naming.enrichedTopic(),
      partialIndex: options.naming.metricsIndex('window_partial'),
      windowIndex: options.naming.metricsIndex('window'),
      figuresOptions: FIGURES_OPTIONS,
    });
    this.#context = { signal: options.signal ?? new AbortController().signal };
  }

  async add(records: readonly StageRecord[]): Promise<void> {
    if (this.#finished) {
      throw new PanaceaError('USAGE', 'records added to a metrics recomputation already finished');
    }

    for (const [partition, ofPartition] of this.#byPartition(records)) {
      const recomputation = this.#partitionFor(partition);
      recomputation.add(ofPartition);
      for (const result of recomputation.takeCompleteWindows()) {
        this.#held.push({ result, source: recomputation.source });
      }
    }

    if (this.#held.length >= this.#flushWindows) await this.#writeHeld();
  }

  async finish(): Promise<MetricsRecomputationResult> {
    this.#finished = true;
    for (const recomputation of this.#partitions.values()) {
      for (const result of recomputation.finish()) {
        this.#held.push({ result, source: recomputation.source });
      }
    }
    await this.#writeHeld();

    const result = this.#result();
    this.#logger.info(
      { topic: this.#options.naming.enrichedTopic(), ...result },
      'metrics recomputed from the replay',
    );
    return result;
  }

  #byPartition(records: readonly StageRecord[]): Map<number, StageRecord[]> {
    const enrichedTopic = this.#options.naming.enrichedTopic();
    const byPartition = new Map<number, StageRecord[]>();
    for (const record of records) {
      if (record.topic !== enrichedTopic) {
        throw new PanaceaError(
          'USAGE',
          `metrics are recomputed from ${enrichedTopic} only, got a record of ${record.topic}`,
          { topic: record.topic, partition: record.partition, offset: record.offset },
        );
      }
      const list = byPartition.get(record.partition) ?? [];
      list.push(record);
      byPartition.set(record.partition, list);
    }
    return byPartition;
  }

  #partitionFor(partition: number): PartitionRecomputation {
    const known = this.#partitions.get(partition);
    if (known !== undefined) return known;

    const recomputation = new PartitionRecomputation({
      source: `${this.#options.naming.enrichedTopic()}-${partition}`,
      settings: this.#options.settings,
    });
    this.#partitions.set(partition, recomputation);
    return recomputation;
  }

  /** Queues the held windows for writing and waits for every write queued so far. */
  #writeHeld(): Promise<void> {
    const windows = this.#held;
    this.#held = [];
    this.#writing = this.#writing.then(() => this.#write(windows));
    return this.#writing;
  }

  /**
   * Writes agent windows and partials at their stored versions, then combines every workflow
   * window a partial was written for.
   */
  async #write(windows: ExactWindow[]): Promise<void> {
    if (windows.length === 0) return;

    const { naming } = this.#options;
    const agentWindows: WindowWrite[] = [];
    const partials: WindowWrite[] = [];
    const sourcesByWorkflowWindow = new Map<string, Set<string>>();
    for (const { result, source } of windows) {
      const { id, document } = windowDocumentOf(result, source);
      if (result.scope === 'agent') {
        agentWindows.push({ index: naming.metricsIndex('window'), id, document });
        continue;
      }
      partials.push({ index: naming.metricsIndex('window_partial'), id, document });
      const sources = sourcesByWorkflowWindow.get(result.documentId) ?? new Set<string>();
      sourcesByWorkflowWindow.set(result.documentId, sources.add(source));
    }

    const [agentResult, partialResult] = await Promise.all([
      this.#overwrite(agentWindows),
      this.#overwrite(partials),
    ]);
    this.#written.windows += agentResult.created;
    this.#written.partials += partialResult.created;
    this.#written.keptNewer += agentResult.duplicates + partialResult.duplicates;

    // A newer live combination (409) was made from partials at least as new: either way the
    // window is combined from what is stored now.
    const combined = await this.#combine(sourcesByWorkflowWindow);
    await this.#overwrite(combined);
    for (const { id } of combined) this.#recombined.add(id);
  }

  /** The combined document of each workflow window, from every partial stored now. */
  async #combine(
    sourcesByWindow: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<WindowWrite[]> {
    if (sourcesByWindow.size === 0) return [];

    const storedByWindow = await this.#combiner.readPartials(sourcesByWindow, this.#context);
    const writes: WindowWrite[] = [];
    for (const windowId of sourcesByWindow.keys()) {
      const stored = storedByWindow.get(windowId) ?? [];
      // Just written or kept newer, so at least one is stored unless someone deletes it now.
      if (stored.length === 0) continue;
      const combined = combineStoredPartials(stored, FIGURES_OPTIONS);
      writes.push({
        index: this.#options.naming.metricsIndex('window'),
        id: combined.id,
        document: combined.document,
      });
    }
    return writes;
  }

  /**
   * Writes each document over the stored one at its stored version (`external_gte`), or creates
   * it when none is stored. A refusal for good (a mapping conflict) ends the recomputation.
   */
  async #overwrite(writes: WindowWrite[]): Promise<BulkResult<WindowWrite>> {
    if (writes.length === 0) return { created: 0, duplicates: 0, refused: [] };

    const versions = await this.#storedVersions(writes);
    const items: BulkItem<WindowWrite>[] = writes.map((write) => {
      const version = versions.get(write.id);
      return version === undefined
        ? { ...write, operation: 'create', tag: write }
        : { ...write, operation: 'index', version, tag: write };
    });
    const result = await this.#writer.write(items, this.#context);

    const [first] = result.refused;
    if (first !== undefined) {
      throw new PanaceaError(
        'DOCUMENT_REJECTED',
        `Elasticsearch refused ${result.refused.length} recomputed window(s), the first ` +
          `(${first.item.id}) with ${first.status}: ${first.reason}`,
        { index: first.item.index, id: first.item.id },
      );
    }
    return result;
  }

  /** The stored `_version` of each document that exists, read in realtime. */
  async #storedVersions(writes: WindowWrite[]): Promise<Map<string, number>> {
    const { client } = this.#options;
    const response = await this.#writer.request(
      'mget',
      (signal) =>
        client.mget<unknown>(
          {
            docs: writes.map((write) => ({ _index: write.index, _id: write.id })),
            realtime: true,
            _source: false,
          },
          { signal },
        ),
      this.#context,
    );

    const versions = new Map<string, number>();
    response.docs.forEach((doc, position) => {
      const write = writes[position];
      if (write === undefined || !('found' in doc) || !doc.found) return;
      if (doc._version !== undefined) versions.set(write.id, doc._version);
    });
    return versions;
  }

  #result(): MetricsRecomputationResult {
    const counts = [...this.#partitions.values()].map((partition) => partition.counts);
    const sum = (pick: (counts: PartitionRecomputationCounts) => number): number =>
      counts.reduce((total, partition) => total + pick(partition), 0);
    return {
      windowsWritten: this.#written.windows + this.#recombined.size,
      partialsWritten: this.#written.partials,
      windowsKeptNewer: this.#written.keptNewer,
      windowsSkippedAtEdges: sum((c) => c.skipped.leadingEdge + c.skipped.trailingEdge),
      windowsSkippedAfterQuietGaps: sum((c) => c.skipped.quietGap),
      lateEvents: sum((c) => c.late),
      futureEvents: sum((c) => c.future),
      unreadableRecords: sum((c) => c.unreadable),
    };
  }
}
