/**
 * Export of archived audit events for offline analysis: exactly the events whose event time is in
 * [from, to] and that match the actor, resource and outcome given, as NDJSON (contract events,
 * which `panacea produce` reads back) or CSV (one flat row per event, with a header).
 *
 * Only verified data goes out. Every partition's chain and signed head are checked before any
 * segment is read (a broken chain stops the export before it writes anything), and each segment
 * is checked against its manifest entry (SHA-256, records, offsets) in the same read that exports
 * it; a broken segment stops the export with ARCHIVE_INVALID, and the caller discards what was
 * written. Segments deleted by retention in the range are counted and reported, not silently
 * missing. Segments the summary rules out (time, actor, resource) are not read at all.
 *
 * Events come out partition by partition, each in offset order. Reading an event's fields needs
 * its writer schema, hence the schema codec: the archive keeps the records as published.
 */
import type { Writable } from 'node:stream';

import type { KeyObject } from 'node:crypto';

import { PanaceaError } from '../../core/errors.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import type { AuditEvent } from '../../schemas/event.js';
import { readRawRecord } from '../../schemas/raw-record.js';
import type { ManifestEntry } from './manifest.js';
import { archivedTopics } from './retention.js';
import { archivedPartitions } from './segment-files.js';
import { localSegmentStore, type SegmentStore } from './segment-store.js';
import { checkChain, readVerifiedSegment } from './verify-archive.js';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What to export; every field given must match. Times are event times, epoch ms, inclusive. */
export interface ExportFilter {
  fromMs: number;
  toMs: number;
  actor?: string;
  resource?: string;
  outcome?: AuditEvent['audit']['outcome'];
}

export interface ExportProgress {
  segmentsDone: number;
  segmentsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  eventsExported: number;
}

export interface ExportOptions {
  filter: ExportFilter;
  format: ExportFormat;
  publicKey: KeyObject;
  /** Reads an archived record's value into its event. */
  codec: SchemaCodec;
  output: Writable;
  /** Where the segments are; default the archive directory. */
  store?: SegmentStore;
  /** Called after each segment, for a progress display. */
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportReport {
  partitions: number;
  /** Segments read (all verified), and segments in the range that retention had deleted. */
  segmentsRead: number;
  deletedSegments: Array<{ topic: string; partition: number; segment: string }>;
  eventsRead: number;
  eventsExported: number;
}

interface Selected {
  topic: string;
  partition: number;
  entry: ManifestEntry;
  sizeBytes: number;
}

export async function exportArchive(root: string, options: ExportOptions): Promise<ExportReport> {
  const report: ExportReport = {
    partitions: 0,
    segmentsRead: 0,
    deletedSegments: [],
    eventsRead: 0,
    eventsExported: 0,
  };

  const store = options.store ?? localSegmentStore(root);
  const selected = await selectSegments(root, store, options, report);
  const progress: ExportProgress = {
    segmentsDone: 0,
    segmentsTotal: selected.length,
    bytesDone: 0,
    bytesTotal: selected.reduce((sum, segment) => sum + segment.sizeBytes, 0),
    eventsExported: 0,
  };
  options.onProgress?.(progress);

  if (options.format === 'csv') await write(options.output, `${CSV_COLUMNS.join(',')}\r\n`);
  for (const { topic, partition, entry, sizeBytes } of selected) {
    const read = await readVerifiedSegment(store, topic, partition, entry);
    if ('reason' in read) {
      throw new PanaceaError(
        'ARCHIVE_INVALID',
        `${topic} partition ${partition}, ${entry.segment}: ${read.reason}; the export is incomplete`,
        { topic, partition, segment: entry.segment },
      );
    }
    const lines: string[] = [];
    for (const record of read.records) {
      const { event } = await readRawRecord(options.codec, record.value, 'audit');
      const auditEvent = event as AuditEvent;
      report.eventsRead += 1;
      if (!eventMatches(auditEvent, options.filter)) continue;
      lines.push(options.format === 'csv' ? csvRowOf(auditEvent) : ndjsonLineOf(auditEvent));
    }
    if (lines.length > 0) await write(options.output, lines.join(''));
    report.segmentsRead += 1;
    report.eventsExported += lines.length;
    progress.segmentsDone += 1;
    progress.bytesDone += sizeBytes;
    progress.eventsExported = report.eventsExported;
    options.onProgress?.(progress);
  }
  return report;
}

/** Checks every chain first, then picks the segments that may hold a matching event. */
async function selectSegments(
  root: string,
  store: SegmentStore,
  options: ExportOptions,
  report: ExportReport,
): Promise<Selected[]> {
  const selected: Selected[] = [];
  for (const topic of archivedTopics(root)) {
    for (const partition of archivedPartitions(root, topic)) {
      report.partitions += 1;
      const chain = checkChain(root, topic, partition, options.publicKey);
      if ('broken' in chain) {
        const { segment, reason } = chain.broken;
        throw new PanaceaError(
          'ARCHIVE_INVALID',
          `${topic} partition ${partition}, ${segment}: ${reason}; nothing was exported (run panacea audit verify)`,
          { topic, partition, segment },
        );
      }
      for (const entry of chain.entries) {
        if (!segmentMayMatch(entry, options.filter)) continue;
        if (chain.deleted.has(entry.segment)) {
          report.deletedSegments.push({ topic, partition, segment: entry.segment });
          continue;
        }
        const location = { topic, partition, segment: entry.segment };
        const sizeBytes = (await store.segmentSizeBytes(location)) ?? 0;
        selected.push({ topic, partition, entry, sizeBytes });
      }
    }
  }
  return selected;
}

/**
 * Whether the entry's summary leaves room for a matching event. Without a summary (or with an id
 * list left out) the segment is read; Kafka times bound event times only loosely, so they are not
 * used to rule a segment out.
 */
function segmentMayMatch(entry: ManifestEntry, filter: ExportFilter): boolean {
  if (entry.records === 0) return false;
  const summary = entry.summary;
  if (summary === undefined) return true;
  if (summary.events === 0) return false;
  if (summary.newestEventTime !== null && Date.parse(summary.newestEventTime) < filter.fromMs) {
    return false;
  }
  if (summary.oldestEventTime !== null && Date.parse(summary.oldestEventTime) > filter.toMs) {
    return false;
  }
  if (filter.actor !== undefined && summary.actors?.includes(filter.actor) === false) return false;
  if (filter.resource !== undefined && summary.resources?.includes(filter.resource) === false) {
    return false;
  }
  return true;
}

export function eventMatches(event: AuditEvent, filter: ExportFilter): boolean {
  return (
    event.timestamp >= filter.fromMs &&
    event.timestamp <= filter.toMs &&
    (filter.actor === undefined || event.audit.actor.id === filter.actor) &&
    (filter.resource === undefined || event.audit.resource.id === filter.resource) &&
    (filter.outcome === undefined || event.audit.outcome === filter.outcome)
  );
}

/** The contract event with its time as RFC 3339, which the contract's JSON form accepts too. */
function ndjsonLineOf(event: AuditEvent): string {
  return `${JSON.stringify({ ...event, timestamp: new Date(event.timestamp).toISOString() })}\n`;
}

export const CSV_COLUMNS = [
  'eventId',
  'timestamp',
  'agentId',
  'agentName',
  'workflowId',
  'taskId',
  'traceId',
  'spanId',
  'actorType',
  'actorId',
  'action',
  'resourceType',
  'resourceId',
  'outcome',
  'reason',
  'sourceIp',
] as const;

function csvRowOf(event: AuditEvent): string {
  const { audit } = event;
  const values: Record<(typeof CSV_COLUMNS)[number], string | undefined> = {
    eventId: event.eventId,
    timestamp: new Date(event.timestamp).toISOString(),
    agentId: event.agent.id,
    agentName: event.agent.name,
    workflowId: event.workflowId,
    taskId: event.taskId,
    traceId: event.traceId,
    spanId: event.spanId,
    actorType: audit.actor.type,
    actorId: audit.actor.id,
    action: audit.action,
    resourceType: audit.resource.type,
    resourceId: audit.resource.id,
    outcome: audit.outcome,
    reason: audit.reason,
    sourceIp: audit.sourceIp,
  };
  return `${CSV_COLUMNS.map((column) => csvField(values[column])).join(',')}\r\n`;
}

/**
 * One CSV field as RFC 4180 has it: quoted when it holds a comma, a quote, a line break or
 * leading or trailing space, with its quotes doubled; an absent value is an empty field.
 */
export function csvField(value: string | undefined): string {
  if (value === undefined) return '';
  if (!/[",\r\n]|^\s|\s$/.test(value)) return value;
  return `"${value.replaceAll('"', '""')}"`;
}

/** Writes and waits for the stream to drain when it asks to, so memory stays flat. */
async function write(output: Writable, text: string): Promise<void> {
  if (output.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      output.off('drain', onDrain);
      reject(error);
    };
    const onDrain = (): void => {
      output.off('error', onError);
      resolve();
    };
    output.once('drain', onDrain);
    output.once('error', onError);
  });
}
