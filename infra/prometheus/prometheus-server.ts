/**
 * A real Prometheus for testing the pipeline's `/metrics` and the alerting rules in this folder:
 * the Debian package `prometheus` (binaries `prometheus` and `promtool`), fetched without root
 * (see infra/stack/debian-package.ts), then run on 127.0.0.1 with its own storage directory. Started and stopped by whoever needs it (a test).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { messageOf, PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { unpackedDebianPackage } from '../stack/debian-package.js';
import { waitUntil } from '../stack/probes.js';

const execFileAsync = promisify(execFile);

export const PROMETHEUS_PACKAGE = 'prometheus';

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
}

/** The folder of this module's files: scrape configuration and alerting rules. */
export function prometheusFilesDir(packageRoot: string): string {
  return path.join(packageRoot, 'infra', 'prometheus');
}

/** The package's binaries, fetched and unpacked on first use (see debian-package.ts). */
export async function fetchPrometheus(
  cacheDir: string,
  logger: Logger,
): Promise<PrometheusBinaries> {
  const binaries = { prometheus: 'usr/bin/prometheus', promtool: 'usr/bin/promtool' };
  const root = await unpackedDebianPackage({
    cacheDir,
    packageName: PROMETHEUS_PACKAGE,
    requiredFiles: Object.values(binaries),
    logger,
  });
  return {
    prometheus: path.join(root, binaries.prometheus),
    promtool: path.join(root, binaries.promtool),
  };
}

export interface PrometheusOptions {
  binary: string;
  configFile: string;
  port: number;
  /** Its TSDB; removed by `stop`. */
  storageDir: string;
  /** Where its output goes, for a failure message. */
  logFile: string;
  startTimeoutMs?: number;
}

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${options.port}`;
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      options.binary,
      [
        `--config.file=${options.configFile}`,
        `--web.listen-address=127.0.0.1:${options.port}`,
        `--storage.tsdb.path=${options.storageDir}`,
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    closeSync(logFd);
  }
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));

  const stop = async (): Promise<void> => {
    if (exitCode === undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (exitCode === undefined) child.kill('SIGKILL');
    }
    rmSync(options.storageDir, { recursive: true, force: true });
  };

  const outcome = await waitUntil(
    async () => {
      try {
        return (await fetch(`${url}/-/ready`)).ok;
      } catch {
        return false;
      }
    },
    {
      timeoutMs: options.startTimeoutMs ?? 60_000,
      failFast: () => (exitCode === undefined ? undefined : `exited with code ${exitCode}`),
    },
  );
  if (outcome !== 'ready') {
    await stop();
    throw new PanaceaError(
      'STACK_START_FAILED',
      `Prometheus did not come up on ${url}: ${outcome} (see ${options.logFile})`,
    );
  }
  return { url, stop };
}

/**
 * Runs promtool, e.g. `['check', 'rules', file]` or `['test', 'rules', file]`; resolves with its
 * output, rejects with it when promtool finds a fault.
 */
export async function runPromtool(promtool: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(promtool, args, { timeout: 60_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new PanaceaError(
      'CONFIG_INVALID',
      `promtool ${args.join(' ')} failed: ${output.stdout ?? ''}${output.stderr ?? messageOf(error)}`,
      {},
      error,
    );
  }
}
