/**
 * What both Elasticsearch sinks do with a batch: turn each record into its bulk items (a record
 * that cannot be one is dead-lettered with its reason), write them all, and dead-letter each record
 * with an item Elasticsearch refused, with its answer, so the batch is handed back only when every
 * record is stored or parked. A record with several items (a status change goes to the current
 * status and to the history) is dead-lettered once, for its first refused item.
 */
import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import {
  deadLetterFor,
  type BatchContext,
  type BatchOutcome,
  type StageRecord,
} from '../../core/stage-runner.js';
import type { BulkItem, BulkWriter, RefusedItem } from './bulk-writer.js';

export async function writeBatchInBulk(
  records: readonly StageRecord[],
  toBulkItems: (record: StageRecord) => BulkItem<StageRecord>[],
  writer: BulkWriter,
  context: BatchContext,
): Promise<BatchOutcome> {
  const deadLetters: DeadLetter[] = [];
  const items: BulkItem<StageRecord>[] = [];

  for (const record of records) {
    try {
      items.push(...toBulkItems(record));
    } catch (error) {
      deadLetters.push(deadLetterFor(record, error));
    }
  }

  const result = await writer.write(items, context);
  deadLetters.push(...deadLettersForRefused(result.refused));
  return { deadLetters };
}

/**
 * One dead letter per record with an item Elasticsearch refused, carrying its answer; `what`
 * names the document when it is not the record itself (`the combined window`).
 */
export function deadLettersForRefused(
  refused: readonly RefusedItem<StageRecord>[],
  what?: string,
): DeadLetter[] {
  const deadLetters: DeadLetter[] = [];
  const refusedRecords = new Set<StageRecord>();
  for (const { item, status, reason } of refused) {
    if (refusedRecords.has(item.tag)) continue;
    refusedRecords.add(item.tag);
    const error = new PanaceaError(
      'DOCUMENT_REJECTED',
      `Elasticsearch answered ${status}${what === undefined ? '' : ` to ${what}`}: ${reason}`,
      { index: item.index, id: item.id },
    );
    deadLetters.push(deadLetterFor(item.tag, error));
  }
  return deadLetters;
}
