/**
 * `panacea replay --from-archive [--from RFC3339] [--to RFC3339] [--agent ID]... [--workflow ID]...
 * [--kind audit] [--into sinks|elasticsearch:NAMESPACE|topic:NAME] [--dry-run] [--json]`: writes
 * the audit archive back, e.g. to restore a lost audit data stream or refill a lost audit topic.
 *
 * Steps: check the request, find the archive and the key to check it with, before anything
 * connects; verify the archive over the range (verify-archive.ts) and refuse a broken one before
 * anything is written; pick the segments the range touches, partition by partition in offset
 * order, noting those retention deleted; connect and open the target (the replay's own,
 * replay-targets.ts); read each segment, checked again against its manifest entry as it is read,
 * keep the records in range that pass the filters and write them batch by batch; print what was
 * read, written, already stored, skipped and dead-lettered.
 *
 * Time: the range `[from, to)` is on the records' Kafka timestamps, as `panacea replay --topic` and
 * `panacea audit verify` use them, not on the events' own times, which `panacea audit export`
 * selects by (inclusive at both ends): the same bounds can take an event published just after
 * `to` into an export and leave it out here.
 *
 * Into the sinks, each archived record goes through the raw audit topic's replay target: enriched
 * in this process, written by the Elasticsearch sink's own code with the event id as `_id`, so
 * what is still stored counts as already stored and nothing is duplicated. Into a topic, the
 * records are copied byte for byte (value, key, headers, Kafka timestamp).
 *
 * Exit 0 when every record in range was written or already stored, 1 when some were
 * dead-lettered or could not be read by a filter, 2 on a usage error or a broken archive (nothing
 * written).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  connectKafkaAdmin,
  createKafka,
  createTopicsServed,
  type IHeaders,
} from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, type Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';
import { isWithinTimeBounds } from '../../core/topic-range.js';
import type { ArchivedRecord } from '../../sinks/audit-archive/archived-record.js';
import type { ManifestEntry } from '../../sinks/audit-archive/manifest.js';
import { openSegmentStore } from '../../sinks/audit-archive/open-segment-store.js';
import { archivedTopics } from '../../sinks/audit-archive/retention.js';
import { archivedPartitions } from '../../sinks/audit-archive/segment-files.js';
import type { SegmentStore } from '../../sinks/audit-archive/segment-store.js';
import {
  checkChain,
  readVerifiedSegment,
  verifyArchive,
} from '../../sinks/audit-archive/verify-archive.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, say, untilStopSignal } from '../command-line.js';
import { archiveRootOf, resolvePublicKey } from '../commands/audit-support.js';
import { OpenedClients, openTargets } from './open-targets.js';
import { checkTargetTopic } from './target-topic.js';
import { createProgressReport } from '../progress-report.js';
import { createEventFilter, type FilterVerdict } from './replay-filter.js';
import { describeInto, isFiltering, type ReplayRequest } from './replay-request.js';
import { type ReplayTarget, writeWithinTimeout } from './replay-targets.js';

const logger = componentLogger('replay-archive');

/** Records written to the target per call: bounded so memory stays flat on large segments. */
const BATCH_RECORDS = 500;

/** What the range is measured on, said in every summary. */
export const TIME_BASIS = "the records' Kafka timestamps";

/** `[fromMs, toMs)` on Kafka timestamps, epoch ms; either end may be open. */
export interface TimeBounds {
  fromMs?: number;
  toMs?: number;
}

/** A segment retention deleted inside the range: its events cannot be restored. */
export interface DeletedSegment {
  topic: string;
  partition: number;
  segment: string;
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  records: number;
}

/** The segments a rehydration reads, partition by partition, each in offset order. */
export interface ArchivePlan {
  topic: string;
  partitions: number[];
  segments: Array<{ partition: number; entry: ManifestEntry }>;
  deleted: DeletedSegment[];
}

export interface RehydrationCounts {
  segmentsRead: number;
  /** Records inside the range. */
  read: number;
  /** Records of the segments read that lie outside the range (a segment straddles a bound). */
  outsideRange: number;
  written: number;
  /** Already stored: the sinks counted them as duplicates. */
  alreadyStored: number;
  skippedByFilter: number;
  /** Records a filter could not read (an undecodable event); not written. */
  unreadable: number;
  deadLettered: number;
  /** Stopped by SIGINT or SIGTERM before the range was done. */
  stopped: boolean;
}

export interface RehydrateSegmentsOptions {
  store: SegmentStore;
  plan: ArchivePlan;
  bounds: TimeBounds;
  filter: ((record: StageRecord) => Promise<FilterVerdict>) | undefined;
  /** Undefined on a dry run: what would be written is counted. */
  target: ReplayTarget | undefined;
  signal: AbortSignal;
  /** Default 500. */
  batchRecords?: number;
  /** After each segment: archived records handled so far, of all in the segments read. */
  onProgress?: (recordsDone: number, recordsTotal: number) => void;
}

export async function rehydrateCommand(
  request: ReplayRequest,
  config: PanaceaConfig,
): Promise<number> {
  // Arguments and files first: a bad request or a missing archive is said before anything
  // connects.
  checkArchiveRequest(request);
  const root = archiveRootOf(config);
  if (!existsSync(root)) {
    throw new PanaceaError('FILE_UNREADABLE', `no audit archive at ${root}`, { file: root });
  }
  const key = resolvePublicKey(undefined, config, root);
  const naming = createNaming(config);
  const topic = archivedAuditTopic(root, naming);
  const bounds = boundsOf(request);

  const openedStore = await openSegmentStore(config.archive, root);
  const opened = new OpenedClients();
  let admin: Admin | undefined;
  try {
    await refuseBrokenArchive(request, root, key.publicKey, openedStore.store, bounds);
    const plan = planArchiveRange(root, topic, key.publicKey, bounds);
    logger.info(
      { topic, segments: plan.segments.length, deletedSegments: plan.deleted.length, ...bounds },
      'archive verified, rehydrating',
    );

    const kafka = createKafka(config, 'panacea-replay-archive');
    const needsCodec =
      isFiltering(request.filter) || (!request.dryRun && request.into.kind !== 'topic');
    const codec = needsCodec ? await opened.codec(config, kafka) : undefined;
    let target: ReplayTarget | undefined;
    if (request.dryRun && request.into.kind === 'topic') {
      // A dry run refuses the target the real run would refuse.
      admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
      await checkTargetTopic(admin, naming, request.into.topic, []);
    }
    if (!request.dryRun && plan.segments.length > 0) {
      admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
      await ensureTargetTopic(request, admin, naming, plan);
      const targets = await openTargets(request, config, naming, [topic], {
        kafka,
        admin,
        codec,
        opened,
      });
      target = targets.get(topic);
    }

    const progress = createProgressReport(process.stderr, { label: 'rehydrate', unit: 'records' });
    const stop = new AbortController();
    void untilStopSignal().then(() => stop.abort());
    const started = performance.now();
    const counts = await rehydrateSegments({
      store: openedStore.store,
      plan,
      bounds,
      filter: isFiltering(request.filter)
        ? createEventFilter(request.filter, naming, codec)
        : undefined,
      target,
      signal: stop.signal,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.end();
    logger.info(
      { topic, durationMs: Math.round(performance.now() - started), ...counts },
      'rehydration finished',
    );

    report(request, { root, keySource: key.description.source, bounds, plan, counts });
    if (counts.stopped) return EXIT_INTERRUPTED;
    return counts.deadLettered + counts.unreadable > 0 ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    await opened.close();
    await admin?.disconnect();
    openedStore.close();
  }
}

/** What a topic replay takes but the archive cannot answer, refused with the reason. */
export function checkArchiveRequest(request: ReplayRequest): void {
  const otherKinds = request.filter.kinds.filter((kind) => kind !== 'audit');
  if (otherKinds.length > 0) {
    throw new PanaceaError(
      'USAGE',
      `--kind ${otherKinds.join(',')}: the audit archive holds audit events only (--kind audit, or leave it out)`,
    );
  }
  for (const [option, bound] of [
    ['--from', request.from],
    ['--to', request.to],
  ] as const) {
    if (bound !== undefined && bound.kind !== 'time') {
      throw new PanaceaError(
        'USAGE',
        `${option} ${bound.text}: the archive is read by time; give an RFC 3339 time with --from-archive`,
      );
    }
  }
}

function boundsOf(request: ReplayRequest): TimeBounds {
  return {
    ...(request.from?.kind === 'time' ? { fromMs: request.from.epochMs } : {}),
    ...(request.to?.kind === 'time' ? { toMs: request.to.epochMs } : {}),
  };
}

/**
 * The deployment's raw audit topic, which the archive keeps under its own name. An archive that
 * holds only other topics (another topic prefix) is refused rather than read as empty.
 */
export function archivedAuditTopic(root: string, naming: Naming): string {
  const topic = naming.rawTopic('audit');
  const topics = archivedTopics(root);
  if (topics.length > 0 && !topics.includes(topic)) {
    throw new PanaceaError(
      'USAGE',
      `--from-archive: the archive at ${root} holds ${topics.join(', ')}, not this deployment's audit topic ${topic} (check PANACEA_TOPIC_PREFIX)`,
      { topic },
    );
  }
  return topic;
}

/** Verify over the range first: a broken archive is named (segment and reason) and nothing is written. */
async function refuseBrokenArchive(
  request: ReplayRequest,
  root: string,
  publicKey: KeyObject,
  store: SegmentStore,
  bounds: TimeBounds,
): Promise<void> {
  const verified = await verifyArchive(root, { publicKey, store, ...bounds });
  const broken = verified.broken;
  if (broken === undefined) return;
  if (request.json) {
    say(JSON.stringify({ outcome: 'refused: the archive is broken', archive: root, broken }));
  }
  const where =
    broken.partition < 0
      ? broken.segment
      : `${broken.topic} partition ${broken.partition}, ${broken.segment}`;
  throw new PanaceaError(
    'ARCHIVE_INVALID',
    `${where}: ${broken.reason}; nothing was written (run panacea audit verify)`,
    { topic: broken.topic, partition: broken.partition, segment: broken.segment },
  );
}

/**
 * The segments of `topic` whose Kafka times touch the range, and those of them retention deleted.
 * A segment is in range when the times of its first and last record span part of `[from, to)`.
 */
export function planArchiveRange(
  root: string,
  topic: string,
  publicKey: KeyObject,
  bounds: TimeBounds,
): ArchivePlan {
  const plan: ArchivePlan = { topic, partitions: [], segments: [], deleted: [] };
  for (const partition of archivedPartitions(root, topic)) {
    plan.partitions.push(partition);
    const chain = checkChain(root, topic, partition, publicKey);
    // Verified a moment ago; a chain broken now was changed since.
    if ('broken' in chain) {
      const { segment, reason } = chain.broken;
      throw new PanaceaError(
        'ARCHIVE_INVALID',
        `${topic} partition ${partition}, ${segment}: ${reason}; nothing was written`,
        { topic, partition, segment },
      );
    }
    for (const entry of chain.entries) {
      if (!segmentInRange(entry, bounds)) continue;
      if (chain.deleted.has(entry.segment)) {
        plan.deleted.push({
          topic,
          partition,
          segment: entry.segment,
          firstTimestamp: entry.firstTimestamp,
          lastTimestamp: entry.lastTimestamp,
          records: entry.records,
        });
        continue;
      }
      plan.segments.push({ partition, entry });
    }
  }
  return plan;
}

/**
 * Whether a segment may hold records in range. Its entry knows the Kafka times of its first and
 * last record only; a record whose producer's clock was off by more than the segment spans can
 * lie outside them, and is missed when that puts the whole segment outside the range (README,
 * "Rehydrate the audit data stream from the archive").
 */
export function segmentInRange(entry: ManifestEntry, bounds: TimeBounds): boolean {
  if (entry.records === 0 || entry.firstTimestamp === null || entry.lastTimestamp === null) {
    return false;
  }
  const firstMs = Date.parse(entry.firstTimestamp);
  const lastMs = Date.parse(entry.lastTimestamp);
  const lowMs = Math.min(firstMs, lastMs);
  const highMs = Math.max(firstMs, lastMs);
  if (bounds.fromMs !== undefined && highMs < bounds.fromMs) return false;
  if (bounds.toMs !== undefined && lowMs >= bounds.toMs) return false;
  return true;
}

/**
 * Reads the planned segments in order and writes their records in range to the target. Each
 * segment is checked against its manifest entry as it is read: one changed since the
 * verification stops the rehydration with ARCHIVE_INVALID, saying how much was written before.
 */
export async function rehydrateSegments(
  options: RehydrateSegmentsOptions,
): Promise<RehydrationCounts> {
  const { store, plan, bounds, filter, target, signal } = options;
  const batchRecords = options.batchRecords ?? BATCH_RECORDS;
  const counts: RehydrationCounts = {
    segmentsRead: 0,
    read: 0,
    outsideRange: 0,
    written: 0,
    alreadyStored: 0,
    skippedByFilter: 0,
    unreadable: 0,
    deadLettered: 0,
    stopped: false,
  };
  const recordsTotal = plan.segments.reduce((sum, { entry }) => sum + entry.records, 0);
  let recordsDone = 0;

  for (const { partition, entry } of plan.segments) {
    if (signal.aborted) {
      counts.stopped = true;
      break;
    }
    const read = await readVerifiedSegment(store, plan.topic, partition, entry);
    if ('reason' in read) {
      throw new PanaceaError(
        'ARCHIVE_INVALID',
        `${plan.topic} partition ${partition}, ${entry.segment}: ${read.reason}; it changed after the verification, and ${counts.written} records were written before it`,
        { topic: plan.topic, partition, segment: entry.segment },
      );
    }
    counts.segmentsRead += 1;

    const inRange: StageRecord[] = [];
    for (const record of read.records) {
      if (isWithinTimeBounds(bounds, record.timestampMs))
        inRange.push(stageRecordOfArchived(record));
      else counts.outsideRange += 1;
    }
    counts.read += inRange.length;
    const kept = await applyFilter(inRange, filter, counts);

    for (let start = 0; start < kept.length && !counts.stopped; start += batchRecords) {
      const batch = kept.slice(start, start + batchRecords);
      counts.stopped = await writeBatch(batch, target, counts, signal);
    }
    if (counts.stopped) break;
    recordsDone += entry.records;
    options.onProgress?.(recordsDone, recordsTotal);
  }

  if (target !== undefined) {
    counts.alreadyStored = target.duplicates();
    counts.written -= counts.alreadyStored;
  }
  return counts;
}

async function applyFilter(
  records: StageRecord[],
  filter: RehydrateSegmentsOptions['filter'],
  counts: RehydrationCounts,
): Promise<StageRecord[]> {
  if (filter === undefined) return records;
  const kept: StageRecord[] = [];
  for (const record of records) {
    const verdict = await filter(record);
    if (verdict === 'keep') kept.push(record);
    else if (verdict === 'skip') counts.skippedByFilter += 1;
    else counts.unreadable += 1;
  }
  return kept;
}

/** Writes one batch; true when the write was cut short by a stop request. */
async function writeBatch(
  records: StageRecord[],
  target: ReplayTarget | undefined,
  counts: RehydrationCounts,
  signal: AbortSignal,
): Promise<boolean> {
  // A dry run counts what would be written.
  if (target === undefined) {
    counts.written += records.length;
    return false;
  }
  try {
    // Nothing here belongs to a consumer group, so there is no coordinator to keep alive.
    const where = `${records[0]?.topic} partition ${records[0]?.partition}`;
    const written = await writeWithinTimeout(
      target,
      records,
      { signal, heartbeat: async () => undefined },
      where,
    );
    counts.written += written.written;
    counts.deadLettered += written.deadLettered;
    return false;
  } catch (error) {
    if (error instanceof PanaceaError && error.code === 'STAGE_STOPPED') return true;
    throw error;
  }
}

/** An archived record as the live stages saw it on the raw audit topic. */
export function stageRecordOfArchived(record: ArchivedRecord): StageRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    key: record.key,
    value: record.value,
    headers: headersOf(record.headers),
    timestampMs: record.timestampMs,
  };
}

/** The archive keeps a header that occurs more than once as several entries; kafkajs as a list. */
export function headersOf(headers: ArchivedRecord['headers']): IHeaders | undefined {
  if (headers.length === 0) return undefined;
  const result: IHeaders = {};
  for (const { key, value } of headers) {
    const existing = result[key];
    if (existing === undefined) {
      result[key] = value ?? undefined;
    } else if (value !== null) {
      result[key] = [existing, value].flat();
    }
  }
  return result;
}

/**
 * Into a topic that does not exist yet (a lost audit topic), it is created with as many
 * partitions as the archive holds, so each agent's key lands on the partition it had.
 */
async function ensureTargetTopic(
  request: ReplayRequest,
  admin: Admin,
  naming: Naming,
  plan: ArchivePlan,
): Promise<void> {
  if (request.into.kind !== 'topic') return;
  const topic = request.into.topic;
  // The deployment's own audit topic only when it is empty: refilling it while it holds records
  // would archive and count them twice.
  if ((await checkTargetTopic(admin, naming, topic, [])).exists) return;
  const numPartitions = Math.max(0, ...plan.partitions) + 1;
  await createTopicsServed(admin, [{ topic, numPartitions }]);
  logger.info({ topic, numPartitions }, 'created the target topic');
}

interface RehydrationReport {
  root: string;
  keySource: string;
  bounds: TimeBounds;
  plan: ArchivePlan;
  counts: RehydrationCounts;
}

function report(request: ReplayRequest, result: RehydrationReport): void {
  const { plan, counts } = result;
  const outcome = request.dryRun
    ? 'dry run, nothing written'
    : counts.stopped
      ? 'interrupted: stopped by a signal before the end of the range; the batch in hand may be written too (running it again adds nothing already stored)'
      : 'rehydrated';
  const range = {
    from: isoOrNull(result.bounds.fromMs),
    to: isoOrNull(result.bounds.toMs),
    timeBasis: TIME_BASIS,
  };
  if (request.json) {
    say(
      JSON.stringify({
        outcome,
        dryRun: request.dryRun,
        into: request.into,
        archive: result.root,
        publicKey: result.keySource,
        range,
        topic: plan.topic,
        partitions: plan.partitions.length,
        ...counts,
        deletedSegments: plan.deleted,
      }),
    );
    return;
  }
  for (const line of describeRehydration(request, result, outcome)) say(line);
}

export function describeRehydration(
  request: ReplayRequest,
  result: RehydrationReport,
  outcome: string,
): string[] {
  const { plan, counts, bounds } = result;
  const lines = [
    `${outcome}${request.dryRun ? '' : ` into ${describeInto(request.into)}`} from the audit archive ${result.root} (verified with ${result.keySource})`,
    `range: [${isoOrNull(bounds.fromMs) ?? 'the start'}, ${isoOrNull(bounds.toMs) ?? 'the end'}) by ${TIME_BASIS}`,
    `${plan.topic}: segments read ${counts.segmentsRead}, records read ${counts.read}, ${request.dryRun ? 'would send (not checked against what is stored)' : 'written'} ${counts.written}, already stored ${counts.alreadyStored}, skipped by filter ${counts.skippedByFilter}, unreadable ${counts.unreadable}, dead-lettered ${counts.deadLettered}`,
  ];
  if (plan.segments.length === 0 && plan.deleted.length === 0) {
    lines.push('  nothing in range: no archived segment has records in it');
  }
  if (plan.deleted.length > 0) {
    const records = plan.deleted.reduce((sum, segment) => sum + segment.records, 0);
    lines.push(
      `WARNING: ${plan.deleted.length} segments in the range (${records} records) were deleted by retention; their events cannot be restored:`,
    );
    for (const segment of plan.deleted) {
      lines.push(
        `  ${segment.topic}/${segment.partition} ${segment.segment} (${segment.firstTimestamp} to ${segment.lastTimestamp})`,
      );
    }
  }
  return lines;
}

function isoOrNull(timeMs: number | undefined): string | null {
  return timeMs === undefined ? null : new Date(timeMs).toISOString();
}
