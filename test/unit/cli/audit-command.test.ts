/**
 * `panacea audit verify` on archives written by the partition archive in a temporary data
 * directory: the summary, the JSON form, the exit codes and which public key it checks with.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { exportWithCodec, progressReporter } from '../../../cli/commands/audit-export.js';
import { auditCommand } from '../../../cli/commands/audit.js';
import { loadConfig } from '../../../core/config.js';
import { readManifest } from '../../../sinks/audit-archive/manifest.js';
import { partitionDirectory } from '../../../sinks/audit-archive/segment-files.js';
import { rejectedPanaceaError } from '../fixtures/panacea-error.js';
import {
  BASE_TIME_MS,
  signingKey,
  temporaryRoot,
  TOPIC,
  writeSegments,
} from '../sinks/audit-archive/archive-fixture.js';
import {
  auditCodec,
  auditEvent,
  writeEventSegments,
} from '../sinks/audit-archive/audit-events-fixture.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** An archive in a data directory, signed with the key the archive generated for itself. */
async function dataDirWithArchive(): Promise<{ dataDir: string; root: string }> {
  const dataDir = temporaryRoot();
  const root = path.join(dataDir, 'audit-archive');
  mkdirSync(root);
  const key = signingKey();
  writeFileSync(
    path.join(root, 'signing-key.pem'),
    key.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  await writeSegments(root, key, [
    [0, 4],
    [5, 9],
  ]);
  return { dataDir, root };
}

async function verify(
  dataDir: string,
  args: string[],
  environment: NodeJS.ProcessEnv = {},
): Promise<{ exitCode: number; stdout: string }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const config = loadConfig({ PANACEA_DATA_DIR: dataDir, ...environment });
  const exitCode = await auditCommand(['verify', ...args], config);
  vi.restoreAllMocks();
  return { exitCode, stdout };
}

describe('panacea audit verify', () => {
  it('prints segments, events, time range and ok for an intact archive, exit 0', async () => {
    const { dataDir } = await dataDirWithArchive();

    const { exitCode, stdout } = await verify(dataDir, []);

    expect(exitCode).toBe(0);
    expect(stdout).toContain('segments:   2\n');
    expect(stdout).toContain('events:     10\n');
    expect(stdout).toContain(
      `time range: ${new Date(BASE_TIME_MS).toISOString()} to ${new Date(BASE_TIME_MS + 9 * 60_000).toISOString()}`,
    );
    expect(stdout.trimEnd().endsWith('ok')).toBe(true);
  });

  it('names the first broken segment and the reason, exit 1, in text and JSON', async () => {
    const { dataDir, root } = await dataDirWithArchive();
    const directory = partitionDirectory(root, TOPIC, 0);
    const second = readManifest(directory).entries[1]!.segment;
    rmSync(path.join(directory, second));

    const text = await verify(dataDir, []);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toContain(
      `BROKEN: ${TOPIC} partition 0, ${second}: the segment file is missing`,
    );

    const json = await verify(dataDir, ['--json']);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      broken: { topic: TOPIC, partition: 0, segment: second },
    });
  });

  it('checks with --public-key over the configured key, and fails with another key', async () => {
    const { dataDir } = await dataDirWithArchive();
    const other = path.join(dataDir, 'other.pub.pem');
    const { publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(other, publicKey.export({ type: 'spki', format: 'pem' }));

    const { exitCode, stdout } = await verify(dataDir, ['--public-key', other]);

    expect(exitCode).toBe(1);
    expect(stdout).toContain('the chain head signature does not match the public key');
    const published = path.join(dataDir, 'archive.pub.pem');
    const privateKey = readFileSync(path.join(dataDir, 'audit-archive', 'signing-key.pem'));
    writeFileSync(published, createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
    expect((await verify(dataDir, ['--public-key', published])).exitCode).toBe(0);
  });

  it('says there is no archive in a data directory without one, not that a key is missing', async () => {
    const dataDir = temporaryRoot();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    const error = await rejectedPanaceaError(auditCommand(['verify'], config));

    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toBe(`no audit archive at ${path.join(dataDir, 'audit-archive')}`);
  });

  it('refuses a --from that is not RFC 3339', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    const error = await rejectedPanaceaError(
      auditCommand(['verify', '--from', 'yesterday'], config),
    );

    expect(error.code).toBe('USAGE');
    expect(error.message).toBe(
      '--from: expected an RFC 3339 time such as 2026-01-15T09:30:00Z, got "yesterday": ' +
        '"yesterday" is not an RFC 3339 date-time with an offset',
    );
  });

  it('refuses a --from after --to instead of verifying nothing and saying ok', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    const error = await rejectedPanaceaError(
      auditCommand(
        ['verify', '--from', '2026-12-03T00:00:00Z', '--to', '2026-12-01T00:00:00Z'],
        config,
      ),
    );

    expect(error.code).toBe('USAGE');
    expect(error.message).toBe('--from 2026-12-03T00:00:00Z is after --to 2026-12-01T00:00:00Z');
  });

  it('refuses a hold on an empty actor or resource id, which the hold log would keep forever', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    for (const option of ['--actor', '--resource']) {
      const error = await rejectedPanaceaError(
        auditCommand(['hold', 'add', option, '', '--reason', 'r', '--by', 'b'], config),
      );
      expect(error.code).toBe('USAGE');
      expect(error.message).toBe(`${option}: expected an id, got an empty text`);
    }
  });

  it('refuses a day that does not exist rather than rolling it over into the next month', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    for (const args of [
      ['verify', '--from', '2026-02-30T00:00:00Z'],
      ['hold', 'add', '--from', '2026-02-30T00:00:00Z', '--reason', 'r', '--by', 'b'],
      [
        'export',
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-04-31T00:00:00Z',
        '--format',
        'csv',
      ],
    ]) {
      const error = await rejectedPanaceaError(auditCommand(args, config));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain('is not a real calendar date and time');
    }
  });
});

/** Runs `panacea audit ARGS` on the data directory, catching stdout. */
async function audit(
  dataDir: string,
  args: string[],
  environment: NodeJS.ProcessEnv = {},
): Promise<{ exitCode: number; stdout: string }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir, ...environment });
    const exitCode = await auditCommand(args, config);
    return { exitCode, stdout };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('panacea audit retention and hold', () => {
  it('places, lists and lifts holds, and retention keeps what they hold', async () => {
    const { dataDir } = await dataDirWithArchive();
    // The fixture's records are from 2026-01-15; a one-minute retention makes all of them old.
    const environment = { PANACEA_ARCHIVE_RETENTION: '1m' };

    const placed = await audit(dataDir, [
      'hold',
      'add',
      '--from',
      '2026-01-15T09:00:00+00:00',
      '--to',
      '2026-01-15T09:02:00Z',
      '--reason',
      'case 7',
      '--by',
      'alice',
    ]);
    expect(placed.stdout).toMatch(
      /^#1 \S+ alice placed hold-1 \(events 2026-01-15T09:00:00.000Z to 2026-01-15T09:02:00.000Z\): case 7\n$/,
    );

    const dry = await audit(dataDir, ['retention', '--dry-run', '--json'], environment);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      retention: '1m',
      deleted: [{ partition: 0 }],
      held: [{ partition: 0, holds: ['hold-1'] }],
    });

    await audit(dataDir, ['hold', 'remove', 'hold-1', '--reason', 'closed', '--by', 'bob']);
    const listed = await audit(dataDir, ['hold', 'list', '--history']);
    expect(listed.stdout).toContain('active holds: 0 (2 changes in the hold log)');
    expect(listed.stdout).toContain('bob lifted hold-1: closed');

    const applied = await audit(dataDir, ['retention'], environment);
    expect(applied.stdout).toContain('deleted: 2 segments');
    const verified = await audit(dataDir, ['verify']);
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout).toContain('deleted:    2 segments');
    expect(verified.stdout).toContain('holds:      0 active, 2 changes in the hold log');
  });

  it('refuses a hold without --by or --reason, and a change without the archive key', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    const noBy = await rejectedPanaceaError(
      auditCommand(['hold', 'add', '--actor', 'u-1', '--reason', 'x'], config),
    );
    expect(noBy.message).toBe('--by: expected a non-empty text, got nothing');

    const empty = temporaryRoot();
    const noKey = await rejectedPanaceaError(
      auditCommand(
        ['hold', 'add', '--actor', 'u-1', '--reason', 'x', '--by', 'y'],
        loadConfig({ PANACEA_DATA_DIR: empty }),
      ),
    );
    expect(noKey.code).toBe('USAGE');
    expect(noKey.message).toContain('no archive signing key');
  });
});

describe('panacea audit export', () => {
  async function exportArchiveOf(args: string[]) {
    const dataDir = temporaryRoot();
    const root = path.join(dataDir, 'audit-archive');
    mkdirSync(root);
    const key = signingKey();
    writeFileSync(
      path.join(root, 'signing-key.pem'),
      key.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const codec = await auditCodec();
    const events = [
      auditEvent({ timeMs: BASE_TIME_MS, actor: 'u-1', reason: 'said "no", twice' }),
      auditEvent({ timeMs: BASE_TIME_MS + 1000, actor: 'u-2' }),
    ];
    await writeEventSegments(root, key, codec, [events]);
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      const config = loadConfig({ PANACEA_DATA_DIR: dataDir });
      const exitCode = await exportWithCodec(args, config, codec);
      return { exitCode, stderr, dataDir, events };
    } finally {
      vi.restoreAllMocks();
    }
  }

  it('writes the CSV to --output and says what it exported on stderr', async () => {
    const output = path.join(temporaryRoot(), 'events.csv');

    const { exitCode, stderr } = await exportArchiveOf([
      '--from',
      '2026-01-15T00:00:00Z',
      '--to',
      '2026-01-16T00:00:00Z',
      '--actor',
      'u-1',
      '--format',
      'csv',
      '--output',
      output,
    ]);

    expect(exitCode).toBe(0);
    const lines = readFileSync(output, 'utf8').split('\r\n');
    expect(lines[0]?.startsWith('eventId,timestamp,agentId,')).toBe(true);
    expect(lines[1]).toContain(',"said ""no"", twice",');
    expect(lines).toHaveLength(3);
    expect(stderr).toContain('exported 1 events (of 2 read in 1 verified segments, 1 partitions)');
    expect(stderr).toMatch(/export: 100%, 1\/1 segments, 1 events exported/);
  });

  it('refuses an --output it cannot write, naming it, before reading anything', async () => {
    const base = ['--from', '2026-01-15T00:00:00Z', '--to', '2026-01-16T00:00:00Z'];
    const missingDirectory = path.join(temporaryRoot(), 'no-such-directory', 'events.csv');
    const missing = await rejectedPanaceaError(
      exportArchiveOf([...base, '--format', 'csv', '--output', missingDirectory]),
    );
    expect(missing.code).toBe('USAGE');
    expect(missing.message).toBe(`--output: cannot write ${missingDirectory} (ENOENT)`);

    const directory = temporaryRoot();
    const isDirectory = await rejectedPanaceaError(
      exportArchiveOf([...base, '--format', 'csv', '--output', directory]),
    );
    expect(isDirectory.code).toBe('USAGE');
    expect(isDirectory.message).toBe(`--output: ${directory} is a directory; expected a file name`);
    expect(existsSync(`${directory}.partial`)).toBe(false);
  });

  it('refuses an unknown format and a missing --to before reading anything', async () => {
    const format = await rejectedPanaceaError(
      exportArchiveOf([
        '--from',
        '2026-01-15T00:00:00Z',
        '--to',
        '2026-01-16T00:00:00Z',
        '--format',
        'xml',
      ]),
    );
    expect(format.message).toBe('--format: expected ndjson or csv, got "xml"');

    const to = await rejectedPanaceaError(
      exportArchiveOf(['--from', '2026-01-15T00:00:00Z', '--format', 'csv']),
    );
    expect(to.message).toBe('--to: expected an RFC 3339 time, got nothing');
  });
});

describe('export progress', () => {
  const steps = [0, 1, 2].map((segmentsDone) => ({
    segmentsDone,
    segmentsTotal: 2,
    bytesDone: segmentsDone * 500,
    bytesTotal: 1000,
    eventsExported: segmentsDone * 10,
  }));

  it('redraws one bar in place on a terminal, and ends its line', () => {
    let written = '';
    const progress = progressReporter({
      isTTY: true,
      write: (chunk: string | Uint8Array) => ((written += String(chunk)), true),
    });

    for (const step of steps) progress.update(step);
    progress.end();

    expect(written.split('\r').slice(1)).toEqual([
      `export [${'.'.repeat(30)}]   0% 0/2 segments, 0 events exported`,
      `export [${'#'.repeat(15)}${'.'.repeat(15)}]  50% 1/2 segments, 10 events exported`,
      `export [${'#'.repeat(30)}] 100% 2/2 segments, 20 events exported\n`,
    ]);
  });

  it('writes plain lines elsewhere: the first, then at most one per interval, and the last', () => {
    let written = '';
    const progress = progressReporter({
      isTTY: false,
      write: (chunk: string | Uint8Array) => ((written += String(chunk)), true),
    });

    for (const step of steps) progress.update(step);
    progress.end();

    expect(written).toBe(
      'export: 0%, 0/2 segments, 0 events exported\nexport: 100%, 2/2 segments, 20 events exported\n',
    );
  });
});
