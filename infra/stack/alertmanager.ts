/**
 * A real Prometheus Alertmanager for testing the webhook sink's `alertmanager` destination, from
 * the machine's Debian package (fetched without root, see debian-package.ts), run as a child
 * process on 127.0.0.1 with clustering off, its own storage directory and a minimal
 * configuration. Its templates must sit at a fixed path, which needs root once (see
 * placePackagedTemplates).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { unpackedDebianPackage } from './debian-package.js';
import { tailOfFile } from './processes.js';

const execFileAsync = promisify(execFile);

export const ALERTMANAGER_PACKAGE = 'prometheus-alertmanager';
const BINARY_PATH = path.join('usr', 'bin', 'prometheus-alertmanager');
/** Where Debian's build of Alertmanager looks for its default templates (a fixed path). */
const PACKAGED_TEMPLATES = '/usr/share/prometheus/alertmanager';
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/**
 * The Alertmanager binary, fetched and unpacked on the first call (see debian-package.ts) and
 * reused after. Whatever version the machine's Debian mirror has (0.25 on bookworm);
 * `alertmanagerVersion` says which.
 */
export async function resolveAlertmanagerBinary(cacheDir: string, logger: Logger): Promise<string> {
  const root = await unpackedDebianPackage({
    cacheDir,
    packageName: ALERTMANAGER_PACKAGE,
    requiredFiles: [BINARY_PATH],
    logger,
  });
  placePackagedTemplates(root, logger);
  return path.join(root, BINARY_PATH);
}

/**
 * Debian's build reads its notification templates from a fixed path (its 02-Do_not_embed_blobs
 * patch), which exists only where the package is installed. As root, the package's own template
 * directory is put there, the one file set the installed package would place, and nothing else
 * of the package is installed (no service, no user); without root, `startAlertmanager` says what
 * to install instead.
 */
function placePackagedTemplates(home: string, logger: Logger): void {
  if (existsSync(path.join(PACKAGED_TEMPLATES, 'default.tmpl'))) return;
  if (process.getuid?.() !== 0) return;
  mkdirSync(PACKAGED_TEMPLATES, { recursive: true });
  cpSync(path.join(home, PACKAGED_TEMPLATES), PACKAGED_TEMPLATES, { recursive: true });
  logger.info(
    { directory: PACKAGED_TEMPLATES },
    "placed Debian's Alertmanager templates where its build reads them",
  );
}

export async function alertmanagerVersion(binary: string): Promise<string> {
  const { stdout, stderr } = await execFileAsync(binary, ['--version'], { timeout: 10_000 });
  return /version (\S+)/.exec(`${stdout}${stderr}`)?.[1] ?? 'unknown';
}

export interface AlertmanagerOptions {
  binary: string;
  /** Its configuration, storage and log go here. */
  workDirectory: string;
  port: number;
}

export interface RunningAlertmanager {
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts Alertmanager on `127.0.0.1:<port>` with one receiver that sends nothing (the tests read
 * its API, they do not need it to notify anyone) and waits until `/-/ready` answers.
 */
export async function startAlertmanager(
  options: AlertmanagerOptions,
): Promise<RunningAlertmanager> {
  const { binary, workDirectory, port } = options;
  mkdirSync(path.join(workDirectory, 'storage'), { recursive: true });
  const configFile = path.join(workDirectory, 'alertmanager.yml');
  writeFileSync(
    configFile,
    [
      'route:',
      '  receiver: discard',
      '  group_by: [alertname]',
      'receivers:',
      '  - name: discard',
      '',
    ].join('\n'),
  );
  const logFile = path.join(workDirectory, 'alertmanager.log');
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(workDirectory, 'storage')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Empty: no cluster listener, no gossip with anything else on the network.
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new PanaceaError('STACK_START_FAILED', 'Alertmanager did not start');

  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (exited) return;
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const stoppedInTime = await Promise.race([
      ended.then(() => true),
      sleep(STOP_GRACE_MS).then(() => false),
    ]);
    if (!stoppedInTime) {
      child.kill('SIGKILL');
      await ended;
    }
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready(url))) {
    if (exited || Date.now() > deadline) {
      await stop();
      const log = tailOfFile(logFile, 15);
      if (log.includes(`${PACKAGED_TEMPLATES}/default.tmpl: no such file`)) {
        // Not root, and the package not installed: see placePackagedTemplates.
        throw new PanaceaError(
          'STACK_UNAVAILABLE',
          `Debian's Alertmanager reads its notification templates from ${PACKAGED_TEMPLATES}, ` +
            'which exists only when the package is installed: run as root once (the test setup ' +
            `then places them), or apt-get install ${ALERTMANAGER_PACKAGE}`,
        );
      }
      throw new PanaceaError(
        'STACK_START_FAILED',
        `Alertmanager did not answer on ${url}:\n${log}`,
      );
    }
    await sleep(200);
  }
  return { url, pid, logFile, stop };
}

async function ready(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
