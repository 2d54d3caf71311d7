/**
 * Audit archive retention: a segment whose newest event is older than the retention is deleted,
 * unless an active legal hold may need it (hold-log.ts). What a deletion leaves is described in
 * deletion-log.ts: the manifest entry and its hash stay, a signed mark says the file is gone on
 * purpose, and `verify` checks the chain through it.
 *
 * Steps of a run, under the archive lock: read and check the hold log (a log in doubt stops the
 * run: nothing is deleted that a hold might keep), then for each partition check that the key
 * signs its chain head (a mark signed with another key would break `verify`), and for each entry
 * decide: already deleted, no events, too young, held, or deleted now.
 */
import { channel } from 'node:diagnostics_channel';
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { formatDuration } from '../../core/durations.js';
import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { withArchiveLock } from './archive-lock.js';
import { headSignatureValid, readHead, type SigningKey } from './chain-head.js';
import {
  appendDeletion,
  DELETION_LOG_FILE,
  readDeletions,
  validDeletionOf,
} from './deletion-log.js';
import { holdMatches, readHoldLog, type ActiveHold } from './hold-log.js';
import { readManifest, type ManifestEntry } from './manifest.js';
import { archivedPartitions, partitionDirectory } from './segment-files.js';
import { localSegmentStore, type SegmentStore } from './segment-store.js';

/** Published once per segment deleted, with `{ topic, partition, segment, newestTime }`. */
export const retentionChannel = channel('panacea:audit-archive:retention');

export interface RetentionOptions {
  retentionMs: number;
  /** The signing key of the archive: deletion marks are signed with it. */
  key: SigningKey;
  logger: Logger;
  dryRun?: boolean;
  /** "Now", epoch ms; default the clock. */
  nowMs?: number;
  /** Where the segments are; default the archive directory. */
  store?: SegmentStore;
}

export interface RetainedSegment {
  topic: string;
  partition: number;
  segment: string;
  /** The newest event or record time in it, RFC 3339. */
  newestTime: string;
}

export interface RetentionReport {
  retention: string;
  /** Segments whose newest time is before this are eligible, RFC 3339. */
  cutoff: string;
  dryRun: boolean;
  /** Deleted by this run (or, with dryRun, that would be). */
  deleted: RetainedSegment[];
  /** Eligible but kept for the active holds named. */
  held: Array<RetainedSegment & { holds: string[] }>;
  /** Segments younger than the cutoff, or without events, left alone. */
  kept: number;
  /** Deleted by an earlier run. */
  alreadyDeleted: number;
  activeHolds: number;
}

export async function applyRetention(
  root: string,
  options: RetentionOptions,
): Promise<RetentionReport> {
  const nowMs = options.nowMs ?? Date.now();
  const cutoffMs = nowMs - options.retentionMs;
  const report: RetentionReport = {
    retention: formatDuration(options.retentionMs),
    cutoff: new Date(cutoffMs).toISOString(),
    dryRun: options.dryRun ?? false,
    deleted: [],
    held: [],
    kept: 0,
    alreadyDeleted: 0,
    activeHolds: 0,
  };

  const store = options.store ?? localSegmentStore(root);
  await withArchiveLock(root, 'retention', async () => {
    const holds = readHoldLog(root, options.key.publicKey).active;
    report.activeHolds = holds.length;
    for (const topic of archivedTopics(root)) {
      for (const partition of archivedPartitions(root, topic)) {
        const run = { ...options, root, store, cutoffMs, holds, report };
        await retainPartition(topic, partition, run);
      }
    }
  });
  return report;
}

interface PartitionRun extends RetentionOptions {
  root: string;
  store: SegmentStore;
  cutoffMs: number;
  holds: ActiveHold[];
  report: RetentionReport;
}

async function retainPartition(topic: string, partition: number, run: PartitionRun): Promise<void> {
  const directory = partitionDirectory(run.root, topic, partition);
  const { entries } = readManifest(directory);
  const head = readHead(directory);
  if (head !== undefined && !headSignatureValid(head, run.key.publicKey)) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `the signing key (${run.key.source}) does not sign the chain head of ${topic} partition ${partition}: set PANACEA_ARCHIVE_SIGNING_KEY to the archive's key, or run panacea audit verify`,
      { topic, partition, directory },
    );
  }

  const deletions = readDeletions(directory);
  const locationOf = (entry: ManifestEntry) => ({ topic, partition, segment: entry.segment });
  for (const entry of entries) {
    const mark = validDeletionOf(
      deletions.get(entry.segment),
      topic,
      partition,
      entry,
      run.key.publicKey,
    );
    if (mark !== undefined) {
      run.report.alreadyDeleted += 1;
      // A run that ended between its mark and the removal left the file behind.
      if (!run.dryRun) await run.store.removeSegment(locationOf(entry));
      continue;
    }
    const newestMs = newestTimeMs(entry);
    if (newestMs === undefined || newestMs >= run.cutoffMs) {
      run.report.kept += 1;
      continue;
    }

    const segment = { topic, partition, segment: entry.segment, newestTime: iso(newestMs) };
    const holding = run.holds.filter((hold) => holdMatches(hold.criteria, entry));
    if (holding.length > 0) {
      run.report.held.push({ ...segment, holds: holding.map((hold) => hold.holdId) });
      continue;
    }
    run.report.deleted.push(segment);
    if (run.dryRun) continue;

    await appendDeletion(
      directory,
      {
        topic,
        partition,
        segment: entry.segment,
        entryHash: entry.entryHash,
        sha256: entry.sha256,
        deletedAt: new Date().toISOString(),
        retention: run.report.retention,
        newestTime: segment.newestTime,
      },
      run.key,
    );
    await run.store.mirror(
      path.relative(run.root, path.join(directory, DELETION_LOG_FILE)),
      run.root,
    );
    await run.store.removeSegment(locationOf(entry));
    run.logger.info(segment, 'audit segment deleted by retention');
    if (retentionChannel.hasSubscribers) retentionChannel.publish(segment);
  }
}

/**
 * The newest time a segment holds: the later of its newest event time and its last record's
 * Kafka time, so neither a late-arriving event nor a back-dated one is deleted early. Undefined
 * for a segment without records (it holds no event, and takes a few bytes).
 */
export function newestTimeMs(entry: ManifestEntry): number | undefined {
  if (entry.records === 0) return undefined;
  const times = [entry.summary?.newestEventTime, entry.lastTimestamp]
    .filter((time): time is string => typeof time === 'string')
    .map((time) => Date.parse(time));
  return times.length === 0 ? undefined : Math.max(...times);
}

export function archivedTopics(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

function iso(timeMs: number): string {
  return new Date(timeMs).toISOString();
}

/**
 * Retention on a schedule, as `panacea run` does it: the first run at once, then every
 * `intervalMs`; a run still going is not overlapped, and one that fails (the archive locked by a
 * `panacea audit hold` change, a hold log in doubt) is logged and tried again next time.
 */
export function startArchiveRetentionSchedule(
  root: string,
  options: Omit<RetentionOptions, 'dryRun' | 'nowMs'>,
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const run = (): void => {
    if (stopped || running !== undefined) return;
    running = applyRetention(root, options)
      .then((report) => {
        if (report.deleted.length > 0 || report.held.length > 0) {
          options.logger.info(
            {
              deleted: report.deleted.length,
              held: report.held.length,
              retention: report.retention,
              cutoff: report.cutoff,
            },
            'audit archive retention applied',
          );
        }
      })
      .catch((error: unknown) => {
        options.logger.warn(
          { err: error, nextRunInMs: intervalMs },
          'audit archive retention failed',
        );
      })
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, intervalMs);
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
