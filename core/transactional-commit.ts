/**
 * The exactly-once write of a stateful stage (metrics, alerts): its results go into a Kafka
 * transaction opened at the first write, and the transaction is committed with a checkpoint of the
 * state the results came from (in a compacted topic, chunked when large) and the input offsets
 * that state stands on (`sendOffsets`). Results, state and offsets become visible together, or
 * not at all; a reader of either topic reads committed records only.
 *
 * The stage keeps one `OpenTransaction` per unit it commits (the metrics stage per input
 * partition, the alerts stage for all its input), and decides what a failure means for its state:
 * these functions throw as kafkajs does, a fenced producer included.
 */
import { checkpointMessages } from './checkpoint-chunks.js';
import {
  Partitioners,
  sendDurably,
  type Kafka,
  type Producer,
  type TopicMessages,
  type Transaction,
} from './kafka.js';

export interface OpenTransaction {
  /** Transactional producer; its transactional id names what it commits. */
  producer: Producer;
  /** The transaction the writes since the last commit went into; undefined when none is open. */
  transaction: Transaction | undefined;
  /** When the first write after the last commit was made; undefined when nothing waits. */
  uncommittedSinceMs: number | undefined;
  /** Chunks the last checkpoint took, which the next one may have to tombstone. */
  checkpointChunks: number;
}

export interface CheckpointedCommit {
  /** The compacted topic of the stage's checkpoints. */
  stateTopic: string;
  checkpointKey: string;
  /** The state as JSON-ready data. */
  checkpoint: unknown;
  consumerGroupId: string;
  /** The input offsets to commit (the next offset to read); empty when none moved. */
  offsets: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

/** Sends into the open transaction, opening one when none is. */
export async function sendInTransaction(
  open: OpenTransaction,
  messages: TopicMessages[],
): Promise<void> {
  if (messages.length === 0) return;
  open.transaction ??= await open.producer.transaction();
  open.uncommittedSinceMs ??= Date.now();
  await sendDurably(open.transaction, messages);
}

/** Whether writes have waited in the open transaction for `intervalMs` or longer. */
export function commitIsDue(open: OpenTransaction, nowMs: number, intervalMs: number): boolean {
  return open.uncommittedSinceMs !== undefined && nowMs - open.uncommittedSinceMs >= intervalMs;
}

/** Commits the open transaction (one is opened if none is) with the checkpoint and the offsets. */
export async function commitWithCheckpoint(
  open: OpenTransaction,
  commit: CheckpointedCommit,
): Promise<void> {
  const write = checkpointMessages(
    commit.checkpointKey,
    Buffer.from(JSON.stringify(commit.checkpoint)),
    open.checkpointChunks,
  );
  const transaction = (open.transaction ??= await open.producer.transaction());
  await sendDurably(transaction, [{ topic: commit.stateTopic, messages: write.messages }]);
  const offsets = commit.offsets.filter(({ partitions }) => partitions.length > 0);
  if (offsets.length > 0) {
    await transaction.sendOffsets({ consumerGroupId: commit.consumerGroupId, topics: offsets });
  }
  await transaction.commit();

  open.transaction = undefined;
  open.uncommittedSinceMs = undefined;
  open.checkpointChunks = write.chunks;
}

/**
 * A transactional producer under `transactionalId` that has fenced the id's previous holder: any
 * transaction it left open is aborted and its producer can commit nothing more. kafkajs takes the
 * id at the first transaction, not at connect, so one is begun and aborted here; a stage does this
 * before it reads the checkpoint, so that the checkpoint is the last one that will ever commit.
 */
export async function fencingProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await (await producer.transaction()).abort();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
  return producer;
}
