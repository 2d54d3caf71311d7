/**
 * Reading a deployment's dead-letter topics and the ledger of re-driven dead letters. Both are
 * read from their start to their end as it stands when the reading begins, under throwaway
 * consumer groups that never commit (core/topic-range.ts): no stage's offsets ever move, and a
 * stage dead-lettering meanwhile does not keep the reading from ending.
 */
import { PanaceaError } from '../../core/errors.js';
import { type Admin, createTopicsServed, type Kafka, type Message } from '../../core/kafka.js';
import type { Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';
import { readRanges, resolveTopicRange, type TopicRange } from '../../core/topic-range.js';
import { topicDefinitions } from '../../infra/topics.js';
import { positionKey, readDeadLetterEntry, type DeadLetterEntry } from './dead-letter-entry.js';

/** This deployment's dead-letter topics, by name, whether they exist or not. */
function ourDeadLetterTopics(naming: Naming): string[] {
  return topicDefinitions(naming)
    .map((definition) => definition.topic)
    .filter((topic) => topic.endsWith('.dlq'));
}

/** USAGE naming the option unless `topic` is a dead-letter topic (its name ends in `.dlq`). */
export function checkDeadLetterTopicName(option: string, topic: string, naming: Naming): void {
  if (topic.endsWith('.dlq')) return;
  throw new PanaceaError(
    'USAGE',
    `${option} ${topic}: not a dead-letter topic (their names end in .dlq: ${ourDeadLetterTopics(naming).join(', ')})`,
    { topic },
  );
}

/**
 * The dead-letter topics of this deployment that exist, or the ones given (`--topic`), checked:
 * a given topic must exist and be a dead-letter topic. Nothing is created.
 */
export async function deadLetterTopics(
  admin: Admin,
  naming: Naming,
  given: readonly string[],
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  if (given.length === 0) return ourDeadLetterTopics(naming).filter((topic) => existing.has(topic));

  for (const topic of given) {
    checkDeadLetterTopicName('--topic', topic, naming);
    if (!existing.has(topic)) {
      throw new PanaceaError('USAGE', `--topic ${topic}: no such topic on the broker`, { topic });
    }
  }
  return [...new Set(given)];
}

/**
 * Creates the re-drive ledger topic when it is missing, and nothing else: the one topic a real
 * replay needs of its own (the topics it writes into are the ones its dead letters came from).
 */
export async function ensureRedriveLedgerTopic(admin: Admin, naming: Naming): Promise<void> {
  const topic = naming.deadLetterRedrivenTopic();
  if ((await admin.listTopics()).includes(topic)) return;
  const definition = topicDefinitions(naming).find((candidate) => candidate.topic === topic);
  if (definition === undefined) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `no topic definition for the re-drive ledger ${topic}`,
    );
  }
  await createTopicsServed(admin, [definition]);
}

export interface ReadingClients {
  kafka: Kafka;
  admin: Admin;
  /** The prefix of the throwaway groups: the deployment's topic prefix keeps them together. */
  groupPrefix: string;
  signal?: AbortSignal;
}

/** Whole topics, start to the current end. */
async function wholeTopics(admin: Admin, topics: readonly string[]): Promise<TopicRange[]> {
  return Promise.all(topics.map((topic) => resolveTopicRange(admin, topic, undefined, undefined)));
}

/**
 * Reads every dead letter of `topics` in offset order per partition and hands them over batch by
 * batch; the reading waits for `onBatch`, so a slow re-drive slows it rather than piling up.
 */
export async function readDeadLetters(
  clients: ReadingClients,
  topics: readonly string[],
  onBatch: (entries: DeadLetterEntry[], heartbeat: () => Promise<void>) => Promise<void>,
): Promise<void> {
  await readRanges({
    kafka: clients.kafka,
    admin: clients.admin,
    groupPrefix: `${clients.groupPrefix}panacea.dlq-reader`,
    ranges: await wholeTopics(clients.admin, topics),
    // One partition at a time: a re-drive handles one batch after the other.
    partitionsConsumedConcurrently: 1,
    ...(clients.signal === undefined ? {} : { signal: clients.signal }),
    onBatch: async (batch) => {
      if (batch.records.length === 0) return;
      await onBatch(batch.records.map(readDeadLetterEntry), batch.heartbeat);
    },
  });
}

/** One dead letter at an exact position, or USAGE naming what does not exist there. */
export async function readOneDeadLetter(
  clients: ReadingClients,
  option: string,
  position: { topic: string; partition: number; offset: bigint },
): Promise<DeadLetterEntry> {
  const { topic, partition, offset } = position;
  const text = `${option} ${topic}:${partition}:${offset}`;
  if (!(await clients.admin.listTopics()).includes(topic)) {
    throw new PanaceaError('USAGE', `${text}: no topic ${topic} on the broker`, { topic });
  }
  const ends = await clients.admin.fetchTopicOffsets(topic);
  const end = ends.find((candidate) => candidate.partition === partition);
  if (end === undefined) {
    throw new PanaceaError(
      'USAGE',
      `${text}: ${topic} has no partition ${partition} (it has ${ends.length})`,
      { topic, partition },
    );
  }
  const low = BigInt(end.low);
  const high = BigInt(end.high);
  if (offset < low || offset >= high) {
    const holds = low === high ? 'holds no records' : `holds offsets ${low} to ${high - 1n}`;
    throw new PanaceaError(
      'USAGE',
      `${text}: offset ${offset} is out of range; partition ${partition} of ${topic} ${holds}`,
      { topic, partition, offset: offset.toString() },
    );
  }

  let found: StageRecord | undefined;
  await readRanges({
    kafka: clients.kafka,
    admin: clients.admin,
    groupPrefix: `${clients.groupPrefix}panacea.dlq-reader`,
    ranges: [
      { topic, partitions: [{ topic, partition, startOffset: offset, endOffset: offset + 1n }] },
    ],
    onBatch: async (batch) => {
      found ??= batch.records.find((record) => BigInt(record.offset) === offset);
    },
  });
  if (found === undefined) {
    // Compaction or an aborted transaction can leave an offset without a record.
    throw new PanaceaError(
      'USAGE',
      `${text}: no record at that offset (removed or never committed)`,
      {
        topic,
        partition,
        offset: offset.toString(),
      },
    );
  }
  return readDeadLetterEntry(found);
}

/** What the ledger keeps per re-driven dead letter (the key is its position). */
export interface RedriveLedgerEntry {
  stage: string;
  reasonCode: string;
  outcome: 'redriven' | 'failed-again';
  /** The reason code of the new dead letter, when it failed again. */
  newReasonCode?: string;
  redrivenAt: string;
}

/** The ledger's outcome per dead-letter position (`topic:partition:offset`), read to its end. */
export type RedriveLedger = Map<string, RedriveLedgerEntry['outcome']>;

export async function readRedriveLedger(
  clients: ReadingClients,
  naming: Naming,
): Promise<RedriveLedger> {
  const topic = naming.deadLetterRedrivenTopic();
  const redriven: RedriveLedger = new Map();
  if (!(await clients.admin.listTopics()).includes(topic)) return redriven;

  await readRanges({
    kafka: clients.kafka,
    admin: clients.admin,
    groupPrefix: `${clients.groupPrefix}panacea.dlq-ledger-reader`,
    ranges: await wholeTopics(clients.admin, [topic]),
    ...(clients.signal === undefined ? {} : { signal: clients.signal }),
    onBatch: async (batch) => {
      for (const record of batch.records) {
        const key = record.key?.toString('utf8');
        if (key === undefined) continue;
        // A tombstone takes an entry back out: that dead letter may be re-driven again.
        if (record.value === null) redriven.delete(key);
        else redriven.set(key, outcomeOf(record.value));
      }
    },
  });
  return redriven;
}

/**
 * The outcome an entry records. One that cannot be read counts as re-driven: the safe side, as
 * re-driving an event that went through would publish it twice.
 */
function outcomeOf(value: Buffer): RedriveLedgerEntry['outcome'] {
  try {
    const entry = JSON.parse(value.toString('utf8')) as { outcome?: unknown };
    return entry.outcome === 'failed-again' ? 'failed-again' : 'redriven';
  } catch {
    return 'redriven';
  }
}

export function ledgerMessage(entry: DeadLetterEntry, record: RedriveLedgerEntry): Message {
  return { key: positionKey(entry.dlq), value: JSON.stringify(record) };
}
