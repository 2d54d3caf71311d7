/**
 * How a segment deleted by retention stays accounted for: its manifest entry is never touched
 * (the chain keeps its hash, and `verify` still checks every link through it), and a signed
 * deletion record in the partition's `deletions.ndjson` marks it deleted, saying when, under
 * which retention and why.
 *
 * The marks live beside the manifest, not in it, because the manifest is append-only and written
 * by the running archive stage: rewriting an entry from `panacea audit retention`, another
 * process, could lose an entry the stage appended meanwhile. Appending whole lines with O_APPEND
 * is safe from both sides. A mark is valid only with the archive key's signature over the segment
 * it names (its entry hash and SHA-256), so deleting a segment and writing a mark for it needs the
 * key, exactly as rewriting the chain does; removing a mark only makes `verify` stricter.
 *
 * The mark is written and flushed before the file is removed: a crash between the two leaves a
 * marked segment still on disk, which the next run removes, never a missing file without a mark.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

import { signatureMatches, signBase64, type SigningKey } from './chain-head.js';
import type { ManifestEntry } from './manifest.js';

export const DELETION_LOG_FILE = 'deletions.ndjson';

export interface DeletionRecord {
  topic: string;
  partition: number;
  segment: string;
  /** The manifest entry's hash and the segment's SHA-256: which segment, beyond its name. */
  entryHash: string;
  sha256: string;
  /** When it was deleted, RFC 3339. */
  deletedAt: string;
  /** The retention in force, as a duration (`400d`), and the newest time in the segment. */
  retention: string;
  newestTime: string;
  /** Ed25519 signature of the fields above in this order, as JSON, base64. */
  signature: string;
}

export type UnsignedDeletion = Omit<DeletionRecord, 'signature'>;

function signedPayload(record: UnsignedDeletion): Buffer {
  return Buffer.from(
    JSON.stringify([
      record.topic,
      record.partition,
      record.segment,
      record.entryHash,
      record.sha256,
      record.deletedAt,
      record.retention,
      record.newestTime,
    ]),
  );
}

/**
 * The partition's deletion records by segment name. Lines that are not JSON (a cut-short append)
 * are skipped: they mark nothing, so the segment they were for counts as present.
 */
export function readDeletions(directory: string): Map<string, DeletionRecord[]> {
  const file = path.join(directory, DELETION_LOG_FILE);
  const bySegment = new Map<string, DeletionRecord[]>();
  if (!existsSync(file)) return bySegment;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let record: DeletionRecord;
    try {
      record = JSON.parse(line) as DeletionRecord;
    } catch {
      continue;
    }
    if (typeof record.segment !== 'string') continue;
    bySegment.set(record.segment, [...(bySegment.get(record.segment) ?? []), record]);
  }
  return bySegment;
}

/**
 * The valid deletion mark for `entry` among `records`, if any: signed with the key and naming
 * this very segment. More than one can exist when two retention runs raced; any valid one counts.
 */
export function validDeletionOf(
  records: DeletionRecord[] | undefined,
  topic: string,
  partition: number,
  entry: ManifestEntry,
  publicKey: KeyObject,
): DeletionRecord | undefined {
  return records?.find(
    (record) =>
      record.topic === topic &&
      record.partition === partition &&
      record.entryHash === entry.entryHash &&
      record.sha256 === entry.sha256 &&
      signatureValid(record, publicKey),
  );
}

function signatureValid(record: DeletionRecord, publicKey: KeyObject): boolean {
  const { signature, ...unsigned } = record;
  return signatureMatches(signedPayload(unsigned), signature, publicKey);
}

/** Signs and appends a deletion mark, flushed to disk before returning. */
export async function appendDeletion(
  directory: string,
  record: UnsignedDeletion,
  key: SigningKey,
): Promise<DeletionRecord> {
  const signed: DeletionRecord = {
    ...record,
    signature: signBase64(signedPayload(record), key.privateKey),
  };
  const handle = await open(path.join(directory, DELETION_LOG_FILE), 'a');
  try {
    await handle.write(`${JSON.stringify(signed)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return signed;
}
