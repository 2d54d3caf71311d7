/**
 * One partition's archive as the stage writes it: the open segment growing on disk under a
 * temporary name, and the steps that make it part of the record — flush, rename, manifest entry,
 * signed head — after which, and only after which, the caller may commit its offsets.
 *
 * Offsets are positions here: a segment covers a contiguous range of the partition's offsets,
 * from one past the previous segment's last to the last offset the consumer read, whether or not
 * every offset in it holds an archived record (records sent to the dead-letter topic and
 * transaction markers take offsets too). That is what lets `verify` prove no range is missing.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { ARCHIVED_RECORD_TYPE, type ArchivedRecord } from './archived-record.js';
import { HEAD_FILE, readHead, signHead, writeHead, type SigningKey } from './chain-head.js';
import {
  PARTITION_REGISTER_FILE,
  readPartitionRegister,
  registeredPartition,
  registerPartition,
} from './partition-register.js';
import { ContainerWriter } from './container-file.js';
import {
  appendManifestEntry,
  dropIncompleteTail,
  GENESIS_HASH,
  MANIFEST_FILE,
  readManifest,
  sha256Hex,
  withEntryHash,
  type ManifestEntry,
} from './manifest.js';
import { localSegmentStore, type SegmentStore } from './segment-store.js';
import { SummaryBuilder, type EventFacts } from './segment-summary.js';
import {
  partitionDirectory,
  removeUnlistedSegments,
  segmentName,
  TEMPORARY_SUFFIX,
} from './segment-files.js';

interface OpenSegment {
  writer: ContainerWriter;
  firstOffset: bigint;
  lastOffset: bigint;
  records: number;
  firstTimestampMs: number | undefined;
  lastTimestampMs: number | undefined;
  openedAtMs: number;
  /** Undefined once records arrived without their facts: the entry then has no summary. */
  summary: SummaryBuilder | undefined;
}

export interface SealedSegment {
  entry: ManifestEntry;
  /** The offset to commit: one past the segment's last. */
  nextOffset: bigint;
}

export class PartitionArchive {
  readonly topic: string;
  readonly partition: number;
  readonly directory: string;
  #key: SigningKey;
  #logger: Logger;
  #store: SegmentStore;
  #root: string;
  #last: ManifestEntry | undefined;
  #entries: number;
  #open: OpenSegment | undefined;

  private constructor(
    topic: string,
    partition: number,
    directory: string,
    key: SigningKey,
    logger: Logger,
    entries: ManifestEntry[],
    store: SegmentStore,
    root: string,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.directory = directory;
    this.#key = key;
    this.#logger = logger;
    this.#store = store;
    this.#root = root;
    this.#last = entries.at(-1);
    this.#entries = entries.length;
  }

  /**
   * Opens a partition's archive after whatever ended the last run: cuts a half-written manifest
   * entry, removes segments the manifest does not list (see removeUnlistedSegments), and signs the
   * head again if the run ended between an entry and its head. Any other mismatch between the
   * manifest and its signed head is refused: appending to a chain that was changed would hide it.
   * Sealed segments go to `store` (default: this directory).
   */
  static async open(
    root: string,
    topic: string,
    partition: number,
    key: SigningKey,
    logger: Logger,
    store: SegmentStore = localSegmentStore(root),
  ): Promise<PartitionArchive> {
    const directory = partitionDirectory(root, topic, partition);
    await mkdir(directory, { recursive: true });
    const manifest = readManifest(directory);
    if (manifest.completeBytes !== manifest.sizeBytes) {
      logger.warn({ directory }, 'dropped a manifest entry an interrupted run left half-written');
      await dropIncompleteTail(directory, manifest);
    }
    await removeUnlistedSegments(directory, manifest.entries, logger);
    await removeUnlistedStored(store, topic, partition, manifest.entries, logger);

    const archive = new PartitionArchive(
      topic,
      partition,
      directory,
      key,
      logger,
      manifest.entries,
      store,
      root,
    );
    const head = readHead(directory);
    const last = manifest.entries.at(-1);
    const previous = manifest.entries.at(-2);
    const headMatches = (entry: ManifestEntry | undefined): boolean =>
      entry === undefined ? head === undefined : head?.headHash === entry.entryHash;
    if (!headMatches(last)) {
      // The one mismatch a crash can leave: the last entry written, its head not yet.
      if (last !== undefined && headMatches(previous)) {
        await archive.#signHead();
        logger.warn({ directory }, 'signed the chain head an interrupted run left unsigned');
      } else {
        throw new PanaceaError(
          'ARCHIVE_INVALID',
          `the manifest in ${directory} does not end at its signed chain head; run panacea audit verify`,
          { topic, partition, directory },
        );
      }
    }
    if (await checkRegistered(root, topic, partition, key, manifest.entries[0], directory)) {
      await store.mirror(PARTITION_REGISTER_FILE, root);
    }
    return archive;
  }

  /** The next offset to archive: one past the open segment, or the last sealed one. */
  get nextOffset(): bigint | undefined {
    if (this.#open !== undefined) return this.#open.lastOffset + 1n;
    return this.#last === undefined ? undefined : BigInt(this.#last.lastOffset) + 1n;
  }

  get hasOpenSegment(): boolean {
    return this.#open !== undefined;
  }

  openSegmentSizeBytes(): number {
    return this.#open?.writer.sizeBytes ?? 0;
  }

  openSegmentAgeMs(nowMs: number): number {
    return this.#open === undefined ? 0 : nowMs - this.#open.openedAtMs;
  }

  /**
   * Adds the records of a batch that ends at `lastOffset` to the open segment (opening one that
   * starts at `firstOffset` when none is). Records must come in offset order, after `nextOffset`.
   * `facts` holds each record's event facts, in the same order, for the segment's summary.
   */
  async append(
    records: ArchivedRecord[],
    firstOffset: bigint,
    lastOffset: bigint,
    nowMs: number,
    facts?: EventFacts[],
  ): Promise<void> {
    const open = this.#open ?? (await this.#openSegment(this.nextOffset ?? firstOffset, nowMs));
    try {
      await open.writer.appendBlock(records);
    } catch (error) {
      throw this.#writeFailed(open.writer.path, error);
    }
    open.lastOffset = lastOffset;
    open.records += records.length;
    for (const record of records) {
      open.firstTimestampMs ??= record.timestampMs;
      open.lastTimestampMs = record.timestampMs;
    }
    if (records.length > 0 && facts?.length !== records.length) open.summary = undefined;
    for (const eventFacts of facts ?? []) open.summary?.add(eventFacts);
  }

  /** Makes the open segment part of the archive; returns undefined when none is open. */
  async seal(): Promise<SealedSegment | undefined> {
    const open = this.#open;
    if (open === undefined) return undefined;

    const name = segmentName(this.topic, this.partition, open.firstOffset, open.lastOffset);
    const finalPath = path.join(this.directory, name);
    let sha256: string;
    try {
      await open.writer.finish();
      sha256 = sha256Hex(await readFile(open.writer.path));
      await this.#store.putSegment(
        { topic: this.topic, partition: this.partition, segment: name },
        open.writer.path,
        { sha256 },
      );
    } catch (error) {
      throw this.#writeFailed(finalPath, error);
    }
    this.#open = undefined;

    const entry = withEntryHash({
      segment: name,
      sha256,
      records: open.records,
      firstOffset: open.firstOffset.toString(),
      lastOffset: open.lastOffset.toString(),
      firstTimestamp: isoOrNull(open.firstTimestampMs),
      lastTimestamp: isoOrNull(open.lastTimestampMs),
      ...(open.summary === undefined ? {} : { summary: open.summary.summary() }),
      previousHash: this.#last?.entryHash ?? GENESIS_HASH,
    });
    try {
      await appendManifestEntry(this.directory, entry);
      this.#last = entry;
      this.#entries += 1;
      await this.#signHead();
      if (this.#entries === 1) {
        await registerPartition(this.#root, this.#key, {
          topic: this.topic,
          partition: this.partition,
          firstOffset: entry.firstOffset,
        });
        await this.#store.mirror(PARTITION_REGISTER_FILE, this.#root);
      }
      // The store's copy of the chain follows each seal, before the offsets are committed.
      const relative = path.relative(this.#root, this.directory);
      await this.#store.mirror(path.join(relative, MANIFEST_FILE), this.#root);
      await this.#store.mirror(path.join(relative, HEAD_FILE), this.#root);
    } catch (error) {
      throw this.#writeFailed(path.join(this.directory, MANIFEST_FILE), error);
    }
    return { entry, nextOffset: open.lastOffset + 1n };
  }

  /**
   * Throws the open segment away (its offsets are not committed, so they are read again) and
   * returns the offset it started at: where the fetch must go back to.
   */
  async discard(): Promise<bigint | undefined> {
    const open = this.#open;
    this.#open = undefined;
    if (open === undefined) return undefined;
    await open.writer.abandon();
    await rm(open.writer.path, { force: true });
    return open.firstOffset;
  }

  async #openSegment(firstOffset: bigint, nowMs: number): Promise<OpenSegment> {
    const temporaryPath = path.join(
      this.directory,
      `${segmentName(this.topic, this.partition, firstOffset, firstOffset)}${TEMPORARY_SUFFIX}`,
    );
    let writer: ContainerWriter;
    try {
      writer = await ContainerWriter.create(temporaryPath, ARCHIVED_RECORD_TYPE);
    } catch (error) {
      throw this.#writeFailed(temporaryPath, error);
    }
    this.#open = {
      writer,
      firstOffset,
      lastOffset: firstOffset - 1n,
      records: 0,
      firstTimestampMs: undefined,
      lastTimestampMs: undefined,
      openedAtMs: nowMs,
      summary: new SummaryBuilder(),
    };
    return this.#open;
  }

  async #signHead(): Promise<void> {
    const last = this.#last;
    if (last === undefined) return;
    const head = signHead(
      {
        topic: this.topic,
        partition: this.partition,
        entries: this.#entries,
        lastOffset: last.lastOffset,
        headHash: last.entryHash,
        signedAt: new Date().toISOString(),
      },
      this.#key.privateKey,
    );
    await writeHead(this.directory, head);
  }

  #writeFailed(file: string, error: unknown): PanaceaError {
    this.#logger.error({ file, err: error }, 'audit archive write failed');
    return new PanaceaError(
      'ARCHIVE_WRITE_FAILED',
      `could not write audit segment ${file}`,
      { file, topic: this.topic, partition: this.partition },
      error,
    );
  }
}

/**
 * Segments the store holds that the manifest does not list: uploaded by a run that ended before
 * their manifest entry, so their records are archived again under that or another name. A store
 * that refuses the removal (S3 Object Lock) keeps them; `verify` lists them as not in a manifest.
 */
async function removeUnlistedStored(
  store: SegmentStore,
  topic: string,
  partition: number,
  entries: ManifestEntry[],
  logger: Logger,
): Promise<void> {
  const listed = new Set(entries.map((entry) => entry.segment));
  const unlisted = (await store.listSegments(topic, partition)).filter((name) => !listed.has(name));
  for (const segment of unlisted) {
    try {
      await store.removeSegment({ topic, partition, segment });
      logger.warn(
        { store: store.description, segment },
        'removed a stored segment an interrupted run left unlisted',
      );
    } catch (error) {
      logger.warn(
        { store: store.description, segment, err: error },
        'could not remove a stored segment an interrupted run left unlisted',
      );
    }
  }
}

function isoOrNull(timestampMs: number | undefined): string | null {
  return timestampMs === undefined ? null : new Date(timestampMs).toISOString();
}

/**
 * A partition the register names must still hold the chain it named: a chain that is missing, or
 * starts at another offset, means its directory was removed (and perhaps started again), which
 * appending would hide. A chain the register lacks is registered: a crash between its first seal
 * and the register, or an archive written before registers. Says whether the register changed.
 */
async function checkRegistered(
  root: string,
  topic: string,
  partition: number,
  key: SigningKey,
  first: ManifestEntry | undefined,
  directory: string,
): Promise<boolean> {
  const registered = registeredPartition(
    readPartitionRegister(root, key.publicKey),
    topic,
    partition,
  );
  if (registered === undefined) {
    if (first === undefined) return false;
    await registerPartition(root, key, { topic, partition, firstOffset: first.firstOffset });
    return true;
  }
  if (first?.firstOffset !== registered.firstOffset) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `${directory}: the partition register says its chain starts at offset ${registered.firstOffset}, but ${first === undefined ? 'it holds no chain' : `it starts at ${first.firstOffset}`} (the partition's directory was removed or replaced); run panacea audit verify`,
      { topic, partition, directory },
    );
  }
  return false;
}
