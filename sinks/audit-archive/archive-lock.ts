/**
 * One writer at a time for the archive's shared files that are not append-safe: a retention run
 * and a legal hold change take `archive.lock` in the archive root, so a hold placed while a
 * retention run is deciding cannot be missed by it, and two hold changes cannot fork the hold
 * log's chain. The archive stage's own writes (segments, manifests) do not take it: they touch
 * only files no other process writes.
 *
 * The lock is a file created exclusively, holding the owner's pid and host; a lock left by a
 * process of this host that no longer runs is taken over (a crash must not block retention for
 * ever), one held by a live process or another host is refused with ARCHIVE_BUSY.
 */
import { readFileSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';

export const LOCK_FILE = 'archive.lock';

interface LockOwner {
  pid: number;
  host: string;
  purpose: string;
  since: string;
}

/** Runs `work` holding the archive lock; the lock is released whatever `work` does. */
export async function withArchiveLock<T>(
  root: string,
  purpose: string,
  work: () => Promise<T>,
): Promise<T> {
  const file = path.join(root, LOCK_FILE);
  await acquire(file, purpose);
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}

async function acquire(file: string, purpose: string): Promise<void> {
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    purpose,
    since: new Date().toISOString(),
  };
  // Twice at most: once, and once more after taking over a lock its owner left behind.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.write(`${JSON.stringify(owner)}\n`);
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readOwner(file);
    if (holder === undefined ? justCreated(file) : !leftBehind(holder)) {
      const who =
        holder === undefined
          ? 'a process that is just taking it'
          : `pid ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.since})`;
      throw new PanaceaError(
        'ARCHIVE_BUSY',
        `the audit archive is locked by ${who}; try again when it ends`,
        { file },
      );
    }
    await rm(file, { force: true });
  }
  throw new PanaceaError('ARCHIVE_BUSY', 'the audit archive lock is contended; try again', {
    file,
  });
}

function readOwner(file: string): LockOwner | undefined {
  let owner: unknown;
  try {
    owner = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // Empty or half-written: its writer died between creating and writing it.
    return undefined;
  }
  // Anything else that is not what acquire writes is as unreadable (it named "pid undefined on
  // undefined" and, being on no host, was never taken over; `null` failed with a TypeError).
  const candidate = owner as Partial<LockOwner> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    !Number.isSafeInteger(candidate.pid) ||
    typeof candidate.host !== 'string' ||
    typeof candidate.purpose !== 'string' ||
    typeof candidate.since !== 'string'
  ) {
    return undefined;
  }
  return candidate as LockOwner;
}

/** An unreadable lock younger than this may be one its owner is still writing. */
const UNREADABLE_LOCK_GRACE_MS = 10_000;

function justCreated(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < UNREADABLE_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

function leftBehind(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
