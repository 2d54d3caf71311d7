/**
 * Where an archived partition lives on disk and what its files are called:
 * `<archive>/<topic>/partition-<n>/` holds `<topic>-<n>-<first offset>-<last offset>.avro`
 * segments (offsets padded to 20 digits, so names sort in offset order), `manifest.ndjson` and
 * `head.json`. Also the start-up recovery that keeps the directory to what the manifest lists.
 */
import { existsSync, readdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';

import type { Logger } from '../../core/logger.js';
import { HEAD_FILE } from './chain-head.js';
import { MANIFEST_FILE, type ManifestEntry } from './manifest.js';

const OFFSET_DIGITS = 20;
export const SEGMENT_SUFFIX = '.avro';
export const TEMPORARY_SUFFIX = '.tmp';
const PARTITION_DIRECTORY_PATTERN = /^partition-(\d+)$/;

export function partitionDirectory(root: string, topic: string, partition: number): string {
  return path.join(root, topic, `partition-${partition}`);
}

/** The partitions of `topic` that have a directory under `root`, in order. */
export function archivedPartitions(root: string, topic: string): number[] {
  const directory = path.join(root, topic);
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .map((name) => PARTITION_DIRECTORY_PATTERN.exec(name)?.[1])
    .filter((partition): partition is string => partition !== undefined)
    .map(Number)
    .sort((left, right) => left - right);
}

export function segmentName(
  topic: string,
  partition: number,
  firstOffset: bigint,
  lastOffset: bigint,
): string {
  const pad = (offset: bigint): string => offset.toString().padStart(OFFSET_DIGITS, '0');
  return `${topic}-${partition}-${pad(firstOffset)}-${pad(lastOffset)}${SEGMENT_SUFFIX}`;
}

/** Files in a partition's directory that are segments or temporary segments. */
export function segmentFilesIn(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((name) => name.endsWith(SEGMENT_SUFFIX) || name.endsWith(TEMPORARY_SUFFIX))
    .filter((name) => name !== `${HEAD_FILE}${TEMPORARY_SUFFIX}` && name !== MANIFEST_FILE)
    .sort();
}

/**
 * The recovery rule after a crash: a segment counts only once it is in the manifest, and offsets
 * are committed only after that, so a temporary file or a segment the manifest does not list holds
 * records whose offsets were never committed. They are read again from Kafka and written into a
 * new segment, possibly with other bounds; removing the leftovers first is what keeps a record
 * from being in the archive twice. Returns the names removed.
 */
export async function removeUnlistedSegments(
  directory: string,
  entries: ManifestEntry[],
  logger: Logger,
): Promise<string[]> {
  const listed = new Set(entries.map((entry) => entry.segment));
  const removed = segmentFilesIn(directory).filter((name) => !listed.has(name));
  for (const name of removed) await rm(path.join(directory, name));
  if (removed.length > 0) {
    // Without this a crash could bring a removed leftover back.
    await syncDirectory(directory);
    logger.warn({ directory, removed }, 'removed segments an interrupted run left unlisted');
  }
  return removed;
}

/** A rename or removal is durable only once its directory entry is on disk too. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
