/**
 * The audit archive stage: the raw audit topic in (not the enriched one, so the archive holds what
 * the agent said, before any enrichment), one segment per batch out, under
 * `<data dir>/audit-archive/<topic>/partition-<n>/`. Offsets are committed only after the segment
 * is on disk. Records that cannot be read go to the audit topic's dead-letter topic.
 */
import path from 'node:path';

import type { DeadLetter } from '../../core/dead-letter.js';
import type { Naming } from '../../core/naming.js';
import {
  deadLetterFor,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import { PanaceaError } from '../../core/errors.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { readRawRecord } from '../../schemas/raw-record.js';
import { partitionDirectory, writeSegment, type ArchivedLine } from './segment-store.js';

// Known gap: one segment per consumed batch, so a trickle of audit events makes many small files;
// rolling by size and time comes with the archive's hardening (hash chain, retention).
export const AUDIT_ARCHIVE_STAGE = 'sink-audit-archive';

export interface AuditArchiveStageOptions {
  naming: Naming;
  dataDir: string;
  /** Reads raw records whatever schema version wrote them. */
  codec: SchemaCodec;
}

export function auditArchiveRoot(dataDir: string): string {
  return path.join(dataDir, 'audit-archive');
}

export function createAuditArchiveStage(options: AuditArchiveStageOptions): StageDefinition {
  const root = auditArchiveRoot(options.dataDir);
  const topic = options.naming.rawTopic('audit');

  return {
    name: AUDIT_ARCHIVE_STAGE,
    inputTopics: [topic],
    summary: { directory: root },
    async handleBatch(records: StageRecord[]): Promise<BatchOutcome> {
      const lines: ArchivedLine[] = [];
      const deadLetters: DeadLetter[] = [];

      for (const record of records) {
        try {
          const raw = await readRawRecord(options.codec, record.value, 'audit');
          // A repaired text is not what arrived byte for byte; the line says so.
          lines.push({
            offset: record.offset,
            event: raw.event,
            ...(raw.repairedUtf8 ? { invalidUtf8: true as const } : {}),
          });
        } catch (error) {
          // Only the record's own faults are dead-lettered; a registry out of reach is retried.
          if (!(error instanceof PanaceaError) || error.retriable) throw error;
          deadLetters.push(deadLetterFor(record, error));
        }
      }

      const first = records[0];
      const last = records.at(-1);
      if (lines.length > 0 && first !== undefined && last !== undefined) {
        await writeSegment(
          partitionDirectory(root, first.topic, first.partition),
          first.offset,
          last.offset,
          lines,
        );
      }
      return { deadLetters };
    },
  };
}
