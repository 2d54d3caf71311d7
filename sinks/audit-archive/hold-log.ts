/**
 * Legal holds: `holds.ndjson` in the archive root, an append-only log of every hold placed or
 * lifted, by whom, when and why. Each entry carries the hash of the entry before it (the first
 * one 64 zeros) and an Ed25519 signature of its own hash made with the archive signing key, so a
 * reviewer can tell that no change was removed, reordered or forged by someone without the key.
 *
 * A hold names a time range of event times, an actor id, a resource id, or several of these (all
 * must match). A segment is held when its summary (segment-summary.ts) says an event in it may
 * match an active hold; see `holdMatches` for how an incomplete summary keeps the segment.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { replaceFileDurably, signatureMatches, signBase64, type SigningKey } from './chain-head.js';
import { GENESIS_HASH, type ManifestEntry } from './manifest.js';

export const HOLD_LOG_FILE = 'holds.ndjson';
/**
 * The hold log's signed head: how many changes it holds and the hash of the last one, signed with
 * the archive key and rewritten after every change. Entries removed from the end of the log, or
 * the whole log emptied, no longer match it; without it only changes in the middle would show.
 */
export const HOLD_HEAD_FILE = 'holds.head.json';

interface HoldHead {
  changes: number;
  lastHash: string;
  /** Ed25519 signature of `holds:<changes>:<lastHash>`, base64. */
  signature: string;
}

function holdHeadText(changes: number, lastHash: string): string {
  return `holds:${changes}:${lastHash}`;
}

/** What a hold keeps: every given criterion must match; times are event times, inclusive. */
export interface HoldCriteria {
  from?: string;
  to?: string;
  actor?: string;
  resource?: string;
}

export interface HoldChange {
  /** 1 for the first change in the log, then one more for each. */
  sequence: number;
  action: 'add' | 'remove';
  /** `hold-<sequence of its add>`; a remove names the hold it lifts. */
  holdId: string;
  /** When the change was recorded, RFC 3339. */
  at: string;
  /** Who made it, as given with --by. */
  by: string;
  reason: string;
  /** What the hold keeps; only on an add. */
  criteria?: HoldCriteria;
  previousHash: string;
  entryHash: string;
  /** Ed25519 signature of `entryHash` (as UTF-8 text), base64. */
  signature: string;
}

export type HoldChangeRequest = Pick<HoldChange, 'by' | 'reason'> &
  ({ action: 'add'; criteria: HoldCriteria } | { action: 'remove'; holdId: string });

export interface ActiveHold {
  holdId: string;
  criteria: HoldCriteria;
  placedAt: string;
  placedBy: string;
  reason: string;
}

export interface HoldLog {
  changes: HoldChange[];
  active: ActiveHold[];
}

function hashOf(change: Omit<HoldChange, 'entryHash' | 'signature'>): string {
  const criteria = change.criteria;
  const canonical = JSON.stringify([
    change.sequence,
    change.action,
    change.holdId,
    change.at,
    change.by,
    change.reason,
    criteria === undefined
      ? null
      : [
          criteria.from ?? null,
          criteria.to ?? null,
          criteria.actor ?? null,
          criteria.resource ?? null,
        ],
    change.previousHash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Reads the hold log and checks it whole: each entry's hash, its link to the one before, its
 * signature, and that a remove lifts a hold that is active. Any fault fails ARCHIVE_INVALID: a
 * hold log in doubt must stop retention rather than let it delete what may be held.
 */
export function readHoldLog(root: string, publicKey: KeyObject): HoldLog {
  const file = path.join(root, HOLD_LOG_FILE);
  if (!existsSync(file)) {
    const head = readHoldHead(root, publicKey);
    if (head !== undefined && head.changes > 0) throw truncated(file, 0, head);
    return { changes: [], active: [] };
  }

  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `the hold log cannot be read (${(error as NodeJS.ErrnoException).code ?? messageOf(error)})`,
      { file },
    );
  }
  const lines = content.split('\n');
  // A last line without its newline is an append a crash cut short; it was never acknowledged.
  lines.pop();
  const changes: HoldChange[] = [];
  const active = new Map<string, ActiveHold>();
  let previousHash = GENESIS_HASH;
  for (const [index, line] of lines.entries()) {
    const fault = (reason: string): PanaceaError =>
      new PanaceaError('ARCHIVE_INVALID', `hold log line ${index + 1}: ${reason}`, {
        file,
        line: index + 1,
      });
    let change: HoldChange;
    try {
      change = JSON.parse(line) as HoldChange;
    } catch {
      throw fault('is not JSON');
    }
    const { entryHash, signature, ...unhashed } = change;
    if (change.sequence !== index + 1) throw fault(`sequence ${change.sequence} is out of order`);
    if (change.previousHash !== previousHash) {
      throw fault('previousHash does not match the entry before it');
    }
    if (hashOf(unhashed) !== entryHash) throw fault('the entry does not match its entryHash');
    if (!signatureMatches(entryHash, signature, publicKey)) {
      throw fault('the signature does not match the public key');
    }
    if (change.action === 'add') {
      active.set(change.holdId, {
        holdId: change.holdId,
        criteria: change.criteria ?? {},
        placedAt: change.at,
        placedBy: change.by,
        reason: change.reason,
      });
    } else if (!active.delete(change.holdId)) {
      throw fault(`removes ${change.holdId}, which is not an active hold`);
    }
    changes.push(change);
    previousHash = entryHash;
  }
  // After the entries, so a fault inside the log is named by its line first.
  checkAgainstHead(file, changes, readHoldHead(root, publicKey));
  return { changes, active: [...active.values()] };
}

/**
 * The log must reach its signed head: the same number of changes ending in the same hash, or one
 * more (a change appended and flushed, its head not yet rewritten when a crash came). Fewer, or
 * another last hash, means changes were cut from the end.
 */
function checkAgainstHead(file: string, changes: HoldChange[], head: HoldHead | undefined): void {
  if (changes.length > 0 && head === undefined) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `${HOLD_HEAD_FILE} is missing: the hold log's ${changes.length} changes cannot be shown complete`,
      { file },
    );
  }
  if (head === undefined) return;
  const atHead = changes[head.changes - 1]?.entryHash ?? (head.changes === 0 ? GENESIS_HASH : '');
  if (changes.length < head.changes || atHead !== head.lastHash)
    throw truncated(file, changes.length, head);
  if (changes.length > head.changes + 1) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `the hold log has ${changes.length} changes but its signed head records ${head.changes}`,
      { file },
    );
  }
}

function truncated(file: string, found: number, head: HoldHead): PanaceaError {
  return new PanaceaError(
    'ARCHIVE_INVALID',
    `the hold log does not reach its signed head: it has ${found} changes, the head records ` +
      `${head.changes} ending in ${head.lastHash.slice(0, 12)}…; changes were removed from its end`,
    { file },
  );
}

function readHoldHead(root: string, publicKey: KeyObject): HoldHead | undefined {
  const file = path.join(root, HOLD_HEAD_FILE);
  if (!existsSync(file)) return undefined;
  let head: HoldHead;
  try {
    head = JSON.parse(readFileSync(file, 'utf8')) as HoldHead;
  } catch {
    throw new PanaceaError('ARCHIVE_INVALID', `${HOLD_HEAD_FILE} is not JSON`, { file });
  }
  const valid =
    Number.isInteger(head.changes) &&
    head.changes >= 0 &&
    typeof head.lastHash === 'string' &&
    typeof head.signature === 'string' &&
    signatureMatches(holdHeadText(head.changes, head.lastHash), head.signature, publicKey);
  if (!valid) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `${HOLD_HEAD_FILE}: the signature does not match the public key`,
      { file },
    );
  }
  return head;
}

/** Rewrites the signed head for the log as it now stands (see replaceFileDurably). */
async function writeHoldHead(root: string, key: SigningKey, changes: HoldChange[]): Promise<void> {
  const lastHash = changes.at(-1)?.entryHash ?? GENESIS_HASH;
  const text = holdHeadText(changes.length, lastHash);
  const head: HoldHead = {
    changes: changes.length,
    lastHash,
    signature: signBase64(text, key.privateKey),
  };
  await replaceFileDurably(path.join(root, HOLD_HEAD_FILE), `${JSON.stringify(head)}\n`);
}

/**
 * Records one change: checked against the log as it stands, hashed onto its end, signed, and
 * flushed to disk before returning. The caller holds the archive lock (archive-lock.ts).
 */
export async function recordHoldChange(
  root: string,
  key: SigningKey,
  request: HoldChangeRequest,
  nowMs: number = Date.now(),
): Promise<HoldChange> {
  const log = readHoldLog(root, key.publicKey);
  const sequence = log.changes.length + 1;
  if (request.action === 'remove' && !log.active.some((hold) => hold.holdId === request.holdId)) {
    throw new PanaceaError(
      'USAGE',
      `no active hold "${request.holdId}"; active: ${log.active.map((hold) => hold.holdId).join(', ') || 'none'}`,
    );
  }
  if (request.action === 'add') checkCriteria(request.criteria);

  const unhashed = {
    sequence,
    action: request.action,
    holdId: request.action === 'add' ? `hold-${sequence}` : request.holdId,
    at: new Date(nowMs).toISOString(),
    by: request.by,
    reason: request.reason,
    ...(request.action === 'add' ? { criteria: request.criteria } : {}),
    previousHash: log.changes.at(-1)?.entryHash ?? GENESIS_HASH,
  };
  const entryHash = hashOf(unhashed);
  const signature = signBase64(entryHash, key.privateKey);
  const change: HoldChange = { ...unhashed, entryHash, signature };

  const file = path.join(root, HOLD_LOG_FILE);
  // An append a crash cut short (a last line without its newline) was never acknowledged and
  // readHoldLog skips it; appending after it would glue this change onto it and break the log.
  if (existsSync(file)) {
    const content = readFileSync(file);
    const complete = content.lastIndexOf(0x0a) + 1;
    if (complete < content.length) await truncate(file, complete);
  }
  const handle = await open(file, 'a');
  try {
    await handle.write(`${JSON.stringify(change)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await writeHoldHead(root, key, [...log.changes, change]);
  return change;
}

function checkCriteria(criteria: HoldCriteria): void {
  const { from, to, actor, resource } = criteria;
  if (from === undefined && to === undefined && actor === undefined && resource === undefined) {
    throw new PanaceaError(
      'USAGE',
      'a hold needs at least one of --from, --to, --actor or --resource',
    );
  }
  if (from !== undefined && to !== undefined && Date.parse(from) > Date.parse(to)) {
    throw new PanaceaError('USAGE', `--from ${from} is after --to ${to}`);
  }
}

/**
 * Whether a segment may hold an event the hold keeps. The time range is the events' (widened by
 * the records' Kafka times, which is all an entry without a summary has); an id list the summary
 * left out (null, or no summary) may hold any id. Actor and resource are checked against the
 * segment's lists separately, so a hold on both keeps a segment where they appear in different
 * events: holding too much is the safe side.
 */
export function holdMatches(hold: HoldCriteria, entry: ManifestEntry): boolean {
  const summary = entry.summary;
  const times = [
    summary?.oldestEventTime,
    summary?.newestEventTime,
    entry.firstTimestamp,
    entry.lastTimestamp,
  ]
    .filter((time): time is string => typeof time === 'string')
    .map((time) => Date.parse(time));
  if (hold.from !== undefined || hold.to !== undefined) {
    // No time at all: a segment without records, which holds no event to keep.
    if (times.length === 0) return false;
    if (hold.from !== undefined && Math.max(...times) < Date.parse(hold.from)) return false;
    if (hold.to !== undefined && Math.min(...times) > Date.parse(hold.to)) return false;
  }
  if (hold.actor !== undefined && summary?.actors != null) {
    if (!summary.actors.includes(hold.actor)) return false;
  }
  if (hold.resource !== undefined && summary?.resources != null) {
    if (!summary.resources.includes(hold.resource)) return false;
  }
  if (summary?.events === 0) return false;
  return true;
}
