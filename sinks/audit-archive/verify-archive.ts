/**
 * Checks an archive against its manifests and signed chain heads, partition by partition, and
 * stops at the first broken segment with the reason: the head's signature, each entry's hash and
 * its link to the one before, offset ranges that follow on without a gap or overlap, and, for
 * each segment in the time window, its SHA-256 and that it decodes to the stated record count.
 *
 * The chain is always checked whole (it is small); only segment files outside the window are not
 * read, since a changed file outside the window does not change what the window says.
 *
 * A segment deleted by retention is accepted without its file when a deletion mark signed with
 * the same key names it (deletion-log.ts); it is counted, and the chain is checked through its
 * entry like any other. The legal hold log is checked whole too (hold-log.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import type { KeyObject } from 'node:crypto';

import type avro from 'avsc';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { ARCHIVED_RECORD_SCHEMA, type ArchivedRecord } from './archived-record.js';
import { headSignatureValid, readHead } from './chain-head.js';
import { decodeContainer } from './container-file.js';
import { readDeletions, validDeletionOf } from './deletion-log.js';
import { HOLD_LOG_FILE, readHoldLog } from './hold-log.js';
import {
  entryHashOf,
  GENESIS_HASH,
  MANIFEST_FILE,
  readManifest,
  sha256Hex,
  type ManifestEntry,
} from './manifest.js';
import {
  PARTITION_REGISTER_FILE,
  readPartitionRegister,
  registeredPartition,
  type RegisteredPartition,
} from './partition-register.js';
import { archivedPartitions, partitionDirectory, segmentFilesIn } from './segment-files.js';
import { localSegmentStore, type SegmentStore } from './segment-store.js';

export interface VerifyOptions {
  /** Only segments whose time range overlaps [fromMs, toMs] are read; epoch ms. */
  fromMs?: number;
  toMs?: number;
  publicKey: KeyObject;
  /** Where the segments are; default the archive directory. */
  store?: SegmentStore;
}

export interface BrokenSegment {
  topic: string;
  partition: number;
  /** The segment's file name, or the manifest or head file when the fault is there. */
  segment: string;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  partitions: number;
  /** Segments and records read in the window. */
  segments: number;
  events: number;
  /** Segments in the window deleted by retention (their entries checked, their files not read). */
  deletedSegments: number;
  /** Changes in the legal hold log, and the holds active after them. */
  holdChanges: number;
  activeHolds: number;
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  /** Files in partition directories the manifests do not list (an interrupted run's leftovers). */
  unlisted: string[];
  broken: BrokenSegment | undefined;
}

const EXPECTED_SCHEMA = `${ARCHIVED_RECORD_SCHEMA.namespace}.${ARCHIVED_RECORD_SCHEMA.name}`;

/**
 * What verify reads of each record: its position. The other fields are skipped, not decoded,
 * which about halves the time a segment takes; their bytes are covered by the SHA-256 anyway.
 */
const POSITIONS_SCHEMA = {
  type: 'record',
  name: ARCHIVED_RECORD_SCHEMA.name,
  namespace: ARCHIVED_RECORD_SCHEMA.namespace,
  fields: ARCHIVED_RECORD_SCHEMA.fields.filter((field) =>
    ['topic', 'partition', 'offset'].includes(field.name),
  ),
};

export async function verifyArchive(root: string, options: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    partitions: 0,
    segments: 0,
    events: 0,
    deletedSegments: 0,
    holdChanges: 0,
    activeHolds: 0,
    firstTimestamp: null,
    lastTimestamp: null,
    unlisted: [],
    broken: undefined,
  };
  if (!existsSync(root)) {
    throw new PanaceaError('FILE_UNREADABLE', `no audit archive at ${root}`, { file: root });
  }

  try {
    const holds = readHoldLog(root, options.publicKey);
    report.holdChanges = holds.changes.length;
    report.activeHolds = holds.active.length;
  } catch (error) {
    report.ok = false;
    report.broken = { topic: '-', partition: -1, segment: HOLD_LOG_FILE, reason: messageOf(error) };
    return report;
  }

  // Read when the first chain has checked out: with a wrong key, the chain head names it first.
  let register: Map<string, RegisteredPartition> | undefined | BrokenSegment | null = null;
  const readRegister = (): Map<string, RegisteredPartition> | undefined | BrokenSegment => {
    if (register !== null) return register;
    try {
      register = readPartitionRegister(root, options.publicKey);
    } catch (error) {
      const reason = messageOf(error).replace(`${PARTITION_REGISTER_FILE}: `, '');
      register = { topic: '-', partition: -1, segment: PARTITION_REGISTER_FILE, reason };
    }
    return register;
  };

  const topics = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const present = new Set<string>();
  for (const topic of topics) {
    for (const partition of archivedPartitions(root, topic)) {
      present.add(`${topic}\u0000${partition}`);
      report.partitions += 1;
      const broken =
        (await verifyPartition(root, topic, partition, options, report)) ??
        registrationProblem(root, topic, partition, readRegister(), options.publicKey);
      if (broken !== undefined) {
        report.ok = false;
        report.broken = broken;
        return report;
      }
    }
  }
  // A registered partition whose directory is gone: removed with its chain and its head.
  const finalRegister = readRegister();
  if (finalRegister !== undefined && 'reason' in finalRegister) {
    report.ok = false;
    report.broken = finalRegister;
    return report;
  }
  for (const registered of finalRegister?.values() ?? []) {
    if (present.has(`${registered.topic}\u0000${registered.partition}`)) continue;
    report.ok = false;
    report.broken = {
      topic: registered.topic,
      partition: registered.partition,
      segment: `partition-${registered.partition}`,
      reason: `the partition register names this partition (its chain starting at offset ${registered.firstOffset}), but its directory is missing (removed)`,
    };
    return report;
  }
  return report;
}

/** Whether a partition's chain is the one the register names (see partition-register.ts). */
function registrationProblem(
  root: string,
  topic: string,
  partition: number,
  register: Map<string, RegisteredPartition> | undefined | BrokenSegment,
  publicKey: KeyObject,
): BrokenSegment | undefined {
  if (register !== undefined && 'reason' in register) return register;
  const checked = checkChain(root, topic, partition, publicKey);
  if ('broken' in checked) return checked.broken;
  const first = checked.entries[0];
  if (first === undefined) return undefined;
  const registered = registeredPartition(register, topic, partition);
  const broken = (reason: string): BrokenSegment => ({
    topic,
    partition,
    segment: PARTITION_REGISTER_FILE,
    reason,
  });
  if (register === undefined) {
    return broken(
      `the archive holds chains but no partition register (it was removed, or the archive was written before registers; the audit archive stage registers its partitions again when it starts)`,
    );
  }
  if (registered === undefined) {
    return broken('this partition holds a chain the partition register does not name');
  }
  if (registered.firstOffset !== first.firstOffset) {
    return broken(
      `the partition register says the chain starts at offset ${registered.firstOffset}, but it starts at ${first.firstOffset} (the partition was removed and started again)`,
    );
  }
  return undefined;
}

async function verifyPartition(
  root: string,
  topic: string,
  partition: number,
  options: VerifyOptions,
  report: VerifyReport,
): Promise<BrokenSegment | undefined> {
  const checked = checkChain(root, topic, partition, options.publicKey);
  if ('broken' in checked) return checked.broken;
  const { directory, entries, deleted } = checked;
  const store = options.store ?? localSegmentStore(root);

  for (const entry of entries) {
    if (!inWindow(entry.firstTimestamp, entry.lastTimestamp, options)) continue;
    if (deleted.has(entry.segment)) {
      report.deletedSegments += 1;
      continue;
    }
    const read = await readVerifiedSegment(store, topic, partition, entry, 'positions');
    if ('reason' in read) return { topic, partition, segment: entry.segment, reason: read.reason };
    report.segments += 1;
    report.events += entry.records;
    report.firstTimestamp = earliest(report.firstTimestamp, entry.firstTimestamp);
    report.lastTimestamp = latest(report.lastTimestamp, entry.lastTimestamp);
  }

  const listed = new Set(entries.map((entry) => entry.segment));
  const present = new Set([
    ...segmentFilesIn(directory),
    ...(await store.listSegments(topic, partition)),
  ]);
  for (const name of [...present].sort()) {
    if (!listed.has(name)) report.unlisted.push(path.join(topic, `partition-${partition}`, name));
  }
  return undefined;
}

/** A partition's manifest whose chain checked out, and which of its segments were deleted. */
export interface CheckedChain {
  directory: string;
  entries: ManifestEntry[];
  /** Segments with a valid deletion mark (deletion-log.ts): their files are not expected. */
  deleted: Set<string>;
}

/**
 * Checks a partition's chain without reading its segments: the head's signature, each entry's
 * hash and link, and offset ranges that follow on. Export uses it before it reads any segment.
 */
export function checkChain(
  root: string,
  topic: string,
  partition: number,
  publicKey: KeyObject,
): CheckedChain | { broken: BrokenSegment } {
  const directory = partitionDirectory(root, topic, partition);
  const broken = (segment: string, reason: string): { broken: BrokenSegment } => ({
    broken: { topic, partition, segment, reason },
  });

  let manifest;
  let head;
  try {
    manifest = readManifest(directory);
    head = readHead(directory);
  } catch (error) {
    return broken(MANIFEST_FILE, messageOf(error));
  }
  if (manifest.completeBytes !== manifest.sizeBytes) {
    return broken('manifest.ndjson', 'the last entry is cut short (a run ended while appending)');
  }
  const { entries } = manifest;

  // The signature first: without it every later check could pass on a rewritten chain.
  const last = entries.at(-1);
  if (head === undefined) {
    if (last !== undefined) return broken('head.json', 'the chain head is missing');
  } else {
    if (!headSignatureValid(head, publicKey)) {
      return broken('head.json', 'the chain head signature does not match the public key');
    }
    if (head.topic !== topic || head.partition !== partition) {
      return broken('head.json', `the chain head is for ${head.topic}/${head.partition}`);
    }
    if (last === undefined || head.headHash !== last.entryHash) {
      return broken(
        last?.segment ?? 'manifest.ndjson',
        'the last manifest entry is not the signed chain head (entries removed, added or rewritten)',
      );
    }
  }

  let previousHash = GENESIS_HASH;
  let previousLastOffset: bigint | undefined;
  for (const entry of entries) {
    if (entry.previousHash !== previousHash) {
      return broken(entry.segment, 'previousHash does not match the entry before it');
    }
    if (entryHashOf(entry) !== entry.entryHash) {
      return broken(entry.segment, 'the manifest entry does not match its entryHash');
    }
    const firstOffset = BigInt(entry.firstOffset);
    const lastOffset = BigInt(entry.lastOffset);
    if (lastOffset < firstOffset) {
      return broken(entry.segment, 'lastOffset is before firstOffset');
    }
    if (previousLastOffset !== undefined && firstOffset !== previousLastOffset + 1n) {
      const reason =
        firstOffset > previousLastOffset + 1n
          ? `offsets ${previousLastOffset + 1n} to ${firstOffset - 1n} are in no segment`
          : `starts at offset ${firstOffset}, inside or before the segment before it`;
      return broken(entry.segment, reason);
    }
    previousHash = entry.entryHash;
    previousLastOffset = lastOffset;
  }
  // After the links: a removed entry is better named by the broken link it leaves.
  if (head !== undefined && last !== undefined) {
    if (head.entries !== entries.length || head.lastOffset !== last.lastOffset) {
      return broken(
        last.segment,
        `the signed head covers ${head.entries} entries to offset ${head.lastOffset}, the manifest ${entries.length} to ${last.lastOffset}`,
      );
    }
  }

  const marks = readDeletions(directory);
  const deleted = new Set(
    entries
      .filter(
        (entry) =>
          validDeletionOf(marks.get(entry.segment), topic, partition, entry, publicKey) !==
          undefined,
      )
      .map((entry) => entry.segment),
  );
  return { directory, entries, deleted };
}

/**
 * Reads one segment and checks it against its entry: its SHA-256, that it decodes as archived
 * records, their count, and that each sits in the entry's offset range, in order. Returns the
 * records, or the reason it is broken.
 */
export async function readVerifiedSegment(
  store: SegmentStore,
  topic: string,
  partition: number,
  entry: ManifestEntry,
  fields: 'positions' | 'all' = 'all',
): Promise<{ records: ArchivedRecord[]; sizeBytes: number } | { reason: string }> {
  const bytes = await store.readSegment({ topic, partition, segment: entry.segment });
  if (bytes === undefined) return { reason: 'the segment file is missing' };
  if (sha256Hex(bytes) !== entry.sha256) {
    return {
      reason: 'the SHA-256 of the file does not match the manifest (the segment was changed)',
    };
  }
  let decoded;
  try {
    decoded = await decodeContainer(
      bytes,
      fields === 'positions' ? (POSITIONS_SCHEMA as unknown as avro.Schema) : undefined,
    );
  } catch {
    return { reason: 'the file is not a readable Avro container' };
  }
  if (decoded.schemaName !== EXPECTED_SCHEMA) {
    return {
      reason: `the records are ${decoded.schemaName ?? 'unnamed'}, not ${EXPECTED_SCHEMA}`,
    };
  }
  if (decoded.records.length !== entry.records) {
    return {
      reason: `holds ${decoded.records.length} records, the manifest says ${entry.records}`,
    };
  }
  // The records themselves must sit where the entry says, in offset order. (With 'positions',
  // only topic, partition and offset are filled in.)
  const records = decoded.records as ArchivedRecord[];
  let previousOffset = BigInt(entry.firstOffset) - 1n;
  for (const record of records) {
    const offset = BigInt(record.offset);
    if (record.topic !== topic || record.partition !== partition) {
      return { reason: `holds a record of ${record.topic} partition ${record.partition}` };
    }
    if (offset <= previousOffset || offset > BigInt(entry.lastOffset)) {
      return {
        reason: `the record at offset ${offset} is out of order or outside offsets ${entry.firstOffset} to ${entry.lastOffset}`,
      };
    }
    previousOffset = offset;
  }
  return { records, sizeBytes: bytes.length };
}

function inWindow(first: string | null, last: string | null, options: VerifyOptions): boolean {
  if (options.fromMs === undefined && options.toMs === undefined) return true;
  // A segment without records has no time; it is checked only when the whole archive is.
  if (first === null || last === null) return false;
  if (options.fromMs !== undefined && Date.parse(last) < options.fromMs) return false;
  if (options.toMs !== undefined && Date.parse(first) > options.toMs) return false;
  return true;
}

function earliest(current: string | null, candidate: string | null): string | null {
  if (candidate === null) return current;
  return current === null || candidate < current ? candidate : current;
}

function latest(current: string | null, candidate: string | null): string | null {
  if (candidate === null) return current;
  return current === null || candidate > current ? candidate : current;
}
