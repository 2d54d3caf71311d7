/**
 * What both Elasticsearch sinks do with a batch: turn each record into a bulk item (a record that
 * cannot be one is dead-lettered with its reason), write them all, and dead-letter each item
 * Elasticsearch refused with its answer, so the batch is handed back only when every record is
 * stored or parked.
 */
import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import {
  deadLetterFor,
  type BatchContext,
  type BatchOutcome,
  type StageRecord,
} from '../../core/stage-runner.js';
import type { BulkItem, BulkWriter } from './bulk-writer.js';

export async function writeBatchInBulk(
  records: readonly StageRecord[],
  toBulkItem: (record: StageRecord) => BulkItem<StageRecord>,
  writer: BulkWriter,
  context: BatchContext,
): Promise<BatchOutcome> {
  const deadLetters: DeadLetter[] = [];
  const items: BulkItem<StageRecord>[] = [];

  for (const record of records) {
    try {
      items.push(toBulkItem(record));
    } catch (error) {
      deadLetters.push(deadLetterFor(record, error));
    }
  }

  const result = await writer.write(items, context);
  for (const refused of result.refused) {
    const error = new PanaceaError(
      'DOCUMENT_REJECTED',
      `Elasticsearch answered ${refused.status}: ${refused.reason}`,
      { index: refused.item.index, id: refused.item.id },
    );
    deadLetters.push(deadLetterFor(refused.item.tag, error));
  }
  return { deadLetters };
}
