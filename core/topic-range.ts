/**
 * Reading a range of a topic's history: the bounds a person gives (RFC 3339 times or offsets per
 * partition), resolved to exact offsets per partition, and a reader that fetches exactly those
 * records under a consumer group of its own, so no live stage's committed offsets ever move.
 *
 * Ranges are half-open, `[from, to)`: a record exactly at `from` is in, one exactly at `to` is
 * not, so consecutive ranges never overlap. Times are the records' Kafka timestamps (when an
 * event was published), not the events' own times.
 */
import { randomUUID } from 'node:crypto';

import { PanaceaError } from './errors.js';
import type { Admin, Kafka, KafkaMessage } from './kafka.js';
import { stageRecordOf, type StageRecord } from './stage-runner.js';

/** A `--from` or `--to` bound: a time, or an offset per partition. */
export type RangeBound =
  | { kind: 'time'; epochMs: number; option: string; text: string }
  | { kind: 'offsets'; offsets: Map<number, bigint>; option: string; text: string };

export interface PartitionRange {
  topic: string;
  partition: number;
  /** The first offset to read. */
  startOffset: bigint;
  /** One past the last offset to read; equal to `startOffset` when nothing is in range. */
  endOffset: bigint;
  /** Why nothing is read from this partition, when nothing is. */
  emptyBecause?: string;
}

export interface TopicRange {
  topic: string;
  partitions: PartitionRange[];
  /** Time bounds, also checked record by record (a producer's clock may step back). */
  fromMs?: number;
  toMs?: number;
}

const OFFSETS_PATTERN = /^\d+:\d+(,\d+:\d+)*$/;
/** Something meant as offsets (a colon between numbers) that OFFSETS_PATTERN refuses. */
const OFFSETS_LIKE = /^[-+\d\s]*:[-+\d\s]*(,[-+\d\s]*:[-+\d\s]*)*$/;
/** Kafka's partition numbers are 32-bit signed integers. */
const MAX_PARTITION = 2_147_483_647;

/**
 * `2026-12-05T10:00:00Z` (any RFC 3339 time) or `0:1200,1:980` (offsets by partition).
 * `parseTime` is the contract's strict time parser, passed in so this module stays free of it.
 */
export function parseRangeBound(
  option: string,
  text: string,
  parseTime: (option: string, text: string) => number,
): RangeBound {
  if (!OFFSETS_PATTERN.test(text)) {
    if (OFFSETS_LIKE.test(text)) {
      throw new PanaceaError(
        'USAGE',
        `${option}: expected offsets as PARTITION:OFFSET[,PARTITION:OFFSET…] with non-negative integers, got "${text}"`,
      );
    }
    return { kind: 'time', epochMs: parseTime(option, text), option, text };
  }
  const offsets = new Map<number, bigint>();
  for (const pair of text.split(',')) {
    const [partitionText, offset] = pair.split(':') as [string, string];
    const partition = Number(partitionText);
    if (partition > MAX_PARTITION) {
      throw new PanaceaError('USAGE', `${option}: ${partitionText} is not a partition number`);
    }
    if (offsets.has(partition)) {
      throw new PanaceaError('USAGE', `${option}: partition ${partition} is given twice`);
    }
    offsets.set(partition, BigInt(offset));
  }
  return { kind: 'offsets', offsets, option, text };
}

/**
 * The exact offsets of `[from, to)` on every partition of `topic`, read from the broker now: a
 * range with no `to` ends at each partition's current end, so a replay ends even while the live
 * pipeline keeps writing. Offsets outside a partition's log, or partitions the topic does not
 * have, are refused with the partition named.
 */
export async function resolveTopicRange(
  admin: Admin,
  topic: string,
  from: RangeBound | undefined,
  to: RangeBound | undefined,
): Promise<TopicRange> {
  const ends = await admin.fetchTopicOffsets(topic);
  const partitionNumbers = new Set(ends.map((end) => end.partition));
  for (const bound of [from, to]) {
    if (bound?.kind !== 'offsets') continue;
    for (const partition of bound.offsets.keys()) {
      if (!partitionNumbers.has(partition)) {
        throw new PanaceaError(
          'USAGE',
          `${bound.option} ${bound.text}: ${topic} has no partition ${partition} (it has ${ends.length})`,
          { topic, partition },
        );
      }
    }
  }
  const startsByTime = from?.kind === 'time' ? await offsetsAtTime(admin, topic, from) : undefined;
  const endsByTime = to?.kind === 'time' ? await offsetsAtTime(admin, topic, to) : undefined;

  const partitions: PartitionRange[] = [];
  for (const end of [...ends].sort((a, b) => a.partition - b.partition)) {
    const low = BigInt(end.low);
    const high = BigInt(end.high);
    const partition = end.partition;
    // Offsets name the partitions to read: one left out of an offset bound is not read.
    if (from?.kind === 'offsets' && !from.offsets.has(partition)) continue;
    if (to?.kind === 'offsets' && !to.offsets.has(partition)) continue;

    const startOffset = boundOffset(from, startsByTime, partition, low, topic, low, high);
    const endOffset = boundOffset(to, endsByTime, partition, high, topic, low, high);
    const range: PartitionRange = { topic, partition, startOffset, endOffset };
    if (startOffset >= endOffset) {
      range.endOffset = startOffset;
      range.emptyBecause = emptyReason(from, to, startOffset, high, low);
    }
    partitions.push(range);
  }
  return {
    topic,
    partitions,
    ...(from?.kind === 'time' ? { fromMs: from.epochMs } : {}),
    ...(to?.kind === 'time' ? { toMs: to.epochMs } : {}),
  };
}

/**
 * The first offset whose timestamp is at or after the bound, per partition. Kafka answers a time
 * later than every record with the partition's end offset; that is not a match, and the range
 * resolved from it is empty, which `emptyReason` says.
 */
async function offsetsAtTime(
  admin: Admin,
  topic: string,
  bound: Extract<RangeBound, { kind: 'time' }>,
): Promise<Map<number, bigint>> {
  const answers = await admin.fetchTopicOffsetsByTimestamp(topic, bound.epochMs);
  return new Map(answers.map((answer) => [answer.partition, BigInt(answer.offset)]));
}

function boundOffset(
  bound: RangeBound | undefined,
  byTime: Map<number, bigint> | undefined,
  partition: number,
  fallback: bigint,
  topic: string,
  low: bigint,
  high: bigint,
): bigint {
  if (bound === undefined) return fallback;
  if (bound.kind === 'time') {
    const offset = byTime?.get(partition);
    // -1: no record at or after the time (older brokers); the end offset means the same.
    if (offset === undefined || offset < 0n || offset > high) return high;
    return offset < low ? low : offset;
  }
  const offset = bound.offsets.get(partition) ?? fallback;
  if (offset < low || offset > high) {
    const holds =
      low === high
        ? `which holds no records (its next offset is ${high})`
        : `which holds offsets ${low} to ${high - 1n}`;
    throw new PanaceaError(
      'USAGE',
      `${bound.option} ${bound.text}: offset ${offset} is outside partition ${partition} of ${topic}, ${holds}`,
      { topic, partition, offset: offset.toString() },
    );
  }
  return offset;
}

function emptyReason(
  from: RangeBound | undefined,
  to: RangeBound | undefined,
  start: bigint,
  high: bigint,
  low: bigint,
): string {
  if (low === high) return 'the partition holds no records';
  if (from?.kind === 'time' && start >= high) {
    return `no record at or after --from ${from.text}`;
  }
  if (start >= high) return `--from ${from?.text ?? ''} is at the partition's end`;
  return `no record between --from and --to`;
}

/** Whether a fetched record is inside the range's time bounds (offsets are checked by the reader). */
export function isWithinTimeBounds(
  range: Pick<TopicRange, 'fromMs' | 'toMs'>,
  timestampMs: number,
): boolean {
  if (range.fromMs !== undefined && timestampMs < range.fromMs) return false;
  if (range.toMs !== undefined && timestampMs >= range.toMs) return false;
  return true;
}

export interface RangeBatch {
  range: TopicRange;
  partition: PartitionRange;
  /** The records of the batch inside the range, in offset order. */
  records: StageRecord[];
  /**
   * Every record of the batch inside the offset range, the time bounds not applied: what a
   * consumer of the whole range sees (the metrics recomputation needs every record of a window).
   */
  offsetRangeRecords: StageRecord[];
  /** Records of the batch inside the offset range but outside the time bounds. */
  outsideTimeBounds: number;
  /** Offsets this batch moved the partition's reading forward by, control records included. */
  offsetsCovered: bigint;
  heartbeat(): Promise<void>;
}

export interface ReadRangesOptions {
  kafka: Kafka;
  admin: Admin;
  /** The group id's prefix; a random suffix makes the identity this reading's own. */
  groupPrefix: string;
  ranges: TopicRange[];
  /** Handles one batch; the reading waits for it, so a slow target slows the reading. */
  onBatch(batch: RangeBatch): Promise<void>;
  signal?: AbortSignal;
  /** Partitions read at the same time. Default 2. */
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
}

/**
 * Reads every partition range once, in offset order per partition, and resolves when all have
 * reached their end. The group it reads under is new, seeks each partition to its range's first
 * offset, never commits, and is deleted afterwards; the live stages' groups are not touched.
 */
export async function readRanges(options: ReadRangesOptions): Promise<void> {
  const { kafka, admin, ranges } = options;
  const pending = new Map<string, { range: TopicRange; partition: PartitionRange }>();
  for (const range of ranges) {
    for (const partition of range.partitions) {
      if (partition.startOffset < partition.endOffset) {
        pending.set(`${range.topic}:${partition.partition}`, { range, partition });
      }
    }
  }
  if (pending.size === 0) return;

  const groupId = `${options.groupPrefix}.${randomUUID()}`;
  const topics = [...new Set([...pending.values()].map(({ range }) => range.topic))];

  const consumer = kafka.consumer({
    groupId,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1_048_576,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  // Where each partition's reading stands: the next offset it needs.
  const positions = new Map<string, bigint>();
  let settle: { resolve(): void; reject(error: unknown): void } | undefined;
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));

  const finishPartition = (key: string): void => {
    const entry = pending.get(key);
    if (entry === undefined) return;
    pending.delete(key);
    consumer.pause([{ topic: entry.range.topic, partitions: [entry.partition.partition] }]);
    if (pending.size === 0) settle?.resolve();
  };
  // A batch of nothing but transaction markers or aborted records never reaches eachBatch, yet
  // it moves the position; the last offsets of a transactional topic are often such markers.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const key = `${payload.topic}:${payload.partition}`;
    const entry = pending.get(key);
    if (entry !== undefined && BigInt(payload.lastOffset) + 1n >= entry.partition.endOffset) {
      finishPartition(key);
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) settle?.reject(payload.error);
  });
  const onAbort = (): void =>
    settle?.reject(new PanaceaError('STAGE_STOPPED', 'the reading was asked to stop'));
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    await consumer.connect();
    await consumer.subscribe({ topics });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 2,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const key = `${batch.topic}:${batch.partition}`;
        const entry = pending.get(key);
        if (entry === undefined) return;
        const { range, partition } = entry;
        const inOffsets = batch.messages.filter(
          (message: KafkaMessage) =>
            BigInt(message.offset) >= partition.startOffset &&
            BigInt(message.offset) < partition.endOffset,
        );
        const offsetRangeRecords = inOffsets.map((message) => stageRecordOf(batch, message));
        const records = offsetRangeRecords.filter((record) =>
          isWithinTimeBounds(range, record.timestampMs),
        );
        const previous = positions.get(key) ?? partition.startOffset;
        const next = BigInt(batch.lastOffset()) + 1n;
        if (next > previous) positions.set(key, next);
        const covered = (next < partition.endOffset ? next : partition.endOffset) - previous;
        try {
          await options.onBatch({
            range,
            partition,
            records,
            offsetRangeRecords,
            outsideTimeBounds: inOffsets.length - records.length,
            offsetsCovered: covered > 0n ? covered : 0n,
            heartbeat: () => payload.heartbeat(),
          });
        } catch (error) {
          // Ends the reading instead of letting kafkajs retry the batch and restart the consumer:
          // the caller decides what a failed write means.
          pending.clear();
          settle?.reject(error);
          return;
        }
        payload.resolveOffset(batch.lastOffset());
        if (next >= partition.endOffset) finishPartition(key);
      },
    });
    // Each partition from its range's first offset. A fetch that starts before the seek lands
    // reads from the log start; the offset filter above drops what it reads before the range.
    // (kafkajs's admin.setOffsets would do this before joining, but waits out a whole fetch.)
    for (const { range, partition } of pending.values()) {
      consumer.seek({
        topic: range.topic,
        partition: partition.partition,
        offset: partition.startOffset.toString(),
      });
    }
    const idle = ranges.flatMap((range) =>
      range.partitions
        .filter((partition) => !pending.has(`${range.topic}:${partition.partition}`))
        .map((partition) => ({ topic: range.topic, partitions: [partition.partition] })),
    );
    if (idle.length > 0) consumer.pause(idle);
    await done;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    // It never committed, but the broker keeps the empty group's name until it expires.
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
