import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { PartitionArchive } from '../../../../sinks/audit-archive/partition-archive.js';
import { PARTITION_REGISTER_FILE } from '../../../../sinks/audit-archive/partition-register.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { verifyArchive } from '../../../../sinks/audit-archive/verify-archive.js';
import { logger, signingKey, temporaryRoot, TOPIC, writeSegments } from './archive-fixture.js';

async function registeredArchive() {
  const root = temporaryRoot();
  const key = signingKey();
  await writeSegments(root, key, [
    [0, 2],
    [3, 5],
  ]);
  return { root, key, registerFile: path.join(root, PARTITION_REGISTER_FILE) };
}

describe('the partition register', () => {
  it('names the partition and the offset its chain starts at, once its first segment is sealed', async () => {
    const { root, key, registerFile } = await registeredArchive();
    const register = JSON.parse(readFileSync(registerFile, 'utf8')) as { partitions: unknown[] };
    expect(register.partitions).toEqual([{ topic: TOPIC, partition: 0, firstOffset: '0' }]);
    expect((await verifyArchive(root, { publicKey: key.publicKey })).ok).toBe(true);
  });

  it('makes verify name a partition whose whole directory was removed', async () => {
    const { root, key } = await registeredArchive();
    rmSync(partitionDirectory(root, TOPIC, 0), { recursive: true });

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.ok).toBe(false);
    expect(report.broken).toMatchObject({ topic: TOPIC, partition: 0, segment: 'partition-0' });
    expect(report.broken?.reason).toContain('its directory is missing (removed)');
  });

  it('keeps the stage from starting a new chain in a removed partition’s place', async () => {
    const { root, key } = await registeredArchive();
    rmSync(partitionDirectory(root, TOPIC, 0), { recursive: true });

    await expect(PartitionArchive.open(root, TOPIC, 0, key, logger)).rejects.toThrow(
      'the partition register says its chain starts at offset 0, but it holds no chain',
    );
  });

  it('makes verify name a register that was changed, or removed', async () => {
    const { root, key, registerFile } = await registeredArchive();
    const original = readFileSync(registerFile, 'utf8');
    writeFileSync(registerFile, original.replace('"firstOffset": "0"', '"firstOffset": "3"'));

    const changed = await verifyArchive(root, { publicKey: key.publicKey });
    expect(changed.broken).toMatchObject({ segment: PARTITION_REGISTER_FILE });
    expect(changed.broken?.reason).toContain('the signature does not match the public key');

    rmSync(registerFile);
    const removed = await verifyArchive(root, { publicKey: key.publicKey });
    expect(removed.broken?.reason).toContain('no partition register');

    // The stage registers the chains it finds when it opens them again (an archive written
    // before registers, or a crash between a first seal and its registration).
    await PartitionArchive.open(root, TOPIC, 0, key, logger);
    expect((await verifyArchive(root, { publicKey: key.publicKey })).ok).toBe(true);
  });
});
