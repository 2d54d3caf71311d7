/**
 * The metrics sink stage: `agent.metrics` in (window results, status changes, task records, as
 * the metrics stage writes them), the plain indices `metrics-agent.<record>-<namespace>` out.
 * Each document goes under its deterministic id with the `index` operation and an external
 * version that only grows, so a newer figure overwrites and a replayed older one does not.
 *
 * A batch is handled in three steps:
 * 1. write every record: agent windows to `window`, a workflow window's partial (one per input
 *    partition of the enriched topic) to `window_partial`, a status change to `status` (the
 *    current status, overwritten) and to `status_history` (created once per change), tasks to
 *    `task`;
 * 2. once that write is acknowledged, combine every workflow window the batch touched from all
 *    of its partials into its one document in `window` (workflow-window-combiner.ts);
 * 3. hand the batch back, so its offsets are committed only after both writes.
 *
 * It reads committed transactions only (kafkajs's default), so nothing an aborted metrics batch
 * wrote ever reaches Elasticsearch.
 */
import type { Client } from '@elastic/elasticsearch';

import { PanaceaError } from '../../core/errors.js';
import type { Admin } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import type { MetricsIndexRecord, Naming } from '../../core/naming.js';
import { WINDOW_AGGREGATOR_DEFAULTS } from '../../processors/metrics/window-aggregator.js';
import type { WindowFiguresOptions } from '../../processors/metrics/window-figures.js';
import {
  type BatchContext,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import { writeBatchInBulk } from './bulk-batch.js';
import { BulkWriter, type BulkItem } from './bulk-writer.js';
import { windowIdOfPartial } from './combined-window.js';
import { WorkflowWindowCombiner, type TouchedWindow } from './workflow-window-combiner.js';

export const METRICS_SINK_STAGE = 'sink-metrics';

const RECORD_KINDS = ['window', 'status', 'task'] as const;
type RecordKind = (typeof RECORD_KINDS)[number];

export interface MetricsSinkStageOptions {
  naming: Naming;
  client: Client;
  /** A connected admin client: the combiner reads the enriched topic's partition count. */
  admin: Admin;
  /**
   * How partial figures are restored and merged; must match the metrics stage's. Default
   * `WINDOW_AGGREGATOR_DEFAULTS` (1 % relative accuracy, 50 error types), as the stage runs.
   */
  figuresOptions?: WindowFiguresOptions;
}

export function createMetricsSinkStage(options: MetricsSinkStageOptions): StageDefinition {
  const { naming, client, admin } = options;
  const writer = new BulkWriter({
    client,
    logger: componentLogger(`stage.${METRICS_SINK_STAGE}.bulk`),
  });
  const combiner = new WorkflowWindowCombiner({
    client,
    admin,
    writer,
    logger: componentLogger(`stage.${METRICS_SINK_STAGE}.combine`),
    enrichedTopic: naming.enrichedTopic(),
    partialIndex: naming.metricsIndex('window_partial'),
    windowIndex: naming.metricsIndex('window'),
    figuresOptions: options.figuresOptions ?? {
      relativeAccuracy: WINDOW_AGGREGATOR_DEFAULTS.relativeAccuracy,
      maxErrorTypes: WINDOW_AGGREGATOR_DEFAULTS.maxErrorTypes,
    },
  });

  return {
    name: METRICS_SINK_STAGE,
    inputTopics: [naming.metricsTopic()],
    summary: { target: naming.metricsIndex('window').replace('.window-', '.<record>-') },
    async handleBatch(records: StageRecord[], context: BatchContext): Promise<BatchOutcome> {
      const touched = new Map<string, TouchedWindow>();
      const toItems = (record: StageRecord): BulkItem<StageRecord>[] => {
        const items = toBulkItems(record, naming);
        for (const item of items) noteTouchedWindow(touched, item, naming);
        return items;
      };

      const written = await writeBatchInBulk(records, toItems, writer, context);
      const combineDeadLetters = await combiner.combine(touched, context);

      return { deadLetters: [...written.deadLetters, ...combineDeadLetters] };
    },
    writerStats: () => writer.stats(),
    watchWriterAvailability: (listener) => writer.onAvailabilityChange(listener),
  };
}

function noteTouchedWindow(
  touched: Map<string, TouchedWindow>,
  item: BulkItem<StageRecord>,
  naming: Naming,
): void {
  if (item.index !== naming.metricsIndex('window_partial')) return;

  const windowId = windowIdOfPartial(item.id);
  const source = item.id.slice(windowId.length + 1);
  const window = touched.get(windowId) ?? { sources: new Set<string>(), record: item.tag };
  window.sources.add(source);
  window.record = item.tag;
  touched.set(windowId, window);
}

function toBulkItems(record: StageRecord, naming: Naming): BulkItem<StageRecord>[] {
  let parsed: { record?: unknown; id?: unknown; version?: unknown; document?: unknown };
  try {
    parsed = JSON.parse(record.value?.toString('utf8') ?? '') as typeof parsed;
  } catch {
    throw new PanaceaError('DECODE_FAILED', 'the metrics record is not JSON');
  }

  const { record: kind, id, version, document } = parsed;
  if (typeof kind !== 'string' || !(RECORD_KINDS as readonly string[]).includes(kind)) {
    throw violation('record', `expected one of ${RECORD_KINDS.join(', ')}`);
  }
  if (typeof id !== 'string' || id === '') throw violation('id', 'missing');
  if (!Number.isSafeInteger(version) || (version as number) < 0) {
    throw violation('version', 'expected a non-negative integer');
  }
  if (typeof document !== 'object' || document === null) throw violation('document', 'missing');

  const item: BulkItem<StageRecord> = {
    index: naming.metricsIndex(indexRecordOf(kind as RecordKind, id)),
    id,
    document,
    operation: 'index',
    version: version as number,
    tag: record,
  };
  if (kind !== 'status') return [item];
  return [item, statusHistoryItem(document, record, naming)];
}

/** A workflow window's partial carries its source in the id: `workflow:<id>:<start>|<source>`. */
function indexRecordOf(kind: RecordKind, id: string): MetricsIndexRecord {
  if (kind === 'window' && id.startsWith('workflow:') && id.includes('|')) return 'window_partial';
  return kind;
}

/**
 * The status change once more, in the history, under an id made of the agent, the change's time
 * and the position of its record on `agent.metrics`: every change is exactly one record in a
 * committed transaction there, so the position tells two changes of one batch apart (they share
 * `since`, the batch's processing time), and a redelivered record meets its own document (409 on
 * create: already stored).
 */
function statusHistoryItem(
  document: object,
  record: StageRecord,
  naming: Naming,
): BulkItem<StageRecord> {
  const change = document as {
    gen_ai?: { agent?: { id?: unknown } };
    panacea?: { status?: { current?: unknown; previous?: unknown; since?: unknown } };
  };
  const agentId = change.gen_ai?.agent?.id;
  const status = change.panacea?.status;
  if (typeof agentId !== 'string' || agentId === '') {
    throw violation('document.gen_ai.agent.id', 'missing');
  }
  if (typeof status?.current !== 'string' || typeof status.since !== 'string') {
    throw violation('document.panacea.status', 'expected current and since');
  }

  return {
    index: naming.metricsIndex('status_history'),
    id: `status:${agentId}:${status.since}:${record.partition}-${record.offset}`,
    document,
    operation: 'create',
    tag: record,
  };
}

function violation(field: string, problem: string): PanaceaError {
  return new PanaceaError('CONTRACT_VIOLATION', `metrics record: ${field} ${problem}`, { field });
}
