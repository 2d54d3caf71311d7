/**
 * The Elasticsearch sink stage: enriched documents in, one data stream per event kind out
 * (`logs-agent.<kind>-<namespace>`), each document under its event id. Documents Elasticsearch
 * refuses for good go to the enriched topic's dead-letter topic with Elasticsearch's reason.
 */
import type { Client } from '@elastic/elasticsearch';

import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { EVENT_KINDS, type EventKind, type Naming } from '../../core/naming.js';
import {
  type BatchContext,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import { writeBatchInBulk } from './bulk-batch.js';
import { BulkWriter, type BulkItem } from './bulk-writer.js';

// Known gap: create-by-_id dedupes within the write index only, so a batch redelivered across a
// rollover could be stored twice. A replay (cli/replay/replay-targets.ts) looks ids up in every
// backing index first; the live stage does not, to keep one request per batch.
export const ELASTICSEARCH_STAGE = 'sink-elasticsearch';

/**
 * The stage's fetch size per partition, bytes: one fetched batch is one bulk write, and the
 * commit waits for it, so this is the sink's flush-by-bytes. A few MiB per request is what
 * Elasticsearch ingests fastest (the client's bulk helper flushes at 5 MB); with 1 MiB fetches
 * the sink reached about 0.7 of that helper, with 4 MiB 0.8 to 0.9 (bench/sink.ts). While
 * Elasticsearch is down it bounds what the stage holds: one batch per partition in hand.
 * Known gap: a constant, like the writer's request bounds; they become settings when someone
 * needs to tune them (README, known limitations).
 */
export const ELASTICSEARCH_STAGE_MAX_BYTES_PER_PARTITION = 4 * 1024 * 1024;

export interface ElasticsearchStageOptions {
  naming: Naming;
  namespace: string;
  client: Client;
  /** Handed to the bulk writer; see `BulkWriterOptions` for the defaults. */
  maxRequestBytes?: number;
  maxRequestsInFlight?: number;
}

export function createElasticsearchStage(options: ElasticsearchStageOptions): StageDefinition {
  const { naming, namespace, client } = options;
  const writer = new BulkWriter({
    client,
    logger: componentLogger(`stage.${ELASTICSEARCH_STAGE}.bulk`),
    maxRequestBytes: options.maxRequestBytes,
    maxRequestsInFlight: options.maxRequestsInFlight,
  });

  return {
    name: ELASTICSEARCH_STAGE,
    inputTopics: [naming.enrichedTopic()],
    summary: { target: `logs-agent.<kind>-${namespace}` },
    handleBatch: (records: StageRecord[], context: BatchContext): Promise<BatchOutcome> =>
      writeBatchInBulk(
        records,
        (record) => [toBulkItem(record, naming, namespace)],
        writer,
        context,
      ),
    writerStats: () => writer.stats(),
    watchWriterAvailability: (listener) => writer.onAvailabilityChange(listener),
  };
}

function toBulkItem(record: StageRecord, naming: Naming, namespace: string): BulkItem<StageRecord> {
  let document: { event?: { id?: unknown; dataset?: unknown }; panacea?: { kind?: unknown } };
  try {
    document = JSON.parse(record.value?.toString('utf8') ?? '') as typeof document;
  } catch {
    throw new PanaceaError('DECODE_FAILED', 'the enriched record is not JSON');
  }

  const kind = document.panacea?.kind;
  const id = document.event?.id;
  if (typeof kind !== 'string' || !(EVENT_KINDS as readonly string[]).includes(kind)) {
    throw new PanaceaError('CONTRACT_VIOLATION', 'panacea.kind is missing or not an event kind', {
      field: 'panacea.kind',
    });
  }
  if (typeof id !== 'string' || id === '') {
    throw new PanaceaError('CONTRACT_VIOLATION', 'event.id is missing', { field: 'event.id' });
  }

  const dataset = `agent.${kind}`;
  return {
    index: naming.dataStream(kind as EventKind),
    id,
    document: { ...document, data_stream: { type: 'logs', dataset, namespace } },
    tag: record,
  };
}
