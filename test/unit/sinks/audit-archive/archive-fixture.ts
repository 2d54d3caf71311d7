/** A throwaway archive directory, signing key and records for the audit archive's unit tests. */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { componentLogger } from '../../../../core/logger.js';
import type { ArchivedRecord } from '../../../../sinks/audit-archive/archived-record.js';
import { fingerprintOf, type SigningKey } from '../../../../sinks/audit-archive/chain-head.js';
import { PartitionArchive } from '../../../../sinks/audit-archive/partition-archive.js';

export const TOPIC = 'agent.audit';
export const BASE_TIME_MS = Date.UTC(2026, 0, 15, 9, 0, 0);
export const logger = componentLogger('test.audit-archive');

export function temporaryRoot(): string {
  return mkdtempSync(path.join(tmpdir(), 'panacea-archive-'));
}

export function signingKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, fingerprint: fingerprintOf(publicKey), source: 'test' };
}

/** Records for offsets first..last of partition 0, one a minute. */
export function records(firstOffset: number, lastOffset: number): ArchivedRecord[] {
  const result: ArchivedRecord[] = [];
  for (let offset = firstOffset; offset <= lastOffset; offset += 1) {
    result.push({
      topic: TOPIC,
      partition: 0,
      offset,
      timestampMs: BASE_TIME_MS + offset * 60_000,
      key: Buffer.from('agent-1'),
      value: Buffer.from([0, 0, 0, 0, 1, offset % 256]),
      headers: [{ key: 'source', value: Buffer.from('test') }],
      eventId: `event-${offset}`,
    });
  }
  return result;
}

/** Writes one sealed segment per [first, last] range into partition 0. */
export async function writeSegments(
  root: string,
  key: SigningKey,
  ranges: Array<[number, number]>,
): Promise<PartitionArchive> {
  const archive = await PartitionArchive.open(root, TOPIC, 0, key, logger);
  for (const [firstOffset, lastOffset] of ranges) {
    await archive.append(
      records(firstOffset, lastOffset),
      BigInt(firstOffset),
      BigInt(lastOffset),
      0,
    );
    await archive.seal();
  }
  return archive;
}
