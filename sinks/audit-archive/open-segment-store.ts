/**
 * The segment store the configuration asks for: the S3-compatible bucket when
 * `PANACEA_ARCHIVE_S3_BUCKET` is set, else the archive directory. The S3 client is loaded only
 * when a bucket is configured.
 */
import type { ArchiveConfig } from '../../core/config.js';
import { localSegmentStore, type SegmentStore } from './segment-store.js';

export interface OpenedSegmentStore {
  store: SegmentStore;
  close(): void;
}

export async function openSegmentStore(
  settings: Pick<ArchiveConfig, 's3' | 'retentionMs'>,
  root: string,
): Promise<OpenedSegmentStore> {
  if (settings.s3 === undefined) {
    return { store: localSegmentStore(root), close: () => undefined };
  }
  const { s3SegmentStore } = await import('./s3-segment-store.js');
  const store = s3SegmentStore({ settings: settings.s3, lockRetentionMs: settings.retentionMs });
  return { store, close: () => store.close() };
}
