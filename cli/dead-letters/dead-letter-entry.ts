/**
 * Dead letters as `panacea dlq` sees them: a record of a `*.dlq` topic read back into its
 * headers (why, where and by which stage it was rejected), the filters a person gives, and the
 * groups `dlq inspect` lists (by stage and reason code, with counts, rejection times, source
 * topics and how many were re-driven). Pure: no client, so the rules are tested on their own.
 */
import { DEAD_LETTER_HEADERS, readDeadLetterHeaders } from '../../core/dead-letter.js';
import { ERROR_CATALOGUE, PanaceaError } from '../../core/errors.js';
import type { IHeaders } from '../../core/kafka.js';
import type { StageRecord } from '../../core/stage-runner.js';

/**
 * Set on a dead letter written by `dlq replay` when a re-driven record failed again: the position
 * of the dead letter it came from, so a person can follow a record through its re-drives.
 */
export const REDRIVEN_FROM_HEADER = 'panacea.dlq.redriven.from';

/** A dead-letter record with its headers read; `dlq` is where it sits, `source` where it came from. */
export interface DeadLetterEntry {
  dlq: { topic: string; partition: number; offset: string };
  stage: string;
  reasonCode: string;
  reason: string;
  source: { topic: string; partition: number; offset: string };
  /** RFC 3339, as the stage wrote it; empty when the header is missing. */
  rejectedAt: string;
  /** Every `panacea.dlq.*` header, as text. */
  headers: Record<string, string>;
  key: Buffer | null;
  value: Buffer | null;
  /** The record's own headers, the dead-letter ones left out: what the stage saw. */
  recordHeaders: IHeaders;
  /** The dead-letter record's Kafka timestamp, epoch ms (when it was dead-lettered). */
  timestampMs: number;
}

/** Shown for a header a dead letter lacks (written by something other than a Panacea stage). */
export const MISSING = '(missing)';

export function readDeadLetterEntry(record: StageRecord): DeadLetterEntry {
  const headers = readDeadLetterHeaders(record.headers);
  const recordHeaders: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    if (!name.startsWith('panacea.dlq.')) recordHeaders[name] = value;
  }
  const sourcePartition = Number(headers[DEAD_LETTER_HEADERS.sourcePartition]);

  return {
    dlq: { topic: record.topic, partition: record.partition, offset: record.offset },
    stage: headers[DEAD_LETTER_HEADERS.stage] ?? MISSING,
    reasonCode: headers[DEAD_LETTER_HEADERS.reasonCode] ?? MISSING,
    reason: headers[DEAD_LETTER_HEADERS.reason] ?? MISSING,
    source: {
      topic: headers[DEAD_LETTER_HEADERS.sourceTopic] ?? MISSING,
      partition: Number.isInteger(sourcePartition) ? sourcePartition : -1,
      offset: headers[DEAD_LETTER_HEADERS.sourceOffset] ?? MISSING,
    },
    rejectedAt: headers[DEAD_LETTER_HEADERS.rejectedAt] ?? '',
    headers,
    key: record.key,
    value: record.value,
    recordHeaders,
    timestampMs: record.timestampMs,
  };
}

/** `<topic>:<partition>:<offset>`: the key of a dead letter in the re-drive ledger, and `--show`. */
export function positionKey(position: {
  topic: string;
  partition: number;
  offset: string;
}): string {
  return `${position.topic}:${position.partition}:${position.offset}`;
}

export interface Position {
  topic: string;
  partition: number;
  offset: bigint;
}

/** Kafka's largest partition number and offset: 32-bit and 64-bit signed integers. */
const MAX_PARTITION = 2_147_483_647n;
const MAX_OFFSET = 9_223_372_036_854_775_807n;

/**
 * `TOPIC:PARTITION:OFFSET` (the topic may hold colons of its own; the last two parts are numbers).
 * A number past what Kafka can hold is out of range, not a format error.
 */
export function parsePosition(option: string, text: string): Position {
  const match = /^(.+):(\d+):(\d+)$/.exec(text);
  if (match === null) {
    throw new PanaceaError(
      'USAGE',
      `${option}: expected TOPIC:PARTITION:OFFSET such as agent.events.enriched.dlq:0:12, got "${text}"`,
    );
  }
  const [, topic, partitionText, offsetText] = match as unknown as [string, string, string, string];
  const partition = BigInt(partitionText);
  const offset = BigInt(offsetText);
  if (partition > MAX_PARTITION) {
    throw new PanaceaError(
      'USAGE',
      `${option} ${text}: partition ${partition} is out of range; Kafka's partitions go up to ${MAX_PARTITION}`,
    );
  }
  if (offset > MAX_OFFSET) {
    throw new PanaceaError(
      'USAGE',
      `${option} ${text}: offset ${offset} is out of range; Kafka's offsets go up to ${MAX_OFFSET}`,
    );
  }
  return { topic, partition: Number(partition), offset };
}

/** A reason code from the catalogue, or USAGE naming the option and the codes there are. */
export function parseReasonCode(option: string, text: string): string {
  if (Object.hasOwn(ERROR_CATALOGUE, text)) return text;
  throw new PanaceaError(
    'USAGE',
    `${option}: "${text}" is not a reason code; expected one of ${Object.keys(ERROR_CATALOGUE).join(', ')}`,
  );
}

/** What `dlq inspect` and `dlq replay` select: every given filter must match. */
export interface DeadLetterFilter {
  /** A stage name, or a stage family: `sink-webhooks` matches `sink-webhooks.<destination>`. */
  stage?: string;
  reasonCode?: string;
}

export function stageMatches(stage: string, wanted: string): boolean {
  return stage === wanted || stage.startsWith(`${wanted}.`);
}

export function matchesFilter(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  if (filter.stage !== undefined && !stageMatches(entry.stage, filter.stage)) return false;
  if (filter.reasonCode !== undefined && entry.reasonCode !== filter.reasonCode) return false;
  return true;
}

/** One line of `dlq inspect`: the dead letters of one stage with one reason code. */
export interface DeadLetterGroup {
  stage: string;
  reasonCode: string;
  count: number;
  /** How many of them `dlq replay` has already re-driven (see the re-drive ledger). */
  redriven: number;
  firstRejectedAt: string;
  lastRejectedAt: string;
  sourceTopics: string[];
  deadLetterTopics: string[];
  /** The newest dead letter of the group: its position (for `--show`) and its reason. */
  latest: { position: string; reason: string };
}

/** Groups built one dead letter at a time, so a long dead-letter topic is never held in memory. */
export class DeadLetterGroups {
  readonly #groups = new Map<string, DeadLetterGroup>();
  #total = 0;

  add(entry: DeadLetterEntry, redriven: boolean): void {
    const id = `${entry.stage}\u0000${entry.reasonCode}`;
    const rejectedAt = entry.rejectedAt || new Date(entry.timestampMs).toISOString();
    const group = this.#groups.get(id) ?? {
      stage: entry.stage,
      reasonCode: entry.reasonCode,
      count: 0,
      redriven: 0,
      firstRejectedAt: rejectedAt,
      lastRejectedAt: rejectedAt,
      sourceTopics: [],
      deadLetterTopics: [],
      latest: { position: positionKey(entry.dlq), reason: entry.reason },
    };
    group.count += 1;
    if (redriven) group.redriven += 1;
    // RFC 3339 in UTC, as every stage writes it, orders as text.
    if (rejectedAt < group.firstRejectedAt) group.firstRejectedAt = rejectedAt;
    if (rejectedAt >= group.lastRejectedAt) {
      group.lastRejectedAt = rejectedAt;
      group.latest = { position: positionKey(entry.dlq), reason: entry.reason };
    }
    if (!group.sourceTopics.includes(entry.source.topic))
      group.sourceTopics.push(entry.source.topic);
    if (!group.deadLetterTopics.includes(entry.dlq.topic)) {
      group.deadLetterTopics.push(entry.dlq.topic);
    }
    this.#groups.set(id, group);
    this.#total += 1;
  }

  get total(): number {
    return this.#total;
  }

  /** By stage, then by count, largest first; topics by name, the same in every output. */
  list(): DeadLetterGroup[] {
    const byName = (a: string, b: string): number => a.localeCompare(b);
    return [...this.#groups.values()]
      .map((group) => ({
        ...group,
        sourceTopics: [...group.sourceTopics].sort(byName),
        deadLetterTopics: [...group.deadLetterTopics].sort(byName),
      }))
      .sort(
        (a, b) =>
          a.stage.localeCompare(b.stage) ||
          b.count - a.count ||
          a.reasonCode.localeCompare(b.reasonCode),
      );
  }
}

/** `3 dead letters in 2 topics: a.dlq, b.dlq`, singular where one. */
export function formatInspectHeading(total: number, topics: readonly string[]): string {
  const letters = `${total} dead ${total === 1 ? 'letter' : 'letters'}`;
  const topicCount = `${topics.length} ${topics.length === 1 ? 'topic' : 'topics'}`;
  return `${letters} in ${topicCount}: ${topics.join(', ')}`;
}

/** The groups as a table for a person: one line per group, then its newest reason. */
export function formatGroups(groups: readonly DeadLetterGroup[]): string[] {
  if (groups.length === 0) return ['no dead letters'];
  const header = [
    'STAGE',
    'REASON',
    'COUNT',
    'RE-DRIVEN',
    'FIRST REJECTED',
    'LAST REJECTED',
    'SOURCE TOPICS',
  ];
  const rows = groups.map((group) => [
    group.stage,
    group.reasonCode,
    String(group.count),
    String(group.redriven),
    group.firstRejectedAt,
    group.lastRejectedAt,
    group.sourceTopics.join(','),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();

  const lines = [line(header)];
  for (const [index, group] of groups.entries()) {
    lines.push(line(rows[index] ?? []));
    lines.push(`  newest: ${group.latest.position}  ${group.latest.reason}`);
  }
  return lines;
}
