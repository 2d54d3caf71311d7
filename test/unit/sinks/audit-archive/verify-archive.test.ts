import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readHead, signHead, writeHead } from '../../../../sinks/audit-archive/chain-head.js';
import {
  MANIFEST_FILE,
  readManifest,
  sha256Hex,
  withEntryHash,
  GENESIS_HASH,
} from '../../../../sinks/audit-archive/manifest.js';
import { PartitionArchive } from '../../../../sinks/audit-archive/partition-archive.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { verifyArchive } from '../../../../sinks/audit-archive/verify-archive.js';
import {
  BASE_TIME_MS,
  logger,
  records,
  signingKey,
  temporaryRoot,
  TOPIC,
  writeSegments,
} from './archive-fixture.js';

const RANGES: Array<[number, number]> = [
  [0, 2],
  [3, 5],
  [6, 9],
];

async function intactArchive() {
  const root = temporaryRoot();
  const key = signingKey();
  await writeSegments(root, key, RANGES);
  const directory = partitionDirectory(root, TOPIC, 0);
  const entries = readManifest(directory).entries;
  const segment = (index: number): string => path.join(directory, entries[index]!.segment);
  return { root, key, directory, entries, segment };
}

function writeManifest(directory: string, lines: unknown[]): void {
  writeFileSync(
    path.join(directory, MANIFEST_FILE),
    lines.map((line) => `${JSON.stringify(line)}\n`).join(''),
  );
}

describe('audit archive verification', () => {
  it('passes an intact archive and sums its segments, events and time range', async () => {
    const { root, key } = await intactArchive();

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report).toMatchObject({ ok: true, partitions: 1, segments: 3, events: 10 });
    expect(report.firstTimestamp).toBe(new Date(BASE_TIME_MS).toISOString());
    expect(report.lastTimestamp).toBe(new Date(BASE_TIME_MS + 9 * 60_000).toISOString());
    expect(report.broken).toBeUndefined();
  });

  it('reads only the segments that overlap --from and --to', async () => {
    const { root, key } = await intactArchive();

    const report = await verifyArchive(root, {
      publicKey: key.publicKey,
      fromMs: BASE_TIME_MS + 4 * 60_000,
      toMs: BASE_TIME_MS + 5 * 60_000,
    });

    expect(report).toMatchObject({ ok: true, segments: 1, events: 3 });
  });

  it('names a segment with one byte changed', async () => {
    const { root, key, segment, entries } = await intactArchive();
    const bytes = readFileSync(segment(1));
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    writeFileSync(segment(1), bytes);

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.ok).toBe(false);
    expect(report.broken).toMatchObject({ segment: entries[1]?.segment, partition: 0 });
    expect(report.broken?.reason).toContain('SHA-256');
  });

  it('names a segment whose file was removed', async () => {
    const { root, key, segment, entries } = await intactArchive();
    rmSync(segment(1));

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({
      segment: entries[1]?.segment,
      reason: 'the segment file is missing',
    });
  });

  it('names the gap when a segment and its manifest entry were both removed', async () => {
    const { root, key, directory, segment, entries } = await intactArchive();
    rmSync(segment(1));
    writeManifest(directory, [entries[0], entries[2]]);

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    // The head still signs the last entry, so it is the link that gives the removal away.
    expect(report.broken).toMatchObject({
      segment: entries[2]?.segment,
      reason: expect.stringContaining('previousHash') as unknown,
    });
  });

  it('names two segments swapped on disk', async () => {
    const { root, key, segment, entries } = await intactArchive();
    renameSync(segment(0), `${segment(0)}.swap`);
    renameSync(segment(1), segment(0));
    renameSync(`${segment(0)}.swap`, segment(1));

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({ segment: entries[0]?.segment });
    expect(report.broken?.reason).toContain('SHA-256');
  });

  it('names two manifest entries swapped', async () => {
    const { root, key, directory, entries } = await intactArchive();
    writeManifest(directory, [entries[1], entries[0], entries[2]]);

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({ segment: entries[1]?.segment });
    expect(report.broken?.reason).toContain('previousHash');
  });

  it('detects a chain rewritten with recomputed hashes but no valid signature', async () => {
    const { root, key, directory, segment, entries } = await intactArchive();
    // The rewriter changes a segment, then recomputes every hash so the chain is consistent.
    const bytes = readFileSync(segment(1));
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    writeFileSync(segment(1), bytes);
    let previousHash = GENESIS_HASH;
    const rewritten = entries.map((entry, index) => {
      const next = withEntryHash({
        ...entry,
        sha256: index === 1 ? sha256Hex(bytes) : entry.sha256,
        previousHash,
      });
      previousHash = next.entryHash;
      return next;
    });
    writeManifest(directory, rewritten);

    const unsigned = await verifyArchive(root, { publicKey: key.publicKey });
    expect(unsigned.broken).toMatchObject({ segment: entries[2]?.segment });
    expect(unsigned.broken?.reason).toContain('not the signed chain head');

    // …and signs a new head with a key of its own.
    const head = readHead(directory)!;
    const { signature: _unused, ...unsignedHead } = head;
    await writeHead(
      directory,
      signHead({ ...unsignedHead, headHash: previousHash }, signingKey().privateKey),
    );
    const forged = await verifyArchive(root, { publicKey: key.publicKey });
    expect(forged.broken).toMatchObject({
      segment: 'head.json',
      reason: 'the chain head signature does not match the public key',
    });
  });

  it('names the segment after a gap in the offsets', async () => {
    const { root, key, directory, entries } = await intactArchive();
    // A chain consistent and signed, but with offsets 3-5 claimed by no segment.
    const first = entries[0]!;
    const third = withEntryHash({ ...entries[2]!, previousHash: first.entryHash });
    writeManifest(directory, [first, third]);
    const head = readHead(directory)!;
    const { signature: _unused, ...unsignedHead } = head;
    await writeHead(
      directory,
      signHead({ ...unsignedHead, entries: 2, headHash: third.entryHash }, key.privateKey),
    );

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({
      segment: third.segment,
      reason: 'offsets 3 to 5 are in no segment',
    });
  });

  it('names a segment whose records lie outside the range its entry states', async () => {
    const root = temporaryRoot();
    const key = signingKey();
    const archive = await PartitionArchive.open(root, TOPIC, 0, key, logger);
    // Signed and hashed as written, but the records claim offsets 0-4 in a segment for 10-14.
    await archive.append(records(0, 4), 10n, 14n, 0);
    const sealed = await archive.seal();

    const report = await verifyArchive(root, { publicKey: key.publicKey });

    expect(report.broken).toMatchObject({
      segment: sealed?.entry.segment,
      reason: 'the record at offset 0 is out of order or outside offsets 10 to 14',
    });
  });
});
