/**
 * The alerts sink stage: `agent.alerts` (notifications) and `panacea.silences` in, the plain
 * indices `alerts-agent.alert-<namespace>` and `alerts-agent.silence-<namespace>` out.
 *
 * A notification is stored once under its `notificationId` (`create`; a redelivery meets its own
 * document and counts as written). A silence is stored under its id with the `index` operation
 * and the record's offset as external version, so an expiry (a newer record of the same silence)
 * overwrites it and a replayed older record does not. A silence tombstone removes nothing here:
 * the document keeps the silence's history.
 */
import type { Client } from '@elastic/elasticsearch';

import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import type { BatchContext, StageDefinition, StageRecord } from '../../core/stage-runner.js';
import { writeBatchInBulk } from './bulk-batch.js';
import { BulkWriter, type BulkItem } from './bulk-writer.js';

export const ALERTS_SINK_STAGE = 'sink-alerts';

export interface AlertsSinkStageOptions {
  naming: Naming;
  client: Client;
}

export function createAlertsSinkStage(options: AlertsSinkStageOptions): StageDefinition {
  const { naming, client } = options;
  const writer = new BulkWriter({
    client,
    logger: componentLogger(`stage.${ALERTS_SINK_STAGE}.bulk`),
  });
  const toItems = (record: StageRecord): BulkItem<StageRecord>[] =>
    record.topic === naming.silencesTopic()
      ? silenceItems(record, naming)
      : [notificationItem(record, naming)];

  return {
    name: ALERTS_SINK_STAGE,
    inputTopics: [naming.alertsTopic(), naming.silencesTopic()],
    summary: { alerts: naming.alertsIndex('alert'), silences: naming.alertsIndex('silence') },
    handleBatch: (records: StageRecord[], context: BatchContext) =>
      writeBatchInBulk(records, toItems, writer, context),
    writerStats: () => writer.stats(),
  };
}

function notificationItem(record: StageRecord, naming: Naming): BulkItem<StageRecord> {
  const notification = parse(record, 'alert notification');
  const { notificationId, emittedAt } = notification;
  if (typeof notificationId !== 'string' || notificationId === '') {
    throw violation('alert notification', 'notificationId');
  }
  if (typeof emittedAt !== 'string') throw violation('alert notification', 'emittedAt');
  return {
    index: naming.alertsIndex('alert'),
    id: notificationId,
    document: { '@timestamp': emittedAt, ...notification },
    tag: record,
  };
}

function silenceItems(record: StageRecord, naming: Naming): BulkItem<StageRecord>[] {
  if (record.value === null) return [];
  const silence = parse(record, 'silence');
  const { id, updatedAt } = silence;
  if (typeof id !== 'string' || id === '') throw violation('silence', 'id');
  if (typeof updatedAt !== 'string') throw violation('silence', 'updatedAt');
  return [
    {
      index: naming.alertsIndex('silence'),
      id,
      document: { '@timestamp': updatedAt, ...silence },
      operation: 'index',
      version: Number(record.offset),
      tag: record,
    },
  ];
}

function parse(record: StageRecord, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.value?.toString('utf8') ?? '');
  } catch {
    throw new PanaceaError('DECODE_FAILED', `the ${what} record is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PanaceaError('CONTRACT_VIOLATION', `the ${what} record is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function violation(what: string, field: string): PanaceaError {
  return new PanaceaError('CONTRACT_VIOLATION', `${what}: ${field} missing or not text`, { field });
}
