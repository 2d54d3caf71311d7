/**
 * `panacea audit verify` on archives written by the partition archive in a temporary data
 * directory: the summary, the JSON form, the exit codes and which public key it checks with.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

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

  it('refuses a --from that is not RFC 3339', async () => {
    const { dataDir } = await dataDirWithArchive();
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir });

    const error = await rejectedPanaceaError(
      auditCommand(['verify', '--from', 'yesterday'], config),
    );

    expect(error.code).toBe('USAGE');
    expect(error.message).toBe(
      '--from: expected an RFC 3339 time such as 2026-01-15T09:30:00Z, got "yesterday"',
    );
  });
});
