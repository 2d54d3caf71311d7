/**
 * The audit archive stage: the raw audit topic in (not the enriched one, so the archive holds what
 * the agent published, byte for byte), hash-chained Avro segments out, under
 * `<data dir>/audit-archive/<topic>/partition-<n>/` (layout in segment-files.ts), the sealed ones
 * in the configured segment store (segment-store.ts: that directory, or an S3-compatible bucket).
 *
 * It runs its own consumer loop rather than core/stage-runner.ts, because its commit does not
 * follow each batch: a partition's batches go into one open segment, rolled when it reaches
 * `segmentBytes` or has been open `segmentMs`, and its offsets are committed only once the segment
 * is flushed, renamed, in the manifest and under a signed head. Until then a crash leaves them
 * uncommitted, and the start-up recovery (segment-files.ts) removes what they had written.
 *
 * Steps of a batch: open the partition's archive if this process has not yet (recovery), skip
 * what the archive already holds (a re-fetch after a rebalance or a crash after the manifest entry
 * but before the commit), read each record (bad ones to the dead-letter topic, durably), append
 * the rest as one block, and seal and commit when the segment is full. A timer seals segments
 * that have been open long enough, and a stop seals every open segment before it disconnects.
 * Each record's event facts go into its segment's summary (segment-summary.ts), and the archive
 * retention runs on its own schedule beside the loop (retention.ts).
 */
import { channel } from 'node:diagnostics_channel';
import path from 'node:path';

import {
  type Consumer,
  type EachBatchPayload,
  hasKafkaErrorType,
  type Kafka,
  type Producer,
  sendDurably,
  type TopicMessages,
} from '../../core/kafka.js';
import { PartitionLocks } from '../../core/partition-locks.js';
import type { ArchiveConfig } from '../../core/config.js';
import { toDeadLetterMessage, type DeadLetter } from '../../core/dead-letter.js';
import { formatDuration } from '../../core/durations.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import {
  deadLetterFor,
  SESSION_TIMEOUT_MS,
  stageRecordOf,
  watchConsumer,
  type RunningStage,
  type StageStats,
} from '../../core/stage-runner.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import type { AuditEvent } from '../../schemas/event.js';
import { readRawRecord } from '../../schemas/raw-record.js';
import { toArchivedRecord, type ArchivedRecord } from './archived-record.js';
import { loadSigningKey, type SigningKey } from './chain-head.js';
import { openSegmentStore, type OpenedSegmentStore } from './open-segment-store.js';
import { PartitionArchive } from './partition-archive.js';
import { startArchiveRetentionSchedule } from './retention.js';
import { factsOf, type EventFacts } from './segment-summary.js';

export const AUDIT_ARCHIVE_STAGE = 'sink-audit-archive';

/**
 * Published once per sealed segment with `{ topic, partition, segment, records, firstOffset,
 * lastOffset, sizeBytes }`, before its offsets are committed, so tests and tracing can follow the archive
 * without parsing logs.
 */
export const segmentChannel = channel('panacea:audit-archive:segment');

export function auditArchiveRoot(dataDir: string): string {
  return path.join(dataDir, 'audit-archive');
}

export interface AuditArchiveStageOptions {
  kafka: Kafka;
  naming: Naming;
  /** The archive directory, `<data dir>/audit-archive` (see auditArchiveRoot). */
  root: string;
  settings: ArchiveConfig;
  /** Reads raw records whatever schema version wrote them. */
  codec: SchemaCodec;
  /** A durable producer for dead letters. */
  deadLetterProducer: Producer;
  /** How often open segments are checked against `segmentMs`. Default: a quarter of it, ≤ 1 s. */
  tickIntervalMs?: number;
}

/** Counts of the open segment, added to the stage's stats once it is committed. */
interface Pending {
  records: number;
  batches: number;
  deadLetteredByCode: Record<string, number>;
}

export async function startAuditArchiveStage(
  options: AuditArchiveStageOptions,
): Promise<RunningStage & { consumedPositions(): Map<string, bigint> }> {
  const stage = new AuditArchiveStage(options);
  await stage.start();
  return stage;
}

class AuditArchiveStage implements RunningStage {
  readonly name = AUDIT_ARCHIVE_STAGE;
  readonly groupId: string;
  readonly inputTopics: string[];
  readonly finished: Promise<void>;
  #options: AuditArchiveStageOptions;
  #topic: string;
  #consumer: Consumer;
  #logger = componentLogger(`stage.${AUDIT_ARCHIVE_STAGE}`);
  #abort = new AbortController();
  #resolveFinished: () => void;
  #key: SigningKey | undefined;
  #archives = new Map<number, PartitionArchive>();
  #pending = new Map<number, Pending>();
  readonly #locks = new PartitionLocks();
  #timer: NodeJS.Timeout | undefined;
  #retention: { stop(): Promise<void> } | undefined;
  #store: OpenedSegmentStore | undefined;
  #stopping: Promise<void> | undefined;
  #stats: StageStats = {
    batches: 0,
    records: 0,
    deadLettered: 0,
    deadLetteredByCode: {},
    tallies: {},
  };
  #segmentsSealed = 0;

  constructor(options: AuditArchiveStageOptions) {
    this.#options = options;
    this.#topic = options.naming.rawTopic('audit');
    this.inputTopics = [this.#topic];
    this.groupId = options.naming.consumerGroup(AUDIT_ARCHIVE_STAGE);
    this.#consumer = options.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: 1_000,
      sessionTimeout: SESSION_TIMEOUT_MS,
      allowAutoTopicCreation: false,
    });
    const watched = watchConsumer(this.#consumer, this.#logger, this.groupId, this.#abort.signal);
    this.finished = watched.finished;
    this.#resolveFinished = watched.resolveFinished;
    this.finished.catch(() => undefined);
  }

  async start(): Promise<void> {
    this.#key = await loadSigningKey(
      this.#options.settings.signingKeyFile,
      this.#options.root,
      this.#logger,
    );
    this.#store = await openSegmentStore(this.#options.settings, this.#options.root);
    // A partition given to another member takes its open segment with it: the new owner reads
    // those records again from the committed offset. Known gap: each instance archives into its
    // own data directory, so with several instances a partition's chain is split between them
    // (README, "Known limitations"); one instance per archive is what is supported today.
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(payload.memberAssignment[this.#topic] ?? []);
      for (const partition of this.#archives.keys()) {
        if (!assigned.has(partition))
          void this.#locks.run(partition, () => this.#forget(partition));
      }
    });
    // Transaction markers and aborted records take offsets but never reach eachBatch; the open
    // segment's range takes them in, so the committed offset can pass them.
    this.#consumer.on(this.#consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize > 0 || this.#abort.signal.aborted) return;
      // Null (despite the type) when the fetch held nothing at all.
      const firstOffset = BigInt((payload.firstOffset as string | null) ?? payload.lastOffset);
      const lastOffset = BigInt(payload.lastOffset);
      void this.#locks
        .run(payload.partition, () =>
          this.#extendOverFiltered(payload.partition, firstOffset, lastOffset),
        )
        .catch((error: unknown) => {
          this.#logger.warn({ partition: payload.partition, err: error }, 'could not pass markers');
        });
    });

    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.inputTopics, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 2,
      eachBatch: (payload) => this.#handleBatch(payload),
    });
    const { segmentMs, segmentBytes, retentionMs, retentionIntervalMs } = this.#options.settings;
    const tickIntervalMs = this.#options.tickIntervalMs ?? Math.min(1_000, segmentMs / 4);
    this.#timer = setInterval(() => void this.#sealAged(), Math.max(tickIntervalMs, 50));
    if (retentionIntervalMs !== undefined) {
      this.#retention = startArchiveRetentionSchedule(
        this.#options.root,
        { retentionMs, key: this.#key, logger: this.#logger, store: this.#store.store },
        retentionIntervalMs,
      );
    }
    this.#logger.info(
      {
        groupId: this.groupId,
        inputTopics: this.inputTopics,
        directory: this.#options.root,
        segmentStore: this.#store.store.description,
        segmentBytes,
        segmentMs,
        retention: formatDuration(retentionMs),
        // Off only when asked for (PANACEA_ARCHIVE_RETENTION_INTERVAL=off).
        retentionInterval:
          retentionIntervalMs === undefined ? 'off' : formatDuration(retentionIntervalMs),
        signingKey: this.#key.source,
        publicKeyFingerprint: this.#key.fingerprint,
      },
      'stage started',
    );
  }

  stats(): StageStats {
    return structuredClone(this.#stats);
  }

  /**
   * Per `topic:partition`, the next offset this stage has read into its archive, committed or
   * in an open segment: what "caught up" means for a stage that holds its commits back.
   */
  consumedPositions(): Map<string, bigint> {
    const positions = new Map<string, bigint>();
    for (const [partition, archive] of this.#archives) {
      const next = archive.nextOffset;
      if (next !== undefined) positions.set(`${this.#topic}:${partition}`, next);
    }
    return positions;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#abort.abort();
      clearInterval(this.#timer);
      await this.#retention?.stop();
      // Sealed and committed while the partitions are still ours, so a clean stop leaves
      // nothing to read again.
      await this.#locks.finishEach(
        () => this.#archives.keys(),
        (partition) => this.#sealAndCommit(partition),
      );
      await this.#consumer.disconnect();
      this.#store?.close();
      this.#resolveFinished();
      this.#logger.info(
        { groupId: this.groupId, segmentsSealed: this.#segmentsSealed, ...this.#stats },
        'stage stopped',
      );
    })();
    return this.#stopping;
  }

  async #handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || this.#abort.signal.aborted) return;

    const handled = await this.#locks.run(batch.partition, async () => {
      if (this.#abort.signal.aborted) return false;
      const archive = await this.#archiveFor(batch.partition);
      const lastOffset = BigInt(batch.lastOffset());
      const next = archive.nextOffset;
      if (next !== undefined && lastOffset < next) return true;

      const messages = batch.messages.filter(
        (message) => next === undefined || BigInt(message.offset) >= next,
      );
      const firstOffset = BigInt(messages[0]?.offset ?? batch.firstOffset() ?? '0');
      const archived: ArchivedRecord[] = [];
      const facts: EventFacts[] = [];
      const deadLetters: DeadLetter[] = [];
      for (const message of messages) {
        const record = stageRecordOf(batch, message);
        try {
          const raw = await readRawRecord(this.#options.codec, record.value, 'audit');
          archived.push(toArchivedRecord(record, raw.event.eventId));
          // The topic's kind is checked by readRawRecord, so this is an audit event.
          facts.push(factsOf(raw.event as AuditEvent));
        } catch (error) {
          // Only the record's own faults are dead-lettered; a registry out of reach is retried.
          if (!(error instanceof PanaceaError) || error.retriable) throw error;
          deadLetters.push(deadLetterFor(record, error));
        }
      }

      try {
        await this.#publishDeadLetters(deadLetters);
        await archive.append(archived, firstOffset, lastOffset, Date.now(), facts);
      } catch (error) {
        await this.#rewind(archive);
        throw error;
      }
      this.#addPending(batch.partition, messages.length, deadLetters);
      if (archive.openSegmentSizeBytes() >= this.#options.settings.segmentBytes) {
        await this.#sealAndCommit(batch.partition);
      }
      return true;
    });

    if (!handled) return;
    // Moves the fetch on, not the committed offset: that waits for the segment's seal.
    payload.resolveOffset(batch.lastOffset());
    await payload.heartbeat();
  }

  async #archiveFor(partition: number): Promise<PartitionArchive> {
    const known = this.#archives.get(partition);
    if (known !== undefined) return known;
    if (this.#key === undefined || this.#store === undefined) {
      throw new Error('the stage was not started');
    }
    const archive = await PartitionArchive.open(
      this.#options.root,
      this.#topic,
      partition,
      this.#key,
      this.#logger,
      this.#store.store,
    );
    this.#archives.set(partition, archive);
    return archive;
  }

  /** Seals the open segment if there is one, then commits one past its last offset. */
  async #sealAndCommit(partition: number): Promise<void> {
    const archive = this.#archives.get(partition);
    if (archive === undefined || !archive.hasOpenSegment) return;

    let sealed;
    const sizeBytes = archive.openSegmentSizeBytes();
    try {
      sealed = await archive.seal();
    } catch (error) {
      await this.#rewind(archive);
      throw error;
    }
    if (sealed === undefined) return;
    this.#segmentsSealed += 1;
    this.#countPending(partition);
    if (segmentChannel.hasSubscribers) {
      const { segment, records, firstOffset, lastOffset } = sealed.entry;
      segmentChannel.publish({
        topic: this.#topic,
        partition,
        segment,
        records,
        firstOffset,
        lastOffset,
        sizeBytes,
      });
    }

    const offset = sealed.nextOffset.toString();
    try {
      await this.#consumer.commitOffsets([{ topic: this.#topic, partition, offset }]);
    } catch (error) {
      if (!hasKafkaErrorType(error, REBALANCE_ERROR_TYPES)) throw error;
      // The segment is in the manifest: whoever reads these offsets again skips them there.
      this.#logger.warn({ topic: this.#topic, partition }, 'partition moved before its commit');
    }
  }

  async #sealAged(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const nowMs = Date.now();
    for (const [partition, archive] of this.#archives) {
      if (archive.openSegmentAgeMs(nowMs) < this.#options.settings.segmentMs) continue;
      await this.#locks
        .run(partition, async () => {
          if (this.#abort.signal.aborted) return;
          await this.#sealAndCommit(partition);
        })
        .catch((error: unknown) => {
          this.#logger.error({ partition, err: error }, 'could not seal an aged segment');
        });
    }
  }

  async #extendOverFiltered(
    partition: number,
    firstOffset: bigint,
    lastOffset: bigint,
  ): Promise<void> {
    const archive = await this.#archiveFor(partition);
    const next = archive.nextOffset ?? firstOffset;
    if (lastOffset < next) return;
    await archive.append([], next, lastOffset, Date.now());
  }

  /**
   * After a failed write the open segment no longer matches what was fetched: it is thrown away
   * and the fetch goes back to one past the last sealed segment, to write it again.
   */
  async #rewind(archive: PartitionArchive): Promise<void> {
    const discardedFrom = await archive.discard().catch(() => undefined);
    this.#pending.delete(archive.partition);
    const next = archive.nextOffset ?? discardedFrom;
    if (next !== undefined && !this.#abort.signal.aborted) {
      this.#consumer.seek({
        topic: this.#topic,
        partition: archive.partition,
        offset: next.toString(),
      });
    }
  }

  async #forget(partition: number): Promise<void> {
    const archive = this.#archives.get(partition);
    this.#archives.delete(partition);
    this.#pending.delete(partition);
    await archive?.discard();
  }

  async #publishDeadLetters(deadLetters: DeadLetter[]): Promise<void> {
    if (deadLetters.length === 0) return;
    const nowMs = Date.now();
    const topic = this.#options.naming.deadLetterTopic(this.#topic);
    const messages: TopicMessages = {
      topic,
      messages: deadLetters.map((deadLetter) =>
        toDeadLetterMessage(deadLetter, AUDIT_ARCHIVE_STAGE, nowMs),
      ),
    };
    await sendDurably(this.#options.deadLetterProducer, [messages]);
    for (const deadLetter of deadLetters) {
      this.#logger.warn(
        { code: deadLetter.error.code, ...deadLetter.source, err: deadLetter.error },
        'record dead-lettered',
      );
    }
  }

  #addPending(partition: number, records: number, deadLetters: DeadLetter[]): void {
    const pending = this.#pending.get(partition) ?? {
      records: 0,
      batches: 0,
      deadLetteredByCode: {},
    };
    pending.records += records;
    pending.batches += 1;
    for (const deadLetter of deadLetters) {
      const code = deadLetter.error.code;
      pending.deadLetteredByCode[code] = (pending.deadLetteredByCode[code] ?? 0) + 1;
    }
    this.#pending.set(partition, pending);
  }

  /** Counts the sealed segment's batches, so a segment written again after a crash counts once. */
  #countPending(partition: number): void {
    const pending = this.#pending.get(partition);
    this.#pending.delete(partition);
    if (pending === undefined) return;
    this.#stats.batches += pending.batches;
    this.#stats.records += pending.records;
    for (const [code, count] of Object.entries(pending.deadLetteredByCode)) {
      this.#stats.deadLettered += count;
      this.#stats.deadLetteredByCode[code] = (this.#stats.deadLetteredByCode[code] ?? 0) + count;
    }
  }
}

const REBALANCE_ERROR_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR',
]);
