/**
 * The behaviour every segment store must show, written once and run against each: the archive
 * directory in the unit tests (segment-store.test.ts), a real S3-compatible server in the
 * integration tests (audit-archive-s3.test.ts). Each scenario writes a real archive through the
 * store and checks it with verify, retention and export, as the commands do.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { recordHoldChange } from '../../../../sinks/audit-archive/hold-log.js';
import { exportArchive } from '../../../../sinks/audit-archive/export-archive.js';
import { MANIFEST_FILE, readManifest } from '../../../../sinks/audit-archive/manifest.js';
import { DELETION_LOG_FILE } from '../../../../sinks/audit-archive/deletion-log.js';
import { applyRetention } from '../../../../sinks/audit-archive/retention.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import type { SegmentStore } from '../../../../sinks/audit-archive/segment-store.js';
import { verifyArchive } from '../../../../sinks/audit-archive/verify-archive.js';
import { logger, signingKey, temporaryRoot, TOPIC } from './archive-fixture.js';
import { auditCodec, auditEvent, DAY_MS, writeEventSegments } from './audit-events-fixture.js';

export interface StoreUnderTest {
  store: SegmentStore;
  /** The store's copy of a metadata file (relative to the archive root), or undefined. */
  readCopy(relativePath: string): Promise<Buffer | undefined>;
}

const NOW_MS = Date.UTC(2026, 5, 1);

/** Three segments of three events, newest 40, 20 and 1 days old; actors u-0, u-1, u-2. */
async function archiveIn(open: (root: string) => Promise<StoreUnderTest>) {
  const root = temporaryRoot();
  const key = signingKey();
  const codec = await auditCodec();
  const opened = await open(root);
  const events = [40, 20, 1].map((ageDays, index) =>
    [2, 1, 0].map((hours) =>
      auditEvent({ timeMs: NOW_MS - ageDays * DAY_MS - hours * 3_600_000, actor: `u-${index}` }),
    ),
  );
  await writeEventSegments(root, key, codec, events, opened.store);
  const entries = readManifest(partitionDirectory(root, TOPIC, 0)).entries;
  return { root, key, codec, events, entries, ...opened };
}

export function describeSegmentStore(
  name: string,
  open: (root: string) => Promise<StoreUnderTest>,
): void {
  describe(`segment store: ${name}`, () => {
    it('stores each sealed segment, lists it, and verify passes reading them back', async () => {
      const { root, key, store, entries } = await archiveIn(open);

      expect(await store.listSegments(TOPIC, 0)).toEqual(entries.map((entry) => entry.segment));
      const report = await verifyArchive(root, { publicKey: key.publicKey, store });
      expect(report).toMatchObject({ ok: true, segments: 3, events: 9, unlisted: [] });
      const location = { topic: TOPIC, partition: 0, segment: entries[1]!.segment };
      expect((await store.readSegment(location))?.length).toBe(
        await store.segmentSizeBytes(location),
      );
    });

    it('keeps a copy of the manifest and the signed head after every seal', async () => {
      const { root, readCopy } = await archiveIn(open);
      const directory = path.relative(root, partitionDirectory(root, TOPIC, 0));

      const manifest = await readCopy(path.join(directory, MANIFEST_FILE));

      expect(manifest?.toString('utf8').trimEnd().split('\n')).toHaveLength(3);
      expect(await readCopy(path.join(directory, 'head.json'))).toBeDefined();
    });

    it('lets verify name a segment changed in the store', async () => {
      const { root, key, store, entries } = await archiveIn(open);
      const location = { topic: TOPIC, partition: 0, segment: entries[0]!.segment };
      const bytes = (await store.readSegment(location))!;
      bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
      const changed = path.join(temporaryRoot(), 'changed.avro');
      writeFileSync(changed, bytes);
      await store.putSegment(location, changed, { sha256: entries[0]!.sha256 });

      const report = await verifyArchive(root, { publicKey: key.publicKey, store });

      expect(report.broken).toMatchObject({ segment: entries[0]!.segment });
      expect(report.broken?.reason).toContain('SHA-256');
    });

    it('removes what retention deletes, keeps what a hold keeps, and verify still passes', async () => {
      const { root, key, store, entries, readCopy } = await archiveIn(open);
      await recordHoldChange(root, key, {
        action: 'add',
        criteria: { actor: 'u-1' },
        reason: 'case',
        by: 'legal',
      });

      const report = await applyRetention(root, {
        retentionMs: 10 * DAY_MS,
        key,
        logger,
        nowMs: NOW_MS,
        store,
      });

      expect(report.deleted.map((segment) => segment.segment)).toEqual([entries[0]!.segment]);
      expect(report.held.map((segment) => segment.segment)).toEqual([entries[1]!.segment]);
      expect(await store.listSegments(TOPIC, 0)).toEqual([
        entries[1]!.segment,
        entries[2]!.segment,
      ]);
      expect(
        await store.removeSegment({ topic: TOPIC, partition: 0, segment: entries[0]!.segment }),
      ).toBe('absent');
      const directory = path.relative(root, partitionDirectory(root, TOPIC, 0));
      expect((await readCopy(path.join(directory, DELETION_LOG_FILE)))?.toString()).toContain(
        entries[0]!.segment,
      );
      const verified = await verifyArchive(root, { publicKey: key.publicKey, store });
      expect(verified).toMatchObject({ ok: true, segments: 2, deletedSegments: 1 });
    });

    it('exports exactly the filtered events, read from the store', async () => {
      const { root, key, codec, store, events } = await archiveIn(open);
      const output = new PassThrough();
      const chunks: Buffer[] = [];
      output.on('data', (chunk: Buffer) => chunks.push(chunk));

      const report = await exportArchive(root, {
        filter: { fromMs: NOW_MS - 30 * DAY_MS, toMs: NOW_MS, actor: 'u-1' },
        format: 'ndjson',
        publicKey: key.publicKey,
        codec,
        output,
        store,
      });

      const ids = Buffer.concat(chunks)
        .toString('utf8')
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { eventId: string }).eventId);
      expect(ids).toEqual(events[1]!.map((event) => event.eventId));
      expect(report).toMatchObject({ segmentsRead: 1, eventsExported: 3 });
    });
  });
}
