/**
 * The files of a Debian package, for a real server a test runs beside the pipeline (Prometheus,
 * Alertmanager), without root: `apt-get download` into a download directory, `dpkg-deb -x`, then
 * renamed into `<cacheDir>/debian/<package>`, so a fetch cut short never looks like a cached one.
 * Later calls reuse the unpacked tree. Needs `apt-get` and `dpkg-deb` and a reachable mirror once.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { messageOf, PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

const execFileAsync = promisify(execFile);

const FETCH_TIMEOUT_MS = 5 * 60_000;

export interface DebianPackageRequest {
  cacheDir: string;
  packageName: string;
  /** Paths inside the package (e.g. `usr/bin/promtool`) that must be there. */
  requiredFiles: string[];
  logger: Logger;
}

/** The root of the unpacked package: its files sit below it as they would below `/`. */
export async function unpackedDebianPackage(request: DebianPackageRequest): Promise<string> {
  const { cacheDir, packageName, requiredFiles, logger } = request;
  const root = path.join(cacheDir, 'debian', packageName);
  const complete = (tree: string): boolean =>
    requiredFiles.every((file) => existsSync(path.join(tree, file)));
  if (complete(root)) return root;

  mkdirSync(path.dirname(root), { recursive: true });
  const download = mkdtempSync(path.join(path.dirname(root), `${packageName}-download-`));
  try {
    logger.info({ package: packageName, directory: download }, 'fetching the Debian package');
    await run('apt-get', ['download', packageName], download, packageName);
    const archive = readdirSync(download).find((name) => name.endsWith('.deb'));
    if (archive === undefined) {
      throw unavailable(packageName, `apt-get download left no .deb in ${download}`);
    }
    const unpacked = path.join(download, 'root');
    await run('dpkg-deb', ['-x', path.join(download, archive), unpacked], download, packageName);
    if (!complete(unpacked)) {
      throw unavailable(packageName, `${archive} lacks one of ${requiredFiles.join(', ')}`);
    }
    rmSync(root, { recursive: true, force: true });
    renameSync(unpacked, root);
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  return root;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  packageName: string,
): Promise<void> {
  try {
    await execFileAsync(command, args, {
      cwd,
      timeout: FETCH_TIMEOUT_MS,
      maxBuffer: 4 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join('\n');
    throw unavailable(
      packageName,
      `${command} ${args.join(' ')} failed: ${stderr || messageOf(error)}`,
      error,
    );
  }
}

function unavailable(packageName: string, message: string, cause?: unknown): PanaceaError {
  return new PanaceaError(
    'STACK_UNAVAILABLE',
    `cannot fetch the Debian package ${packageName}: ${message}`,
    { package: packageName },
    cause,
  );
}
