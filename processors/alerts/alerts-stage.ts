/**
 * The alerts stage: enriched events and metrics records in, alert notifications out to
 * `agent.alerts`, exactly once through restarts and SIGKILL (see index.ts for the design).
 *
 * Like the metrics stage it runs its own consumer loop: its commit is one Kafka transaction
 * holding the notifications since the last commit, the checkpoint of the whole alert state (to
 * `panacea.alerts-state`) and the input offsets (`sendOffsets`). One member of the group owns
 * every input partition (single-owner-assigner.ts); its transactional id is the group's, so a new
 * owner fences the old one before it reads the checkpoint.
 *
 * Steps of a batch: restore the state if this generation has not yet, count the records into
 * the rule conditions, evaluate (once the input read at restore has been caught up with), send
 * the notifications into the open transaction, commit it once it has been open for the interval.
 * A timer evaluates between batches, so `for`, repeats, absences and resolutions happen on time.
 */

import { assembleCheckpoint } from '../../core/checkpoint-chunks.js';
import { CheckpointReader } from '../../core/checkpoint-reader.js';
import { toDeadLetterMessage, type DeadLetter } from '../../core/dead-letter.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  hasKafkaErrorType,
  type Kafka,
  type Producer,
  type TopicMessages,
} from '../../core/kafka.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import { PartitionLocks } from '../../core/partition-locks.js';
import {
  deadLetterFor,
  SESSION_TIMEOUT_MS,
  stageRecordOf,
  watchConsumer,
  type RunningStage,
  type StageRecord,
  type StageStats,
} from '../../core/stage-runner.js';
import {
  commitIsDue,
  commitWithCheckpoint,
  fencingProducer,
  sendInTransaction,
  type OpenTransaction,
} from '../../core/transactional-commit.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { readEnrichedEvent } from '../metrics/enriched-event.js';
import type { MetricsRecord } from '../metrics/metrics-records.js';
import { AlertEngine, type AlertEngineState } from './alert-engine.js';
import { RuleConditions, type RuleConditionsState } from './rule-conditions.js';
import type { AlertRules } from './rules-file.js';
import type { SilenceStore } from './silences.js';
import { singleOwnerAssigner } from './single-owner-assigner.js';

export const ALERTS_STAGE = 'alerts';

export interface AlertsStageOptions {
  kafka: Kafka;
  /** A connected admin client, for the ends of the checkpoint and input topics. */
  admin: Admin;
  naming: Naming;
  rules: AlertRules;
  /** The silences table, open; the stage reads it and does not close it. */
  silences: SilenceStore;
  /** How often the stage evaluates between batches. Default 1 000 ms. */
  tickIntervalMs?: number;
  /** How long notifications may wait in the open transaction before commit. Default 1 000 ms. */
  commitIntervalMs?: number;
  /**
   * Longest wait, after a restore, for the input to be read up to where it ended then, before
   * evaluating anyway. Default 60 000 ms.
   */
  catchUpTimeoutMs?: number;
}

const DEFAULT_INTERVAL_MS = 1_000;
const DEFAULT_CATCH_UP_TIMEOUT_MS = 60_000;
const CHECKPOINT_VERSION = 1;
/** The one key of the state: the stage holds all of it in one place. */
const LOCK = 0;

interface Checkpoint {
  version: typeof CHECKPOINT_VERSION;
  /** Next input offset to read, per `<topic>:<partition>`: what was committed with it. */
  nextOffsets: Record<string, string>;
  conditions: RuleConditionsState;
  engine: AlertEngineState;
}

/** The stage's state, and its open transaction (see core/transactional-commit.ts). */
interface StageState extends OpenTransaction {
  generation: number;
  nextOffsets: Map<string, bigint>;
  committedOffsets: Map<string, bigint>;
  conditions: RuleConditions;
  engine: AlertEngine;
  uncommitted: { records: number; deadLetters: DeadLetter[]; notifications: AlertNotification[] }[];
  /** Where each input partition ended at restore; undefined once read that far. */
  catchUpTargets: Map<string, bigint> | undefined;
  catchUpDeadlineMs: number;
}

export async function startAlertsStage(options: AlertsStageOptions): Promise<RunningStage> {
  const stage = new AlertsStage(options);
  await stage.start();
  return {
    name: ALERTS_STAGE,
    groupId: stage.groupId,
    inputTopics: stage.inputTopics,
    finished: stage.finished,
    stop: () => stage.stop(),
    stats: () => stage.stats(),
  };
}

class AlertsStage {
  readonly groupId: string;
  readonly inputTopics: string[];
  readonly finished: Promise<void>;
  readonly #options: AlertsStageOptions;
  readonly #logger: Logger = componentLogger(`stage.${ALERTS_STAGE}`);
  readonly #consumer: Consumer;
  readonly #reader: CheckpointReader;
  readonly #abort = new AbortController();
  readonly #resolveFinished: () => void;
  readonly #locks = new PartitionLocks();
  readonly #stats: StageStats = {
    batches: 0,
    records: 0,
    deadLettered: 0,
    deadLetteredByCode: {},
    tallies: { notifications: {} },
  };
  #state: StageState | undefined;
  #generation = 0;
  /** `<topic>:<partition>` of every input partition this instance owns in this generation. */
  #assigned: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: AlertsStageOptions) {
    this.#options = options;
    this.groupId = options.naming.consumerGroup(ALERTS_STAGE);
    this.inputTopics = [options.naming.enrichedTopic(), options.naming.metricsTopic()];
    this.#consumer = options.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: 500,
      sessionTimeout: SESSION_TIMEOUT_MS,
      allowAutoTopicCreation: false,
      partitionAssigners: [singleOwnerAssigner],
    });
    this.#reader = new CheckpointReader({
      kafka: options.kafka,
      admin: options.admin,
      topic: options.naming.alertsStateTopic(),
      groupIdPrefix: options.naming.consumerGroup(`${ALERTS_STAGE}-state-reader`),
    });
    const watched = watchConsumer(this.#consumer, this.#logger, this.groupId, this.#abort.signal);
    this.finished = watched.finished;
    this.#resolveFinished = watched.resolveFinished;
    this.finished.catch(() => undefined);
  }

  async start(): Promise<void> {
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#generation += 1;
      this.#assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => partitionKey(topic, partition)),
      );
    });

    await this.#reader.start();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.inputTopics, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#handleBatch(payload),
    });
    this.#timer = setInterval(
      () => void this.#tick(),
      this.#options.tickIntervalMs ?? DEFAULT_INTERVAL_MS,
    );
    this.#logger.info(
      {
        groupId: this.groupId,
        inputTopics: this.inputTopics,
        outputTopic: this.#options.naming.alertsTopic(),
        rulesFile: this.#options.rules.file,
        rules: this.#options.rules.rules.map((rule) => `${rule.name} (${rule.kind})`),
      },
      'stage started',
    );
  }

  stats(): StageStats {
    return structuredClone(this.#stats);
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#abort.abort();
      clearInterval(this.#timer);
      // Committed while the input is still ours, so a clean stop leaves nothing to redo.
      await this.#locks.finishEach(
        () => (this.#state === undefined ? [] : [LOCK]),
        async () => {
          if (this.#state !== undefined) await this.#commit(this.#state);
        },
      );
      await this.#consumer.disconnect();
      this.#resolveFinished();
      await this.#locks.settled();
      await this.#state?.producer.disconnect().catch(() => undefined);
      await this.#reader.close();
      this.#logger.info({ groupId: this.groupId, ...this.#stats }, 'stage stopped');
    })();
    return this.#stopping;
  }

  async #handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || this.#abort.signal.aborted) return;

    const generation = this.#generation;
    const key = partitionKey(batch.topic, batch.partition);
    const counted = await this.#locks.run(LOCK, async () => {
      const state = await this.#stateFor(generation);
      if (state === undefined || this.#abort.signal.aborted) return false;
      const from = state.nextOffsets.get(key) ?? 0n;
      const nextOffset = BigInt(batch.lastOffset()) + 1n;
      // Wholly below the checkpoint: already counted before the commit that went with it.
      if (nextOffset <= from) return true;
      const records = batch.messages
        .filter((message) => BigInt(message.offset) >= from)
        .map((message) => stageRecordOf(batch, message));

      const nowMs = Date.now();
      const deadLetters = this.#count(state, records, nowMs);
      state.nextOffsets.set(key, nextOffset);
      const notifications = this.#evaluate(state, nowMs);
      const deadLetterMessages = deadLetters.map((deadLetter) => ({
        topic: this.#options.naming.deadLetterTopic(deadLetter.source.topic),
        messages: [toDeadLetterMessage(deadLetter, ALERTS_STAGE, nowMs)],
      }));
      const sent = await this.#send(state, [
        ...this.#notificationMessages(notifications),
        ...deadLetterMessages,
      ]);
      if (!sent) return false;

      state.uncommitted.push({ records: records.length, deadLetters, notifications });
      state.uncommittedSinceMs ??= nowMs;
      return this.#commitDue(state, nowMs) ? this.#commit(state) : true;
    });

    // Resolved once counted, committed or not: a state dropped before its commit rewinds the
    // fetch to its checkpoint (see #drop).
    if (!counted) return;
    payload.resolveOffset(batch.lastOffset());
    await payload.heartbeat();
  }

  /** Feeds the records into the rule conditions; returns the records refused. */
  #count(state: StageState, records: StageRecord[], nowMs: number): DeadLetter[] {
    const deadLetters: DeadLetter[] = [];
    for (const record of records) {
      try {
        if (record.topic === this.#options.naming.enrichedTopic()) {
          state.conditions.observeEvent(readEnrichedEvent(record.value), record.timestampMs, nowMs);
        } else {
          state.conditions.observeMetrics(readMetricsRecord(record.value));
        }
      } catch (error) {
        if (!(error instanceof PanaceaError) || error.retriable) throw error;
        deadLetters.push(deadLetterFor(record, error));
      }
    }
    return deadLetters;
  }

  /** The notifications due now; none until the input read at restore has been caught up with. */
  #evaluate(state: StageState, nowMs: number): AlertNotification[] {
    if (state.catchUpTargets !== undefined) {
      const behind = [...state.catchUpTargets].filter(
        // The last record of a transactional topic is a commit marker, never delivered.
        ([key, endOffset]) => (state.nextOffsets.get(key) ?? 0n) < endOffset - 1n,
      );
      if (behind.length > 0 && nowMs < state.catchUpDeadlineMs) return [];
      if (behind.length > 0) {
        this.#logger.warn(
          { behind: behind.map(([key]) => key) },
          'input not caught up with in time after restore; evaluating anyway',
        );
      }
      state.catchUpTargets = undefined;
    }
    const conditions = state.conditions.conditionsAt(nowMs);
    return state.engine.evaluate(conditions, nowMs, (labels, atMs) =>
      this.#options.silences.matching(labels, atMs),
    );
  }

  #notificationMessages(notifications: AlertNotification[]): TopicMessages[] {
    if (notifications.length === 0) return [];
    return [
      {
        topic: this.#options.naming.alertsTopic(),
        messages: notifications.map((notification) => ({
          key: notification.fingerprint,
          value: Buffer.from(JSON.stringify(notification)),
        })),
      },
    ];
  }

  async #send(state: StageState, messages: TopicMessages[]): Promise<boolean> {
    return this.#transactionally(state, () => sendInTransaction(state, messages));
  }

  #commitDue(state: StageState, nowMs: number): boolean {
    return commitIsDue(state, nowMs, this.#options.commitIntervalMs ?? DEFAULT_INTERVAL_MS);
  }

  /**
   * Ends the open transaction with the checkpoint and the input offsets, so the notifications,
   * the state they came from and the offsets it stands on become visible together.
   */
  async #commit(state: StageState): Promise<boolean> {
    if (state.uncommittedSinceMs === undefined) return true;
    const checkpoint: Checkpoint = {
      version: CHECKPOINT_VERSION,
      nextOffsets: Object.fromEntries(
        [...state.nextOffsets].map(([key, offset]) => [key, String(offset)]),
      ),
      conditions: state.conditions.toJSON(),
      engine: state.engine.toJSON(),
    };
    const moved = [...state.nextOffsets].filter(
      ([key, offset]) => state.committedOffsets.get(key) !== offset,
    );
    const committed = await this.#transactionally(state, () =>
      commitWithCheckpoint(state, {
        stateTopic: this.#options.naming.alertsStateTopic(),
        checkpointKey: this.groupId,
        checkpoint,
        consumerGroupId: this.groupId,
        offsets: this.inputTopics.map((topic) => ({
          topic,
          partitions: moved
            .map(([key, offset]) => ({ ...splitKey(key), offset: String(offset) }))
            .filter((entry) => entry.topic === topic)
            .map(({ partition, offset }) => ({ partition, offset })),
        })),
      }),
    );
    if (!committed) return false;

    state.committedOffsets = new Map(state.nextOffsets);
    for (const done of state.uncommitted.splice(0)) this.#countCommitted(done);
    return true;
  }

  /** Runs a step of the open transaction; on failure the state is dropped (see #drop). */
  async #transactionally(state: StageState, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      await state.transaction?.abort().catch(() => undefined);
      state.transaction = undefined;
      await this.#drop();
      if (!hasKafkaErrorType(error, FENCED_ERROR_TYPES)) throw error;
      this.#logger.warn({ groupId: this.groupId }, 'input taken over by another instance');
      return false;
    }
  }

  /** The state for this generation, restored from the checkpoint when needed. */
  async #stateFor(generation: number): Promise<StageState | undefined> {
    const known = this.#state;
    if (known?.generation === generation) return known;
    if (known !== undefined) {
      await this.#commit(known).catch(() => false);
      await this.#drop();
    }
    if (this.#assigned.length === 0) {
      if (known !== undefined) {
        this.#logger.info({ groupId: this.groupId }, 'alert input moved to another instance');
      }
      return undefined;
    }

    const producer = await this.#fence();
    const saved = assembleCheckpoint(this.groupId, await this.#reader.caughtUp());
    const state = this.#restore(producer, generation, saved?.value);
    state.checkpointChunks = saved?.chunks ?? 0;
    state.catchUpTargets = await this.#inputEnds();
    this.#state = state;
    this.#logger.info(
      {
        restored: saved !== undefined,
        alerts: state.engine.alerts().length,
        nextOffsets: Object.fromEntries([...state.nextOffsets].map(([k, v]) => [k, String(v)])),
      },
      'alert state restored',
    );
    return state;
  }

  /** A transactional producer under the group's id: its first transaction fences the previous owner. */
  async #fence(): Promise<Producer> {
    return fencingProducer(this.#options.kafka, this.groupId);
  }

  #restore(producer: Producer, generation: number, saved: Buffer | undefined): StageState {
    const { rules } = this.#options.rules;
    const base = {
      generation,
      producer,
      transaction: undefined,
      uncommittedSinceMs: undefined,
      uncommitted: [],
      catchUpTargets: undefined,
      catchUpDeadlineMs:
        Date.now() + (this.#options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS),
      checkpointChunks: 0,
    };
    if (saved === undefined) {
      return {
        ...base,
        nextOffsets: new Map(),
        committedOffsets: new Map(),
        conditions: new RuleConditions(rules),
        engine: new AlertEngine(),
      };
    }

    let checkpoint: Checkpoint;
    try {
      checkpoint = JSON.parse(saved.toString('utf8')) as Checkpoint;
    } catch (error) {
      throw new PanaceaError(
        'ALERTS_STATE_INVALID',
        `the alerts checkpoint is not JSON: ${messageOf(error)}`,
      );
    }
    if (checkpoint.version !== CHECKPOINT_VERSION) {
      throw new PanaceaError(
        'ALERTS_STATE_INVALID',
        `the alerts checkpoint: expected version ${CHECKPOINT_VERSION}, got ${checkpoint.version}`,
      );
    }
    const nextOffsets = new Map(
      Object.entries(checkpoint.nextOffsets).map(([key, offset]) => [key, BigInt(offset)]),
    );
    return {
      ...base,
      nextOffsets,
      committedOffsets: new Map(nextOffsets),
      conditions: RuleConditions.restore(rules, checkpoint.conditions),
      engine: AlertEngine.restore(checkpoint.engine),
    };
  }

  /** Where each input partition ends now: evaluation waits until the input is read that far. */
  async #inputEnds(): Promise<Map<string, bigint>> {
    const ends = new Map<string, bigint>();
    for (const topic of this.inputTopics) {
      for (const { partition, high, low } of await this.#options.admin.fetchTopicOffsets(topic)) {
        if (BigInt(high) > BigInt(low)) ends.set(partitionKey(topic, partition), BigInt(high));
      }
    }
    return ends;
  }

  /** Evaluates between batches: `for`, repeats, absences and resolutions need no input. */
  async #tick(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const generation = this.#generation;
    await this.#locks
      .run(LOCK, async () => {
        const state = await this.#stateFor(generation);
        if (state === undefined || this.#abort.signal.aborted) return;
        const nowMs = Date.now();
        const notifications = this.#evaluate(state, nowMs);
        if (notifications.length > 0) {
          if (!(await this.#send(state, this.#notificationMessages(notifications)))) return;
          state.uncommitted.push({ records: 0, deadLetters: [], notifications });
          state.uncommittedSinceMs ??= nowMs;
        }
        if (this.#commitDue(state, nowMs)) await this.#commit(state);
      })
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, 'alerts timer work failed');
      });
  }

  /**
   * Forgets the state. The fetch positions may be past the checkpoint (batches counted into a
   * transaction that will never commit), so they are rewound to the committed offsets.
   */
  async #drop(): Promise<void> {
    const state = this.#state;
    this.#state = undefined;
    if (state === undefined) return;
    if (!this.#abort.signal.aborted) {
      for (const key of this.#assigned) {
        const committed = state.committedOffsets.get(key);
        const next = state.nextOffsets.get(key);
        if (next === undefined || committed === next) continue;
        const { topic, partition } = splitKey(key);
        this.#consumer.seek({ topic, partition, offset: String(committed ?? 0n) });
      }
    }
    await state.producer.disconnect().catch(() => undefined);
  }

  #countCommitted(done: StageState['uncommitted'][number]): void {
    const stats = this.#stats;
    stats.batches += done.records > 0 ? 1 : 0;
    stats.records += done.records;
    stats.deadLettered += done.deadLetters.length;
    for (const deadLetter of done.deadLetters) {
      const code = deadLetter.error.code;
      stats.deadLetteredByCode[code] = (stats.deadLetteredByCode[code] ?? 0) + 1;
      this.#logger.warn(
        { code, ...deadLetter.source, err: deadLetter.error },
        'record dead-lettered',
      );
    }
    const tally = (stats.tallies.notifications ??= {});
    for (const notification of done.notifications) {
      const name = notification.silencedBy.length > 0 ? 'silenced' : notification.state;
      tally[name] = (tally[name] ?? 0) + 1;
    }
  }
}

function readMetricsRecord(value: Buffer | null): MetricsRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value?.toString('utf8') ?? '');
  } catch {
    throw new PanaceaError('DECODE_FAILED', 'the metrics record is not JSON');
  }
  const record = parsed as Partial<MetricsRecord>;
  if (typeof record.record !== 'string' || typeof record.source !== 'string') {
    throw new PanaceaError('CONTRACT_VIOLATION', 'metrics record: record or source missing', {
      field: 'record',
    });
  }
  const document = record.document as { panacea?: { metrics?: unknown } } | undefined;
  if (record.record === 'window' && typeof document?.panacea?.metrics !== 'object') {
    throw new PanaceaError('CONTRACT_VIOLATION', 'metrics record: window figures missing', {
      field: 'document.panacea.metrics',
    });
  }
  return record as MetricsRecord;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

function splitKey(key: string): { topic: string; partition: number } {
  const colon = key.lastIndexOf(':');
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) };
}

const FENCED_ERROR_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);
