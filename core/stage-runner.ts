/**
 * The consumer loop every stage runs on. It owns the commit discipline: a batch's offsets are
 * committed only after the stage says every record in it is durably written, and after the records
 * it rejected are durably on their dead-letter topic. A batch that fails or is interrupted is not
 * committed and is read again, which is safe because every sink writes idempotently.
 */
import { channel } from 'node:diagnostics_channel';

import { deadLetterTopicMessages, type DeadLetter } from './dead-letter.js';
import { PanaceaError, toPanaceaError, type ErrorCode } from './errors.js';
import {
  type Batch,
  type Consumer,
  type EachBatchPayload,
  hasKafkaErrorType,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type Producer,
  sendDurably,
} from './kafka.js';
import { componentLogger, type Logger } from './logger.js';
import type { Naming } from './naming.js';

export interface StageRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  /** The record's Kafka timestamp, epoch milliseconds. */
  timestampMs: number;
}

/** A fetched message as a stage sees it. */
export function stageRecordOf(
  batch: Pick<Batch, 'topic' | 'partition'>,
  message: KafkaMessage,
): StageRecord {
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers,
    timestampMs: Number(message.timestamp),
  };
}

export interface BatchOutcome {
  /** Records the stage refused; they go to `<source topic>.dlq` before the batch is committed. */
  deadLetters: DeadLetter[];
  /**
   * What else the stage counted in the batch, by group then name, e.g. `{ redacted: { email: 3 } }`.
   * Summed into the stage's stats only once the batch is committed, so a retried batch counts once.
   */
  tallies?: Record<string, Record<string, number>>;
}

/**
 * A dead letter for a record a stage refused: the record as it came, the error as a PanaceaError
 * (anything else thrown is wrapped with `fallbackCode`).
 */
export function deadLetterFor(
  record: StageRecord,
  error: unknown,
  fallbackCode: ErrorCode = 'DECODE_FAILED',
): DeadLetter {
  return {
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
    key: record.key,
    value: record.value,
    error: toPanaceaError(error, fallbackCode),
  };
}

export interface BatchContext {
  /** Aborts when the stage is asked to stop; work in hand should end with `STAGE_STOPPED`. */
  signal: AbortSignal;
  /**
   * Tells the group coordinator this instance is alive. Work that can wait long (retries while a
   * sink is down) calls it, or the group would take the partition away mid-batch.
   */
  heartbeat(): Promise<void>;
}

export interface StageDefinition {
  /** Stage name, e.g. `enrich`; also the consumer group suffix and the DLQ `stage` header. */
  name: string;
  inputTopics: string[];
  /** A few key facts for the start log line. */
  summary: Record<string, unknown>;
  /**
   * Handles one batch of one partition. Resolves only when every record not returned as a dead
   * letter is durably written. Throws `STAGE_STOPPED` when `signal` aborts mid-work.
   */
  handleBatch(records: StageRecord[], context: BatchContext): Promise<BatchOutcome>;
  /** Releases the stage's own clients after the consumer has stopped. */
  close?(): Promise<void>;
  /** The live figures of the stage's writer, read with the stage's stats. */
  writerStats?(): WriterStats;
  /**
   * For a stage whose writer can lose its target (Elasticsearch down): registers a listener the
   * writer calls with `false` when the target stops answering and `true` when it answers again.
   * The runner pauses fetching from every input partition in between, so an outage holds only
   * the batches already in hand in memory, however long it lasts.
   */
  watchWriterAvailability?(listener: (available: boolean) => void): void;
}

export interface StageRunnerOptions {
  kafka: Kafka;
  naming: Naming;
  /** A durable producer shared by the stages for dead letters. */
  deadLetterProducer: Producer;
  /** Partitions handled at the same time by this instance. Default 2. */
  partitionsConsumedConcurrently?: number;
  /** Upper bound of one fetch per partition, bytes. Default 1 MiB. */
  maxBytesPerPartition?: number;
}

/** What a stage has done since it started; dead letters are counted by reason code. */
export interface StageStats {
  batches: number;
  records: number;
  deadLettered: number;
  deadLetteredByCode: Record<string, number>;
  /** The stages' own counts (see `BatchOutcome.tallies`), summed over committed batches. */
  tallies: Record<string, Record<string, number>>;
  /** The stage's writer, for a stage that has one (see `StageDefinition.writerStats`). */
  writer?: WriterStats;
}

/**
 * What a sink's writer (the Elasticsearch bulk writer) has done since it was made, live rather
 * than per committed batch; counts are documents unless named otherwise.
 */
export interface WriterStats {
  /** Stored by Elasticsearch: created, or overwritten by a newer version. */
  indexed: number;
  /** Already stored (409): a redelivered or replayed document, counted as written. */
  duplicates: number;
  /** Sent again after a retriable item status or a failed request, once per resend. */
  retried: number;
  /** Refused for good and handed back to the caller, which dead-letters them. */
  refused: number;
  /** Bulk requests sent and not answered yet. */
  requestsInFlight: number;
  documentsInFlight: number;
  /**
   * Time Elasticsearch could not be reached, ms, the current outage included. The stage's
   * consumer is paused meanwhile (see `StageDefinition.watchWriterAvailability`).
   */
  pausedMs: number;
  /** The current outage so far, ms; 0 while Elasticsearch answers. */
  currentPauseMs?: number;
}

/**
 * Published once per committed batch with `{ stage, topic, partition, records, deadLettered,
 * durationMs }`, so tests and tracing can follow progress without parsing logs.
 */
export const batchChannel = channel('panacea:stage:batch');

/**
 * Published on each change of a stage's consumer group membership with `{ groupId, state,
 * partitions }`, `state` one of `joined`, `rebalancing`, `crashed`, `stopped`, for readiness.
 */
export const groupChannel = channel('panacea:stage:group');

/** Consumer group session timeout of every stage, ms. */
export const SESSION_TIMEOUT_MS = 15_000;

export interface RunningStage {
  name: string;
  groupId: string;
  inputTopics: string[];
  /** Settles when the stage stops; rejects if its consumer crashed for good. */
  finished: Promise<void>;
  /** Stops fetching, lets the batch in hand finish or abort, then releases clients. */
  stop(): Promise<void>;
  stats(): StageStats;
  /** For a stage that holds commits back, what it has read (see GroupInput.consumedPositions). */
  consumedPositions?(): Map<string, bigint>;
}

export async function startStage(
  definition: StageDefinition,
  options: StageRunnerOptions,
): Promise<RunningStage> {
  const logger = componentLogger(`stage.${definition.name}`);
  const groupId = options.naming.consumerGroup(definition.name);
  const abortController = new AbortController();
  const stats: StageStats = {
    batches: 0,
    records: 0,
    deadLettered: 0,
    deadLetteredByCode: {},
    tallies: {},
  };
  const consumer = options.kafka.consumer({
    groupId,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
    // A fetch waits at most this long for data; it also bounds how long a stop waits for a fetch.
    maxWaitTimeInMs: 1_000,
    // How long the group waits for a dead member (a killed process) before moving its partitions;
    // half the kafkajs default, still well above the 10 s Elasticsearch request timeout.
    sessionTimeout: SESSION_TIMEOUT_MS,
    allowAutoTopicCreation: false,
  });

  const { finished, resolveFinished } = watchConsumer(
    consumer,
    logger,
    groupId,
    abortController.signal,
  );
  // Whoever runs the stage observes `finished`; this keeps a crash during start-up, before anyone
  // listens, from ending the process as an unhandled rejection.
  finished.catch(() => undefined);
  commitFilteredBatches(consumer, logger);
  await consumer.connect();
  await consumer.subscribe({ topics: definition.inputTopics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 2,
    eachBatch: (payload) =>
      handleBatch(definition, options, consumer, payload, abortController.signal, logger, stats),
  });
  definition.watchWriterAvailability?.((available) =>
    pauseWhileUnavailable(consumer, definition.inputTopics, available, logger),
  );
  logger.info(
    { groupId, inputTopics: definition.inputTopics, ...definition.summary },
    'stage started',
  );

  const currentStats = (): StageStats => {
    const writer = definition.writerStats?.();
    return { ...structuredClone(stats), ...(writer === undefined ? {} : { writer }) };
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      abortController.abort();
      await consumer.disconnect();
      // Between a crash and kafkajs's restart there is no runner to emit STOP; settle it here.
      resolveFinished();
      await definition.close?.();
      logger.info({ groupId, ...currentStats() }, 'stage stopped');
    })();
    return stopping;
  };

  return {
    name: definition.name,
    groupId,
    inputTopics: definition.inputTopics,
    finished,
    stop,
    stats: currentStats,
  };
}

async function handleBatch(
  definition: StageDefinition,
  options: StageRunnerOptions,
  consumer: Consumer,
  payload: EachBatchPayload,
  signal: AbortSignal,
  logger: Logger,
  stats: StageStats,
): Promise<void> {
  const { batch } = payload;
  if (batch.messages.length === 0 || signal.aborted) return;

  const records = batch.messages.map((message) => stageRecordOf(batch, message));

  const startedAtMs = performance.now();
  let outcome: BatchOutcome;
  try {
    outcome = await definition.handleBatch(records, {
      signal,
      heartbeat: () => payload.heartbeat(),
    });
  } catch (error) {
    // Stopping mid-batch: leave it uncommitted; the next owner of the partition reads it again.
    if (error instanceof PanaceaError && error.code === 'STAGE_STOPPED') return;
    throw error;
  }

  await publishDeadLetters(definition.name, options, outcome.deadLetters, logger);
  // The committed offset is the next one to read: one past the batch's last offset, which also
  // covers transaction markers kafkajs filtered out of `messages`.
  const nextOffset = (BigInt(batch.lastOffset()) + 1n).toString();
  // Through the payload: kafkajs's consumer-level commit is skipped silently once a stop has
  // begun, and a stop waits for exactly this batch to end.
  try {
    await payload.commitOffsetsIfNecessary({
      topics: [
        { topic: batch.topic, partitions: [{ partition: batch.partition, offset: nextOffset }] },
      ],
    });
  } catch (error) {
    if (!isRebalanceError(error)) throw error;
    // The partition moved to another member while this batch ran; the new owner reads it again
    // from the last commit, and the sinks are idempotent.
    logger.warn(
      { topic: batch.topic, partition: batch.partition },
      'partition moved during a batch; not committed',
    );
    return;
  }
  payload.resolveOffset(batch.lastOffset());
  countBatch(stats, records.length, outcome);
  if (batchChannel.hasSubscribers) {
    batchChannel.publish({
      stage: definition.name,
      topic: batch.topic,
      partition: batch.partition,
      records: records.length,
      deadLettered: outcome.deadLetters.length,
      durationMs: performance.now() - startedAtMs,
    });
  }
  await payload.heartbeat();
}

/**
 * Pauses fetching from every input partition while the stage's writer cannot write, and resumes
 * it when it can. The batches in hand keep retrying through the pause (kafkajs finishes a batch of
 * a paused partition), and their commit still lands; partitions assigned during the outage start
 * paused too, since the pause is per topic.
 */
function pauseWhileUnavailable(
  consumer: Consumer,
  inputTopics: string[],
  available: boolean,
  logger: Logger,
): void {
  const topics = inputTopics.map((topic) => ({ topic }));
  if (available) {
    consumer.resume(topics);
    logger.info({ topics: inputTopics }, 'consumer resumed: the writer can write again');
  } else {
    consumer.pause(topics);
    logger.warn({ topics: inputTopics }, 'consumer paused: the writer cannot write');
  }
}

/**
 * Commits past a batch that held only transaction markers or records of aborted transactions.
 * kafkajs never hands such a batch to `eachBatch` and, without auto-commit, commits nothing for
 * it, so an aborted transaction at the end of an input topic (a transactional writer killed
 * mid-batch) would leave the committed offset short of the end for ever: no lag ever reaches 0
 * and `run --until-idle` never ends. Every record before it was committed by the batch before,
 * since kafkajs processes a partition's batches one after another.
 */
function commitFilteredBatches(consumer: Consumer, logger: Logger): void {
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize > 0) return;
    const offset = (BigInt(payload.lastOffset) + 1n).toString();
    const { topic, partition } = payload;
    consumer.commitOffsets([{ topic, partition, offset }]).catch((error: unknown) => {
      // Harmless: the next filtered batch, or the next real one, commits past it again.
      logger.debug({ topic, partition, err: error }, 'commit past filtered records failed');
    });
  });
}

const REBALANCE_ERROR_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR',
]);

function isRebalanceError(error: unknown): boolean {
  return hasKafkaErrorType(error, REBALANCE_ERROR_TYPES);
}

function countBatch(stats: StageStats, records: number, outcome: BatchOutcome): void {
  stats.batches += 1;
  stats.records += records;
  stats.deadLettered += outcome.deadLetters.length;
  for (const deadLetter of outcome.deadLetters) {
    const code = deadLetter.error.code;
    stats.deadLetteredByCode[code] = (stats.deadLetteredByCode[code] ?? 0) + 1;
  }
  for (const [group, counts] of Object.entries(outcome.tallies ?? {})) {
    const sums = (stats.tallies[group] ??= {});
    for (const [name, count] of Object.entries(counts)) sums[name] = (sums[name] ?? 0) + count;
  }
}

async function publishDeadLetters(
  stage: string,
  options: StageRunnerOptions,
  deadLetters: DeadLetter[],
  logger: Logger,
): Promise<void> {
  if (deadLetters.length === 0) return;

  await sendDurably(
    options.deadLetterProducer,
    deadLetterTopicMessages(deadLetters, stage, options.naming.deadLetterTopic, Date.now()),
  );
  // Logged once they are stored, so a batch that is retried does not log them twice.
  for (const deadLetter of deadLetters) {
    logger.warn(
      { code: deadLetter.error.code, ...deadLetter.source, err: deadLetter.error },
      'record dead-lettered',
    );
  }
}

/**
 * Logs the consumer's life (rebalances, crashes) and settles when it ends. Exported for stages
 * that run a consumer loop of their own (the metrics stage, with its transactions).
 */
export function watchConsumer(
  consumer: Consumer,
  logger: Logger,
  groupId: string,
  stopRequested: AbortSignal,
): { finished: Promise<void>; resolveFinished: () => void } {
  let resolveFinished: () => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    resolveFinished = resolve;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      logger.info({ groupId, assignment: payload.memberAssignment }, 'partitions assigned');
      const partitions = Object.values(payload.memberAssignment).flat().length;
      groupChannel.publish({ groupId, state: 'joined', partitions });
    });
    consumer.on(consumer.events.REBALANCING, () => {
      logger.info({ groupId }, 'rebalancing');
      groupChannel.publish({ groupId, state: 'rebalancing', partitions: 0 });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      groupChannel.publish({ groupId, state: 'crashed', partitions: 0 });
      if (payload.restart) {
        // Retriable (a coordinator still loading on a fresh broker): kafkajs starts it again.
        logger.warn({ groupId, err: payload.error }, 'stage consumer failed; restarting it');
        return;
      }
      logger.error({ groupId, err: payload.error }, 'stage consumer crashed');
      reject(payload.error);
    });
    // kafkajs emits STOP both when asked to stop and just before a CRASH (whether it restarts the
    // consumer after it or not): only a requested stop ends the stage well; a crash that is not
    // restarted rejects above.
    consumer.on(consumer.events.STOP, () => {
      groupChannel.publish({ groupId, state: 'stopped', partitions: 0 });
      if (stopRequested.aborted) resolve();
    });
  });
  return { finished, resolveFinished };
}
