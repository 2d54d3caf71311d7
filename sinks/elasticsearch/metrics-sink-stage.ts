/**
 * The metrics sink stage: `agent.metrics` in (window results, status changes, task records, as
 * the metrics stage writes them), the plain indices `metrics-agent.<record>-<namespace>` out.
 * Each document goes under its deterministic id with the `index` operation and an external
 * version that only grows, so a newer figure overwrites and a replayed older one does not.
 *
 * It reads committed transactions only (kafkajs's default), so nothing an aborted metrics batch
 * wrote ever reaches Elasticsearch.
 */
import type { Client } from '@elastic/elasticsearch';

import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import {
  type BatchContext,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import { writeBatchInBulk } from './bulk-batch.js';
import { BulkWriter, type BulkItem } from './bulk-writer.js';

export const METRICS_SINK_STAGE = 'sink-metrics';

const RECORD_KINDS = ['window', 'status', 'task'] as const;
type RecordKind = (typeof RECORD_KINDS)[number];

export interface MetricsSinkStageOptions {
  naming: Naming;
  client: Client;
}

export function createMetricsSinkStage(options: MetricsSinkStageOptions): StageDefinition {
  const { naming, client } = options;
  const writer = new BulkWriter({
    client,
    logger: componentLogger(`stage.${METRICS_SINK_STAGE}.bulk`),
  });

  return {
    name: METRICS_SINK_STAGE,
    inputTopics: [naming.metricsTopic()],
    summary: { target: naming.metricsIndex('window').replace('.window-', '.<record>-') },
    handleBatch: (records: StageRecord[], context: BatchContext): Promise<BatchOutcome> =>
      writeBatchInBulk(records, (record) => toBulkItem(record, naming), writer, context),
  };
}

function toBulkItem(record: StageRecord, naming: Naming): BulkItem<StageRecord> {
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

  return {
    index: naming.metricsIndex(kind as RecordKind),
    id,
    document,
    operation: 'index',
    version: version as number,
    tag: record,
  };
}

function violation(field: string, problem: string): PanaceaError {
  return new PanaceaError('CONTRACT_VIOLATION', `metrics record: ${field} ${problem}`, { field });
}
