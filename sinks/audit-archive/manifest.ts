/**
 * The manifest of one archived partition: an append-only NDJSON file, one entry per segment in
 * offset order, each entry holding the segment's SHA-256 and the hash of the entry before it, so
 * that changing, removing or reordering any segment or entry breaks the chain from that point on.
 *
 * An entry's hash is the SHA-256 of its other fields in a fixed order (see `entryHashOf`); the
 * first entry's `previousHash` is 64 zeros. The last entry's hash is signed in the chain head
 * (chain-head.ts), which is what makes rewriting the whole chain detectable too.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { parseSummary, type SegmentSummary } from './segment-summary.js';

export const MANIFEST_FILE = 'manifest.ndjson';
export const GENESIS_HASH = '0'.repeat(64);

export interface ManifestEntry {
  /** The segment's file name, in the partition's directory. */
  segment: string;
  /** SHA-256 of the segment file, hex. */
  sha256: string;
  records: number;
  /** First and last offset of the range the segment covers (see README, "Audit archive"). */
  firstOffset: string;
  lastOffset: string;
  /** Kafka timestamps of the segment's first and last record, RFC 3339; null when it has none. */
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  /**
   * The events' time range and actor and resource ids (segment-summary.ts), which retention and
   * legal holds decide from. Absent in entries written before summaries existed.
   */
  summary?: SegmentSummary;
  previousHash: string;
  entryHash: string;
}

export type UnhashedEntry = Omit<ManifestEntry, 'entryHash'>;

/**
 * The hash of an entry: SHA-256 of its fields but `entryHash`, as JSON in this order. The summary
 * is hashed only when present (its fields in a fixed order too), so entries written before it
 * existed keep their hashes, and a summary changed to let a held segment go breaks the chain.
 */
export function entryHashOf(entry: UnhashedEntry): string {
  const fields: unknown[] = [
    entry.segment,
    entry.sha256,
    entry.records,
    entry.firstOffset,
    entry.lastOffset,
    entry.firstTimestamp,
    entry.lastTimestamp,
    entry.previousHash,
  ];
  const summary = entry.summary;
  if (summary !== undefined) {
    fields.push([
      summary.events,
      summary.oldestEventTime,
      summary.newestEventTime,
      summary.actors,
      summary.resources,
    ]);
  }
  return sha256Hex(Buffer.from(JSON.stringify(fields)));
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function withEntryHash(entry: UnhashedEntry): ManifestEntry {
  return { ...entry, entryHash: entryHashOf(entry) };
}

export interface ManifestRead {
  entries: ManifestEntry[];
  /**
   * Bytes of the file up to the end of its last complete entry. Less than the file's size when a
   * crash cut the last append short: that entry was never acknowledged, so its offsets were never
   * committed either.
   */
  completeBytes: number;
  sizeBytes: number;
}

/** Reads a manifest; a line in the middle that is not an entry fails ARCHIVE_INVALID. */
export function readManifest(directory: string): ManifestRead {
  const file = path.join(directory, MANIFEST_FILE);
  if (!existsSync(file)) return { entries: [], completeBytes: 0, sizeBytes: 0 };

  const text = readFileSync(file);
  const entries: ManifestEntry[] = [];
  let start = 0;
  let lineNumber = 0;
  for (;;) {
    const end = text.indexOf(0x0a, start);
    // Without its newline the last line is a cut-short append, whatever it holds.
    if (end === -1) break;
    lineNumber += 1;
    entries.push(parseEntry(text.subarray(start, end).toString('utf8'), file, lineNumber));
    start = end + 1;
  }
  return { entries, completeBytes: start, sizeBytes: text.length };
}

function parseEntry(line: string, file: string, lineNumber: number): ManifestEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `manifest line ${lineNumber} is not JSON: ${messageOf(error)}`,
      { file, line: lineNumber },
    );
  }
  const entry = value as Partial<ManifestEntry>;
  const strings = ['segment', 'sha256', 'firstOffset', 'lastOffset', 'previousHash', 'entryHash'];
  const wellFormed =
    typeof value === 'object' &&
    value !== null &&
    strings.every((key) => typeof (entry as Record<string, unknown>)[key] === 'string') &&
    Number.isInteger(entry.records) &&
    /^\d+$/.test(entry.firstOffset ?? '') &&
    /^\d+$/.test(entry.lastOffset ?? '') &&
    (entry.summary === undefined || parseSummary(entry.summary) !== undefined);
  if (!wellFormed) {
    throw new PanaceaError('ARCHIVE_INVALID', `manifest line ${lineNumber} is not an entry`, {
      file,
      line: lineNumber,
    });
  }
  return entry as ManifestEntry;
}

/** Cuts a cut-short last append off, so the next entry starts on a line of its own. */
export async function dropIncompleteTail(directory: string, read: ManifestRead): Promise<void> {
  if (read.completeBytes === read.sizeBytes) return;
  await truncate(path.join(directory, MANIFEST_FILE), read.completeBytes);
}

/** Appends one entry and flushes it to disk before returning. */
export async function appendManifestEntry(directory: string, entry: ManifestEntry): Promise<void> {
  const file = await open(path.join(directory, MANIFEST_FILE), 'a');
  try {
    await file.write(`${JSON.stringify(entry)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
}
