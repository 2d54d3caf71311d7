import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { withArchiveLock } from '../../../../sinks/audit-archive/archive-lock.js';
import { appendDeletion, DELETION_LOG_FILE } from '../../../../sinks/audit-archive/deletion-log.js';
import { HOLD_LOG_FILE, recordHoldChange } from '../../../../sinks/audit-archive/hold-log.js';
import { MANIFEST_FILE, readManifest } from '../../../../sinks/audit-archive/manifest.js';
import { applyRetention } from '../../../../sinks/audit-archive/retention.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { verifyArchive } from '../../../../sinks/audit-archive/verify-archive.js';
import { rejectedPanaceaError } from '../../fixtures/panacea-error.js';
import { logger, signingKey, temporaryRoot, TOPIC } from './archive-fixture.js';
import { auditCodec, auditEvent, DAY_MS, writeEventSegments } from './audit-events-fixture.js';

const NOW_MS = Date.UTC(2026, 5, 1);
const RETENTION_MS = 30 * DAY_MS;

/**
 * Five segments of two events each, newest event 60, 45, 31, 29 and 1 days old: the first three
 * are past a 30-day retention. Actors and resources differ so holds can pick segments out.
 */
async function agedArchive() {
  const root = temporaryRoot();
  const key = signingKey();
  const codec = await auditCodec();
  const ages = [60, 45, 31, 29, 1];
  await writeEventSegments(
    root,
    key,
    codec,
    ages.map((ageDays, index) => [
      auditEvent({ timeMs: NOW_MS - (ageDays + 1) * DAY_MS, actor: `u-${index}`, resource: 's-1' }),
      auditEvent({
        timeMs: NOW_MS - ageDays * DAY_MS - 5000,
        actor: `u-${index}`,
        resource: `r-${index}`,
      }),
    ]),
  );
  const directory = partitionDirectory(root, TOPIC, 0);
  const segments = readManifest(directory).entries.map((entry) => entry.segment);
  const retain = (dryRun = false) =>
    applyRetention(root, { retentionMs: RETENTION_MS, key, logger, nowMs: NOW_MS, dryRun });
  return { root, key, directory, segments, retain };
}

describe('audit archive retention', () => {
  it('deletes exactly the segments whose newest event is past the retention, and verify still passes', async () => {
    const { root, key, directory, segments, retain } = await agedArchive();

    const report = await retain();

    expect(report.deleted.map((segment) => segment.segment)).toEqual(segments.slice(0, 3));
    expect(report).toMatchObject({ kept: 2, held: [], alreadyDeleted: 0, retention: '30d' });
    for (const [index, segment] of segments.entries()) {
      expect(existsSync(path.join(directory, segment))).toBe(index >= 3);
    }
    // The manifest keeps every entry: the chain is the same chain.
    expect(readManifest(directory).entries).toHaveLength(5);
    const verified = await verifyArchive(root, { publicKey: key.publicKey });
    expect(verified).toMatchObject({ ok: true, segments: 2, deletedSegments: 3, events: 4 });
  });

  it('deletes nothing on a dry run, and a second run finds the first run done', async () => {
    const { directory, segments, retain } = await agedArchive();

    const dry = await retain(true);
    expect(dry.deleted).toHaveLength(3);
    expect(segments.every((segment) => existsSync(path.join(directory, segment)))).toBe(true);
    expect(existsSync(path.join(directory, DELETION_LOG_FILE))).toBe(false);

    await retain();
    const again = await retain();
    expect(again).toMatchObject({ deleted: [], alreadyDeleted: 3, kept: 2 });
  });

  it('keeps eligible segments an active hold matches by time range, actor or resource', async () => {
    const { root, key, segments, retain } = await agedArchive();
    await recordHoldChange(root, key, {
      action: 'add',
      criteria: { actor: 'u-0' },
      reason: 'case 1',
      by: 'legal',
    });
    await recordHoldChange(root, key, {
      action: 'add',
      criteria: {
        from: new Date(NOW_MS - 46 * DAY_MS).toISOString(),
        to: new Date(NOW_MS - 45.5 * DAY_MS).toISOString(),
      },
      reason: 'case 2',
      by: 'legal',
    });
    await recordHoldChange(root, key, {
      action: 'add',
      criteria: { resource: 'r-3' },
      reason: 'young segment, held anyway',
      by: 'legal',
    });

    const report = await retain();

    expect(report.held).toEqual([
      expect.objectContaining({ segment: segments[0], holds: ['hold-1'] }),
      expect.objectContaining({ segment: segments[1], holds: ['hold-2'] }),
    ]);
    expect(report.deleted.map((segment) => segment.segment)).toEqual([segments[2]]);
    expect(report.activeHolds).toBe(3);
    expect((await verifyArchive(root, { publicKey: key.publicKey })).ok).toBe(true);
  });

  it('deletes a segment once the hold that kept it is lifted', async () => {
    const { root, key, segments, retain } = await agedArchive();
    await recordHoldChange(root, key, {
      action: 'add',
      criteria: { resource: 's-1' },
      reason: 'every segment has s-1',
      by: 'legal',
    });
    expect((await retain()).deleted).toEqual([]);

    await recordHoldChange(root, key, {
      action: 'remove',
      holdId: 'hold-1',
      reason: 'case closed',
      by: 'legal',
    });
    expect((await retain()).deleted.map((segment) => segment.segment)).toEqual(
      segments.slice(0, 3),
    );
  });

  it('still checks the chain through a deleted entry', async () => {
    const { root, key, directory, segments, retain } = await agedArchive();
    await retain();
    const manifest = readFileSync(path.join(directory, MANIFEST_FILE), 'utf8');
    writeFileSync(
      path.join(directory, MANIFEST_FILE),
      manifest.replace('"records":2', '"records":3'),
    );

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({
      segment: segments[0],
      reason: 'the manifest entry does not match its entryHash',
    });
  });

  it('does not accept a deletion mark signed with another key', async () => {
    const { root, key, directory } = await agedArchive();
    const entry = readManifest(directory).entries[0]!;
    // Someone without the archive key removes a segment and writes a mark of their own.
    await appendDeletion(
      directory,
      {
        topic: TOPIC,
        partition: 0,
        segment: entry.segment,
        entryHash: entry.entryHash,
        sha256: entry.sha256,
        deletedAt: new Date(NOW_MS).toISOString(),
        retention: '30d',
        newestTime: entry.lastTimestamp ?? '',
      },
      signingKey(),
    );
    rmSync(path.join(directory, entry.segment));

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({
      segment: entry.segment,
      reason: 'the segment file is missing',
    });
  });

  it('refuses to delete with a key that does not sign the chain heads', async () => {
    const { root } = await agedArchive();

    const error = await rejectedPanaceaError(
      applyRetention(root, { retentionMs: RETENTION_MS, key: signingKey(), logger, nowMs: NOW_MS }),
    );

    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(error.message).toContain('does not sign the chain head');
  });

  it('deletes nothing when the hold log was changed', async () => {
    const { root, key, directory, segments, retain } = await agedArchive();
    await recordHoldChange(root, key, {
      action: 'add',
      criteria: { actor: 'u-0' },
      reason: 'case 1',
      by: 'legal',
    });
    const file = path.join(root, HOLD_LOG_FILE);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"actor":"u-0"', '"actor":"u-9"'));

    const error = await rejectedPanaceaError(retain());

    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(segments.every((segment) => existsSync(path.join(directory, segment)))).toBe(true);
  });

  it('waits for no one: a run while the archive is locked is refused as busy', async () => {
    const { root, retain } = await agedArchive();

    const error = await withArchiveLock(root, 'hold add', () => rejectedPanaceaError(retain()));

    expect(error.code).toBe('ARCHIVE_BUSY');
    expect(error.message).toContain(`pid ${process.pid}`);
  });
});
