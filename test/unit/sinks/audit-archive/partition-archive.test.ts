import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readHead, headSignatureValid } from '../../../../sinks/audit-archive/chain-head.js';
import { decodeContainer } from '../../../../sinks/audit-archive/container-file.js';
import {
  entryHashOf,
  GENESIS_HASH,
  MANIFEST_FILE,
  readManifest,
  sha256Hex,
} from '../../../../sinks/audit-archive/manifest.js';
import { PartitionArchive } from '../../../../sinks/audit-archive/partition-archive.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { rejectedPanaceaError } from '../../fixtures/panacea-error.js';
import {
  BASE_TIME_MS,
  logger,
  records,
  signingKey,
  temporaryRoot,
  TOPIC,
  writeSegments,
} from './archive-fixture.js';

describe('partition archive', () => {
  it('writes a sealed segment as a deflate Avro container named by topic, partition and offsets', async () => {
    const root = temporaryRoot();
    await writeSegments(root, signingKey(), [[0, 4]]);
    const directory = partitionDirectory(root, TOPIC, 0);
    const name = `${TOPIC}-0-${'0'.padStart(20, '0')}-${'4'.padStart(20, '0')}.avro`;

    const decoded = await decodeContainer(readFileSync(path.join(directory, name)));
    expect(decoded.schemaName).toBe('panacea.archive.ArchivedRecord');
    expect(decoded.codec).toBe('deflate');
    expect(decoded.records).toHaveLength(5);
    expect(decoded.records[2]).toMatchObject({
      offset: 2,
      eventId: 'event-2',
      value: Buffer.from([0, 0, 0, 0, 1, 2]),
    });
  });

  it('chains manifest entries by hash and signs the head with the last entry hash', async () => {
    const root = temporaryRoot();
    const key = signingKey();
    await writeSegments(root, key, [
      [0, 2],
      [3, 9],
    ]);
    const directory = partitionDirectory(root, TOPIC, 0);
    const { entries } = readManifest(directory);

    expect(entries.map((entry) => [entry.firstOffset, entry.lastOffset, entry.records])).toEqual([
      ['0', '2', 3],
      ['3', '9', 7],
    ]);
    expect(entries[0]?.previousHash).toBe(GENESIS_HASH);
    expect(entries[1]?.previousHash).toBe(entries[0]?.entryHash);
    for (const entry of entries) {
      expect(entry.entryHash).toBe(entryHashOf(entry));
      expect(entry.sha256).toBe(sha256Hex(readFileSync(path.join(directory, entry.segment))));
    }
    expect(entries[1]?.firstTimestamp).toBe(new Date(BASE_TIME_MS + 3 * 60_000).toISOString());
    const head = readHead(directory);
    expect(head).toMatchObject({ entries: 2, lastOffset: '9', headHash: entries[1]?.entryHash });
    expect(headSignatureValid(head!, key.publicKey)).toBe(true);
    expect(headSignatureValid(head!, signingKey().publicKey)).toBe(false);
  });

  it('grows the open segment batch by batch and covers the whole offset range when sealed', async () => {
    const root = temporaryRoot();
    const archive = await PartitionArchive.open(root, TOPIC, 0, signingKey(), logger);
    await archive.append(records(10, 11), 10n, 11n, 0);
    const sizeAfterOneBatch = archive.openSegmentSizeBytes();
    // Offsets 12 and 13 went to the dead-letter topic: the range still takes them in.
    await archive.append(records(14, 15), 12n, 15n, 0);

    expect(archive.openSegmentSizeBytes()).toBeGreaterThan(sizeAfterOneBatch);
    expect(archive.nextOffset).toBe(16n);
    const sealed = await archive.seal();
    expect(sealed?.nextOffset).toBe(16n);
    expect(sealed?.entry).toMatchObject({ firstOffset: '10', lastOffset: '15', records: 4 });
  });

  it('removes temporary and unlisted segments on open, since their offsets were never committed', async () => {
    const root = temporaryRoot();
    const key = signingKey();
    const archive = await writeSegments(root, key, [[0, 4]]);
    // A run that crashed with an open segment, and one that crashed between rename and manifest.
    await archive.append(records(5, 7), 5n, 7n, 0);
    const directory = partitionDirectory(root, TOPIC, 0);
    const orphan = `${TOPIC}-0-${'5'.padStart(20, '0')}-${'6'.padStart(20, '0')}.avro`;
    writeFileSync(path.join(directory, orphan), 'left over');

    const reopened = await PartitionArchive.open(root, TOPIC, 0, key, logger);

    expect(readdirSync(directory).sort()).toEqual(
      [readManifest(directory).entries[0]?.segment, 'head.json', MANIFEST_FILE].sort(),
    );
    expect(reopened.nextOffset).toBe(5n);
  });

  it('drops a half-written manifest entry and signs a head a crash left one entry behind', async () => {
    const root = temporaryRoot();
    const key = signingKey();
    await writeSegments(root, key, [[0, 1]]);
    const directory = partitionDirectory(root, TOPIC, 0);
    const oldHead = readFileSync(path.join(directory, 'head.json'));
    await writeSegments(root, key, [[2, 3]]);
    // The crash: the second entry is in the manifest, its head is not; a third was cut short.
    writeFileSync(path.join(directory, 'head.json'), oldHead);
    writeFileSync(path.join(directory, MANIFEST_FILE), '{"segment":"x', { flag: 'a' });

    const reopened = await PartitionArchive.open(root, TOPIC, 0, key, logger);

    const { entries, completeBytes, sizeBytes } = readManifest(directory);
    expect(completeBytes).toBe(sizeBytes);
    expect(readHead(directory)?.headHash).toBe(entries[1]?.entryHash);
    expect(reopened.nextOffset).toBe(4n);
  });

  it('refuses to append to a manifest that does not end at its signed head', async () => {
    const root = temporaryRoot();
    const key = signingKey();
    await writeSegments(root, key, [
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    const directory = partitionDirectory(root, TOPIC, 0);
    const lines = readFileSync(path.join(directory, MANIFEST_FILE), 'utf8').split('\n');
    writeFileSync(path.join(directory, MANIFEST_FILE), `${lines[0]}\n`);

    const error = await rejectedPanaceaError(PartitionArchive.open(root, TOPIC, 0, key, logger));
    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(existsSync(path.join(directory, MANIFEST_FILE))).toBe(true);
  });

  it('throws an open segment away without a trace', async () => {
    const root = temporaryRoot();
    const archive = await PartitionArchive.open(root, TOPIC, 0, signingKey(), logger);
    await archive.append(records(0, 3), 0n, 3n, 0);
    await archive.discard();

    expect(readdirSync(partitionDirectory(root, TOPIC, 0))).toEqual([]);
    expect(archive.nextOffset).toBeUndefined();
  });
});
