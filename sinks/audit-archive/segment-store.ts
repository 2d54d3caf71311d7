/**
 * Where sealed segments are kept: the storage interface of the audit archive, with the local
 * directory as the default and S3-compatible object storage beside it (s3-segment-store.ts).
 *
 * What goes through it is what is large and written once: the sealed segment files, and a copy
 * of each small metadata file (manifest, signed head, deletion marks, hold log) after every change,
 * so that a bucket holds the whole archive in the same layout as the directory. The metadata's
 * working copy, with its append and crash-recovery rules, stays in the local archive directory;
 * the open segment is written there too, and handed to the store when it is sealed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';
import { partitionDirectory, SEGMENT_SUFFIX, syncDirectory } from './segment-files.js';

export interface SegmentLocation {
  topic: string;
  partition: number;
  /** The segment's file name (see segment-files.ts). */
  segment: string;
}

export interface PutSegmentOptions {
  /** SHA-256 of the file, hex, as the manifest entry will state it. */
  sha256: string;
}

export interface SegmentStore {
  /** Where segments are kept, for logs and messages (no credentials). */
  readonly description: string;
  /**
   * Makes a sealed, flushed local file the stored segment, durably, and consumes the local file
   * (moved or uploaded, then removed). Storing the same location again replaces it.
   */
  putSegment(
    location: SegmentLocation,
    localFile: string,
    options: PutSegmentOptions,
  ): Promise<void>;
  /** The segment's bytes, or undefined when the store does not have it. */
  readSegment(location: SegmentLocation): Promise<Buffer | undefined>;
  /** Its size in bytes, or undefined when the store does not have it. */
  segmentSizeBytes(location: SegmentLocation): Promise<number | undefined>;
  /** Removes the segment; 'absent' when it was not there. */
  removeSegment(location: SegmentLocation): Promise<'removed' | 'absent'>;
  /** Names of the sealed segments stored for the partition, sorted. */
  listSegments(topic: string, partition: number): Promise<string[]>;
  /**
   * Copies a metadata file of the archive directory to the same relative path in the store, after
   * it changed. Nothing to do for the local directory, which is that copy.
   */
  mirror(relativePath: string, archiveRoot: string): Promise<void>;
}

/** The default store: the segments in the archive directory itself, beside their manifest. */
export function localSegmentStore(root: string): SegmentStore {
  const fileOf = (location: SegmentLocation): string =>
    path.join(partitionDirectory(root, location.topic, location.partition), location.segment);
  return {
    description: `directory ${root}`,
    async putSegment(location, localFile) {
      const finalPath = fileOf(location);
      if (localFile !== finalPath) await rename(localFile, finalPath);
      await syncDirectory(path.dirname(finalPath));
    },
    async readSegment(location) {
      try {
        return await readFile(fileOf(location));
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw unreadable(fileOf(location), error);
      }
    },
    async segmentSizeBytes(location) {
      try {
        return (await stat(fileOf(location))).size;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw unreadable(fileOf(location), error);
      }
    },
    async removeSegment(location) {
      try {
        await rm(fileOf(location));
      } catch (error) {
        if (isMissing(error)) return 'absent';
        throw new PanaceaError(
          'ARCHIVE_WRITE_FAILED',
          `could not delete audit segment ${location.segment}`,
          { ...location },
          error,
        );
      }
      await syncDirectory(path.dirname(fileOf(location)));
      return 'removed';
    },
    async listSegments(topic, partition) {
      const directory = partitionDirectory(root, topic, partition);
      if (!existsSync(directory)) return [];
      return readdirSync(directory)
        .filter((name) => name.endsWith(SEGMENT_SUFFIX))
        .sort();
    },
    mirror: async () => undefined,
  };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

function unreadable(file: string, error: unknown): PanaceaError {
  return new PanaceaError('FILE_UNREADABLE', `cannot read audit segment ${file}`, { file }, error);
}
