/**
 * Local storage of audit archive segments: one directory per topic partition, one NDJSON file per
 * segment named by the first and last offset it covers. A segment is written to a temporary name,
 * flushed to disk, then renamed, so a reader never sees half a segment; after a crash the same
 * range is written again under the same name and replaces the old file instead of adding to it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';

const OFFSET_DIGITS = 20;
const SEGMENT_PATTERN = /^(\d{20})-(\d{20})\.ndjson$/;

export interface ArchivedLine {
  offset: string;
  event: unknown;
  /** Present when a text of the record was not valid UTF-8 and is archived with U+FFFD. */
  invalidUtf8?: true;
}

export interface SegmentRange {
  file: string;
  firstOffset: bigint;
  lastOffset: bigint;
}

export function partitionDirectory(root: string, topic: string, partition: number): string {
  return path.join(root, topic, `partition-${partition}`);
}

/**
 * Writes the segment for [firstOffset, lastOffset] and removes the leftovers of uncommitted
 * batches that start inside that range (a crash between a write and its commit, with other batch
 * bounds after the restart).
 */
export async function writeSegment(
  directory: string,
  firstOffset: string,
  lastOffset: string,
  lines: ArchivedLine[],
): Promise<string> {
  const name = `${firstOffset.padStart(OFFSET_DIGITS, '0')}-${lastOffset.padStart(OFFSET_DIGITS, '0')}.ndjson`;
  const finalPath = path.join(directory, name);
  const temporaryPath = `${finalPath}.tmp`;

  // Asynchronous file calls run on libuv's pool: a slow fsync on a busy disk does not stall the
  // other stages of the process (and their heartbeats) while it waits.
  try {
    await mkdir(directory, { recursive: true });
    const file = await open(temporaryPath, 'w');
    try {
      await file.writeFile(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporaryPath, finalPath);
    await syncDirectory(directory);
  } catch (error) {
    throw new PanaceaError(
      'ARCHIVE_WRITE_FAILED',
      `could not write audit segment ${finalPath}`,
      { file: finalPath },
      error,
    );
  }

  // A segment that starts inside the range just written is a leftover of a batch that was written
  // but not committed before a crash; its records are in the new segment or will be in the next
  // ones (they come again from the same offset). One that starts before is kept: it was committed,
  // and removing it could lose records Kafka no longer has.
  let removed = false;
  for (const segment of listSegments(directory)) {
    const startsInside =
      segment.firstOffset >= BigInt(firstOffset) && segment.firstOffset <= BigInt(lastOffset);
    if (startsInside && segment.file !== finalPath) {
      await rm(segment.file);
      removed = true;
    }
  }
  // Without this a crash could bring a removed leftover back next to its replacement.
  if (removed) await syncDirectory(directory);
  return finalPath;
}

export function listSegments(directory: string): SegmentRange[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .map((name) => ({ name, match: SEGMENT_PATTERN.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({
      file: path.join(directory, name),
      firstOffset: BigInt(match[1] ?? '0'),
      lastOffset: BigInt(match[2] ?? '0'),
    }))
    .sort((left, right) => (left.firstOffset < right.firstOffset ? -1 : 1));
}

export function readSegment(file: string): ArchivedLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ArchivedLine);
}

/** A rename is durable only once its directory entry is on disk too. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
