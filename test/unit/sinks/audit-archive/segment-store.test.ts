import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import {
  listSegments,
  partitionDirectory,
  readSegment,
  writeSegment,
  type ArchivedLine,
} from '../../../../sinks/audit-archive/segment-store.js';

function lines(firstOffset: number, lastOffset: number, tag = 'a'): ArchivedLine[] {
  const result: ArchivedLine[] = [];
  for (let offset = firstOffset; offset <= lastOffset; offset += 1) {
    result.push({ offset: String(offset), event: { kind: 'audit', tag, offset } });
  }
  return result;
}

function ranges(directory: string): Array<[string, string]> {
  return listSegments(directory).map((segment) => [
    String(segment.firstOffset),
    String(segment.lastOffset),
  ]);
}

describe('audit segment store', () => {
  let root: string;
  let directory: string;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'panacea-segment-store-'));
    directory = partitionDirectory(root, 'agent.audit', 2);
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps one directory per topic partition', async () => {
    expect(directory).toBe(path.join(root, 'agent.audit', 'partition-2'));
  });

  it('names a segment by its zero-padded first and last offset', async () => {
    const file = await writeSegment(directory, '10', '19', lines(10, 19));

    expect(path.basename(file)).toBe('00000000000000000010-00000000000000000019.ndjson');
    expect(path.dirname(file)).toBe(directory);
  });

  it('writes one JSON line per archived line and reads them back', async () => {
    const written = lines(10, 12);

    const file = await writeSegment(directory, '10', '12', written);

    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(4);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(readSegment(file)).toEqual(written);
  });

  it('lists no segments for a partition that has none', async () => {
    expect(listSegments(directory)).toEqual([]);
  });

  it('lists segments in offset order, not name order, and ignores other files', async () => {
    await writeSegment(directory, '100', '199', lines(100, 101));
    await writeSegment(directory, '9', '99', lines(9, 10));
    await writeSegment(directory, '0', '8', lines(0, 1));
    writeFileSync(path.join(directory, 'notes.txt'), 'not a segment');

    expect(ranges(directory)).toEqual([
      ['0', '8'],
      ['9', '99'],
      ['100', '199'],
    ]);
    expect(listSegments(directory)[0]?.file).toBe(
      path.join(directory, '00000000000000000000-00000000000000000008.ndjson'),
    );
  });

  it('keeps offsets beyond 2^53 exact', async () => {
    await writeSegment(directory, '9007199254740993', '9007199254740995', []);

    expect(listSegments(directory)[0]?.lastOffset).toBe(9007199254740995n);
  });

  it('replaces a segment written again for the same range', async () => {
    await writeSegment(directory, '10', '12', lines(10, 12, 'first'));

    const file = await writeSegment(directory, '10', '12', lines(10, 12, 'second'));

    expect(ranges(directory)).toEqual([['10', '12']]);
    expect(readSegment(file)).toEqual(lines(10, 12, 'second'));
  });

  it('removes the segments inside a larger range written over them', async () => {
    await writeSegment(directory, '0', '9', lines(0, 9));
    await writeSegment(directory, '10', '14', lines(10, 14));
    await writeSegment(directory, '15', '19', lines(15, 19));
    await writeSegment(directory, '20', '29', lines(20, 29));

    await writeSegment(directory, '10', '19', lines(10, 19, 'rewrite'));

    expect(ranges(directory)).toEqual([
      ['0', '9'],
      ['10', '19'],
      ['20', '29'],
    ]);
  });

  it('replaces a leftover that starts inside the range written even when it reaches beyond it', async () => {
    // Written before a crash, never committed; after the restart the first batch is smaller.
    await writeSegment(directory, '0', '99', lines(0, 99));

    await writeSegment(directory, '0', '49', lines(0, 49));
    await writeSegment(directory, '50', '149', lines(50, 149));

    expect(ranges(directory)).toEqual([
      ['0', '49'],
      ['50', '149'],
    ]);
  });

  it('keeps a segment that starts before the range written, even if they overlap', async () => {
    await writeSegment(directory, '5', '12', lines(5, 12));

    await writeSegment(directory, '10', '19', lines(10, 19));

    expect(ranges(directory)).toEqual([
      ['5', '12'],
      ['10', '19'],
    ]);
  });

  it('leaves no temporary file behind', async () => {
    await writeSegment(directory, '0', '9', lines(0, 9));
    await writeSegment(directory, '0', '9', lines(0, 9, 'again'));
    await writeSegment(directory, '0', '19', lines(0, 19));

    const names = readdirSync(directory);

    expect(names).toEqual(['00000000000000000000-00000000000000000019.ndjson']);
    expect(names.some((name) => name.endsWith('.tmp'))).toBe(false);
  });

  it('fails with ARCHIVE_WRITE_FAILED naming the file when the directory cannot be made', async () => {
    const blocked = path.join(root, 'blocked');
    writeFileSync(blocked, 'a file where the partition directory should be');

    const caught = await writeSegment(
      path.join(blocked, 'partition-0'),
      '0',
      '0',
      lines(0, 0),
    ).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(caught).toBeInstanceOf(PanaceaError);
    const error = caught as PanaceaError;
    expect(error.code).toBe('ARCHIVE_WRITE_FAILED');
    expect(error.retriable).toBe(true);
    expect(error.context.file).toBe(
      path.join(blocked, 'partition-0', '00000000000000000000-00000000000000000000.ndjson'),
    );
    expect(error.cause).toBeInstanceOf(Error);
  });
});
