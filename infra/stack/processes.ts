/**
 * Long-lived server processes that outlive the command which started them: spawned detached in a
 * process group of their own (so a terminal's Ctrl-C does not reach them), with output in a log
 * file, and stopped as a group.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedProcessOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Run as this user and group (needed to start Elasticsearch when we are root). */
  uid?: number;
  gid?: number;
}

export function spawnDetached(options: DetachedProcessOptions): number {
  const logFd = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but belongs to another user, which is still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM to the whole group, then SIGKILL if it is still there after the grace period. */
export async function stopProcessGroup(
  pid: number,
  gracePeriodMs: number,
): Promise<'stopped' | 'killed' | 'absent' | 'still-running'> {
  if (!isProcessAlive(pid)) return 'absent';

  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + gracePeriodMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return 'stopped';
    await sleep(200);
  }

  signalGroup(pid, 'SIGKILL');
  const killDeadline = Date.now() + 30_000;
  while (isProcessAlive(pid)) {
    // A process of another user ignores our signals; do not wait for it forever.
    if (Date.now() > killDeadline) return 'still-running';
    await sleep(100);
  }
  return 'killed';
}

/**
 * Whether `pid` is still the server we started: after a reboot the number may belong to anything
 * else, which must never be signalled. Where /proc is missing the check cannot be made and the
 * recorded pid is trusted.
 */
export function isOurProcess(pid: number, commandMarker: string): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(commandMarker);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync('/proc/self');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group may be gone already while the leader is a zombie; signal the leader itself.
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone: nothing left to stop.
    }
  }
}

/** The last lines of a log file, for error messages when a server dies on start. */
export function tailOfFile(file: string, lineCount: number): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-lineCount).join('\n');
  } catch {
    return '(no log written)';
  }
}
