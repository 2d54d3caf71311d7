/**
 * The metrics stage: `agent.events.enriched` in; window results, status changes and task records
 * out to `agent.metrics`; exact through SIGKILL and rebalances, as index.ts's DESIGN describes.
 *
 * It runs its own consumer loop rather than core/stage-runner.ts, because its commit is not an
 * offset commit after a durable write but a Kafka transaction per partition, holding the results
 * of its batches for up to `commitIntervalMs`, then the partition's checkpoint (to
 * `panacea.metrics-state`) and the input offset (`sendOffsets`), committed together. Each input partition has its own transactional producer, whose id names the
 * partition: whoever takes the partition over fences the previous owner before restoring, so a
 * zombie can never commit on top of the restored state.
 *
 * Steps of a batch: restore the partition if this generation has not yet (fence, read the
 * checkpoint, continue from its offset), count the records, take what closed, send the results
 * into the partition's open transaction, and commit it once it has been open for the interval.
 * A timer does the processing-time work between batches: stale agents, closing the windows of a
 * partition that has gone quiet, and committing transactions whose interval has passed.
 */
import { channel } from 'node:diagnostics_channel';

import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  hasKafkaErrorType,
  type Kafka,
  type Producer,
  type TopicMessages,
} from '../../core/kafka.js';
import { assembleCheckpoint } from '../../core/checkpoint-chunks.js';
import { CheckpointReader } from '../../core/checkpoint-reader.js';
import type { MetricsConfig } from '../../core/config.js';
import { toDeadLetterMessage, type DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import type { Naming } from '../../core/naming.js';
import { PartitionLocks } from '../../core/partition-locks.js';
import {
  batchChannel,
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
import type { AgentEvent } from '../../schemas/event.js';
import { AgentStatusTracker, type AgentStatusState, type StatusChange } from './agent-status.js';
import { readEnrichedEvent } from './enriched-event.js';
import type { WindowScope } from './metrics-document.js';
import { statusRecord, taskRecord, windowRecord } from './metrics-records.js';
import { TaskOverview, type TaskOverviewState, type TaskRecord } from './task-overview.js';
import { WindowAggregator, type WindowAggregatorState } from './window-aggregator.js';
import { windowAggregatorOptions } from './window-recomputation.js';

export const METRICS_STAGE = 'metrics';

/**
 * Published once per committed transaction with `{ changes, tasks }`: the status changes and task
 * records it wrote, so the pipeline's Prometheus metrics count each once, as committed.
 */
export const agentFiguresChannel = channel('panacea:metrics:agent-figures');

export interface MetricsStageOptions {
  kafka: Kafka;
  /** A connected admin client, for the checkpoint topic's end. */
  admin: Admin;
  naming: Naming;
  settings: MetricsConfig;
  /** How often the processing-time work runs. Default 1 000 ms. */
  tickIntervalMs?: number;
  /**
   * How long a partition's results may wait in its open transaction before it is committed with
   * the checkpoint and offset. Default 1 000 ms: results show up within about a second, and a
   * busy partition writes its checkpoint once a second instead of once per fetched batch.
   */
  commitIntervalMs?: number;
}

const DEFAULT_COMMIT_INTERVAL_MS = 1_000;

const CHECKPOINT_VERSION = 1;

interface Checkpoint {
  version: typeof CHECKPOINT_VERSION;
  /** The next input offset to read: the offset committed in the same transaction. */
  nextOffset: string;
  windows: WindowAggregatorState;
  status: AgentStatusState;
  tasks: TaskOverviewState;
}

/** A partition's state, and its open transaction (see core/transactional-commit.ts). */
interface PartitionState extends OpenTransaction {
  generation: number;
  partition: number;
  /** `<topic>-<partition>`, the name the core's saved state is checked against. */
  source: string;
  /** The next input offset to count: where the state stands, committed or not. */
  nextOffset: bigint;
  /** The input offset the last committed checkpoint stands on. */
  committedOffset: bigint;
  /** What the batches since the last commit counted, for the stats once committed. */
  uncommitted: { records: number; counted: Counted; durationMs: number }[];
  windows: WindowAggregator;
  status: AgentStatusTracker;
  tasks: TaskOverview;
  /** Processing time of the last input record, for closing the windows of a quiet partition. */
  lastInputAtMs: number;
  /** What the open transaction wrote, for agentFiguresChannel once it commits. */
  written: { changes: StatusChange[]; tasks: TaskRecord[] };
}

export async function startMetricsStage(options: MetricsStageOptions): Promise<RunningStage> {
  const stage = new MetricsStage(options);
  await stage.start();
  return {
    name: METRICS_STAGE,
    groupId: stage.groupId,
    inputTopics: [stage.inputTopic],
    finished: stage.finished,
    stop: () => stage.stop(),
    stats: () => stage.stats(),
  };
}

class MetricsStage {
  readonly groupId: string;
  readonly inputTopic: string;
  readonly finished: Promise<void>;
  readonly #options: MetricsStageOptions;
  readonly #logger: Logger = componentLogger(`stage.${METRICS_STAGE}`);
  readonly #consumer: Consumer;
  readonly #reader: CheckpointReader;
  readonly #abort = new AbortController();
  readonly #resolveFinished: () => void;
  readonly #stats: StageStats = {
    batches: 0,
    records: 0,
    deadLettered: 0,
    deadLetteredByCode: {},
    // Late events by kind: stored as events by the sink, left out of their closed windows.
    // ... and events stamped too far ahead of their record, left out likewise.
    tallies: { late: {}, future: {} },
  };
  readonly #partitions = new Map<number, PartitionState>();
  /** Per partition, the work in hand: a batch and the timer's work never overlap. */
  readonly #locks = new PartitionLocks();
  #generation = 0;
  /** The input partitions of the current generation. */
  #assigned: number[] = [];
  #ticking = false;
  #windowsWritten = 0;
  #statusChanges = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The producers fenced at the start of a generation, until their partition is restored. */
  #fencing: { generation: number; producers: Promise<Map<number, Producer>> } | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: MetricsStageOptions) {
    this.#options = options;
    this.groupId = options.naming.consumerGroup(METRICS_STAGE);
    this.inputTopic = options.naming.enrichedTopic();
    this.#consumer = options.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: 1_000,
      sessionTimeout: SESSION_TIMEOUT_MS,
      allowAutoTopicCreation: false,
    });
    this.#reader = new CheckpointReader({
      kafka: options.kafka,
      admin: options.admin,
      topic: options.naming.metricsStateTopic(),
      groupIdPrefix: options.naming.consumerGroup(`${METRICS_STAGE}-state-reader`),
    });
    const watched = watchConsumer(this.#consumer, this.#logger, this.groupId, this.#abort.signal);
    this.finished = watched.finished;
    this.#resolveFinished = watched.resolveFinished;
    this.finished.catch(() => undefined);
  }

  async start(): Promise<void> {
    // Every new generation restores from the checkpoints: a partition this instance kept may have
    // been another's in between, and the checkpoint is exactly what the committed offset says.
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#generation += 1;
      this.#assigned = [...(payload.memberAssignment[this.inputTopic] ?? [])].sort((a, b) => a - b);
    });

    await this.#reader.start();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [this.inputTopic], fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: (payload) => this.#handleBatch(payload),
    });
    this.#timer = setInterval(() => void this.#tick(), this.#options.tickIntervalMs ?? 1_000);
    this.#logger.info(
      {
        groupId: this.groupId,
        inputTopics: [this.inputTopic],
        outputTopic: this.#options.naming.metricsTopic(),
        ...this.#options.settings,
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
      // Committed while the partitions are still ours, so a clean stop leaves nothing to redo.
      await this.#locks.finishEach(
        () => this.#partitions.keys(),
        async (partition) => {
          const state = this.#partitions.get(partition);
          if (state !== undefined) await this.#commit(state);
        },
      );
      await this.#consumer.disconnect();
      this.#resolveFinished();
      await this.#locks.settled();
      await Promise.allSettled([...this.#partitions.values()].map((s) => s.producer.disconnect()));
      if (this.#fencing !== undefined) await disconnectAll(this.#fencing.producers);
      await this.#reader.close();
      this.#logger.info(
        {
          groupId: this.groupId,
          windowsWritten: this.#windowsWritten,
          statusChanges: this.#statusChanges,
          ...this.#stats,
        },
        'stage stopped',
      );
    })();
    return this.#stopping;
  }

  async #handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || this.#abort.signal.aborted) return;

    const generation = this.#generation;
    const counted = await this.#locks.run(batch.partition, async () => {
      const state = await this.#stateFor(batch.partition, generation);
      if (state === undefined || this.#abort.signal.aborted) return false;
      const records = batch.messages
        // Below the checkpoint: read again because the commit of the offset that went with it
        // became visible after the fetch; already counted.
        .filter((message) => BigInt(message.offset) >= state.nextOffset)
        .map((message) => stageRecordOf(batch, message));
      const nextOffset = BigInt(batch.lastOffset()) + 1n;
      // Wholly below the checkpoint: nothing to count, and writing this offset would move the
      // committed one back behind records already counted.
      if (nextOffset <= state.nextOffset) return true;

      const nowMs = Date.now();
      const startedAtMs = performance.now();
      const counted = await this.#droppingOnError(state, () => this.#count(state, records, nowMs));
      const results = await this.#droppingOnError(state, () =>
        this.#collect(state, counted, nowMs),
      );
      const deadLetterMessages = counted.deadLetters.map((deadLetter) => ({
        topic: this.#options.naming.deadLetterTopic(deadLetter.source.topic),
        messages: [toDeadLetterMessage(deadLetter, METRICS_STAGE, nowMs)],
      }));
      if (!(await this.#send(state, [...results, ...deadLetterMessages]))) return false;

      state.nextOffset = nextOffset;
      const durationMs = performance.now() - startedAtMs;
      state.uncommitted.push({ records: records.length, counted, durationMs });
      state.uncommittedSinceMs ??= nowMs;
      return this.#commitDue(state, nowMs) ? this.#commit(state) : true;
    });

    // Resolved once counted, committed or not: the fetch moves on, and a state dropped before its
    // commit rewinds the fetch to its checkpoint (see #drop).
    if (!counted) return;
    payload.resolveOffset(batch.lastOffset());
    await payload.heartbeat();
  }

  /** Feeds the records into the partition's state. */
  #count(state: PartitionState, records: StageRecord[], nowMs: number): Counted {
    const counted = emptyCounted();

    for (const record of records) {
      let event: AgentEvent;
      try {
        event = readEnrichedEvent(record.value);
      } catch (error) {
        if (!(error instanceof PanaceaError) || error.retriable) throw error;
        counted.deadLetters.push(deadLetterFor(record, error));
        continue;
      }
      // The enriched record's timestamp is the enrich stage's clock when it wrote the record: a
      // reference for the agent's clock that is in the log, so a replay decides the same.
      const outcome = state.windows.add(event, record.timestampMs);
      if (outcome !== 'counted') {
        const byKind = outcome === 'late' ? counted.lateByKind : counted.futureByKind;
        byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
      }
      counted.changes.push(...state.status.observe(event, nowMs));
      const task = state.tasks.observe(event, nowMs);
      if (task !== undefined) counted.tasks.push(task);
      counted.agents.add(event.agent.id);
      if (event.workflowId !== undefined) counted.workflows.add(event.workflowId);
    }
    if (records.length > 0) state.lastInputAtMs = nowMs;
    return counted;
  }

  /**
   * The results to write: windows the watermark closed, the open windows the records touched,
   * status changes (with agents gone stale by now) and changed tasks.
   */
  #collect(state: PartitionState, counted: Counted, nowMs: number): TopicMessages[] {
    const version = Number(state.nextOffset);
    const changes = [...counted.changes, ...state.status.checkStale(nowMs)];
    state.tasks.forgetEnded(nowMs);
    const touched = (scope: WindowScope, subjectId: string): boolean =>
      (scope === 'agent' ? counted.agents : counted.workflows).has(subjectId);
    const windows = [
      ...state.windows.takeClosedWindows(),
      ...(counted.agents.size === 0 ? [] : state.windows.openWindows(touched)),
    ];

    const messages = [
      ...windows.map((result) => windowRecord(result, state.source, version)),
      ...changes.map((change) => statusRecord(change, state.source, version)),
      ...counted.tasks.map((task) => taskRecord(task, state.source, version)),
    ];
    this.#windowsWritten += windows.length;
    this.#statusChanges += changes.length;
    state.written.changes.push(...changes);
    state.written.tasks.push(...counted.tasks);
    return messages.length === 0 ? [] : [{ topic: this.#options.naming.metricsTopic(), messages }];
  }

  /** Sends results into the partition's open transaction, opening one when none is. */
  async #send(state: PartitionState, messages: TopicMessages[]): Promise<boolean> {
    return this.#transactionally(state, () => sendInTransaction(state, messages));
  }

  #commitDue(state: PartitionState, nowMs: number): boolean {
    return commitIsDue(state, nowMs, this.#options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS);
  }

  /**
   * Ends the open transaction with the checkpoint and the input offset, so the results, the state
   * they came from and the offset it stands on become visible together. False when the partition
   * was taken over meanwhile (this producer is fenced): the state is dropped, and whoever holds
   * the partition next restores from the last committed checkpoint.
   */
  async #commit(state: PartitionState): Promise<boolean> {
    if (state.uncommittedSinceMs === undefined) return true;
    const checkpoint: Checkpoint = {
      version: CHECKPOINT_VERSION,
      nextOffset: String(state.nextOffset),
      windows: state.windows.toJSON(),
      status: state.status.toJSON(),
      tasks: state.tasks.toJSON(),
    };
    const offsetMoved = state.nextOffset !== state.committedOffset;
    const committed = await this.#transactionally(state, () =>
      commitWithCheckpoint(state, {
        stateTopic: this.#options.naming.metricsStateTopic(),
        checkpointKey: this.#checkpointKey(state.partition),
        checkpoint,
        consumerGroupId: this.groupId,
        offsets: offsetMoved
          ? [
              {
                topic: this.inputTopic,
                partitions: [{ partition: state.partition, offset: String(state.nextOffset) }],
              },
            ]
          : [],
      }),
    );
    if (!committed) return false;

    state.committedOffset = state.nextOffset;
    if (agentFiguresChannel.hasSubscribers) agentFiguresChannel.publish(state.written);
    state.written = { changes: [], tasks: [] };
    for (const { records, counted, durationMs } of state.uncommitted.splice(0)) {
      this.#countBatch(records, counted);
      if (batchChannel.hasSubscribers) {
        const { partition } = state;
        const deadLettered = counted.deadLetters.length;
        const topic = this.inputTopic;
        batchChannel.publish({
          stage: METRICS_STAGE,
          topic,
          partition,
          records,
          deadLettered,
          durationMs,
        });
      }
    }
    return true;
  }

  /**
   * Runs a step of the open transaction. When it fails, the transaction is aborted and the state,
   * now ahead of any checkpoint, is dropped; a fenced producer (the partition taken over) gives
   * false, anything else is thrown.
   */
  async #transactionally(state: PartitionState, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      await state.transaction?.abort().catch(() => undefined);
      state.transaction = undefined;
      await this.#drop(state.partition);
      if (!isFenced(error)) throw error;
      this.#logger.warn(
        { topic: this.inputTopic, partition: state.partition },
        'partition taken over by another instance; transaction aborted',
      );
      return false;
    }
  }

  /** The partition's state for this generation, restored from its checkpoint when needed. */
  async #stateFor(partition: number, generation: number): Promise<PartitionState | undefined> {
    const known = this.#partitions.get(partition);
    if (known?.generation === generation) return known;
    if (known !== undefined) {
      // Safe even if the partition has moved: its new owner reads the checkpoint only after
      // fencing this producer, so it sees this commit or this commit fails.
      await this.#commit(known).catch(() => false);
      await this.#drop(partition);
    }

    const source = `${this.inputTopic}-${partition}`;
    const producer = await this.#fencedProducer(partition, generation);
    const saved = assembleCheckpoint(this.#checkpointKey(partition), await this.#reader.caughtUp());
    const state = this.#restore(partition, source, producer, generation, saved?.value);
    state.checkpointChunks = saved?.chunks ?? 0;
    this.#partitions.set(partition, state);
    this.#logger.info(
      {
        topic: this.inputTopic,
        partition,
        nextOffset: String(state.nextOffset),
        restored: !!saved,
      },
      'partition state restored',
    );
    return state;
  }

  /**
   * The partition's transactional producer, its previous owner fenced. The first call of a
   * generation fences every newly assigned partition at once, because reading a checkpoint waits
   * for the state topic's last stable offset, and an open transaction of a killed owner holds that
   * back for every partition until its own partition is fenced (or the transaction times out, a
   * minute later). Fenced one by one, the first restore would wait on partitions whose turn comes
   * after it. Partitions this instance still holds are left alone: their open transaction is ours
   * and ends by itself.
   */
  async #fencedProducer(partition: number, generation: number): Promise<Producer> {
    if (generation === this.#generation && this.#fencing?.generation !== generation) {
      const previous = this.#fencing;
      const newlyAssigned = this.#assigned.filter((other) => !this.#partitions.has(other));
      this.#fencing = { generation, producers: this.#fenceAll(newlyAssigned) };
      if (previous !== undefined) void disconnectAll(previous.producers);
    }
    const fenced = generation === this.#fencing?.generation ? await this.#fencing.producers : null;
    const producer = fenced?.get(partition);
    if (producer === undefined) return this.#fence(partition);
    fenced?.delete(partition);
    return producer;
  }

  /** Fences each partition; one that fails is left out, to be fenced again on its own. */
  async #fenceAll(partitions: number[]): Promise<Map<number, Producer>> {
    const settled = await Promise.allSettled(partitions.map((partition) => this.#fence(partition)));
    const producers = new Map<number, Producer>();
    settled.forEach((outcome, index) => {
      const partition = partitions[index];
      if (outcome.status === 'fulfilled' && partition !== undefined) {
        producers.set(partition, outcome.value);
      }
    });
    return producers;
  }

  async #fence(partition: number): Promise<Producer> {
    return fencingProducer(this.#options.kafka, `${this.groupId}-${this.inputTopic}-${partition}`);
  }

  #restore(
    partition: number,
    source: string,
    producer: Producer,
    generation: number,
    saved: Buffer | undefined,
  ): PartitionState {
    const { settings } = this.#options;
    const windowOptions = windowAggregatorOptions(settings, source);
    const statusOptions = { staleAfterMs: settings.staleAfterMs };
    const taskOptions = { stuckAfterMs: settings.stuckAfterMs };
    const base = {
      generation,
      partition,
      source,
      producer,
      lastInputAtMs: Date.now(),
      checkpointChunks: 0,
      transaction: undefined,
      uncommittedSinceMs: undefined,
      uncommitted: [],
      written: { changes: [], tasks: [] },
    };
    if (saved === undefined) {
      return {
        ...base,
        nextOffset: 0n,
        committedOffset: 0n,
        windows: new WindowAggregator(windowOptions),
        status: new AgentStatusTracker(statusOptions),
        tasks: new TaskOverview(taskOptions),
      };
    }

    const checkpoint = JSON.parse(saved.toString('utf8')) as Checkpoint;
    if (checkpoint.version !== CHECKPOINT_VERSION) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `checkpoint of ${source}: expected version ${CHECKPOINT_VERSION}, got ${checkpoint.version}`,
        { topic: this.inputTopic, partition },
      );
    }
    return {
      ...base,
      nextOffset: BigInt(checkpoint.nextOffset),
      committedOffset: BigInt(checkpoint.nextOffset),
      windows: WindowAggregator.restore(windowOptions, checkpoint.windows),
      status: AgentStatusTracker.restore(statusOptions, checkpoint.status),
      tasks: TaskOverview.restore(taskOptions, checkpoint.tasks),
    };
  }

  /**
   * Processing-time work of each partition held: agents silent past the stale time, and the
   * windows of a partition quiet for a window and the lateness (no event will come to close
   * them). Only partitions restored in this generation; written like a batch, without an offset.
   */
  async #tick(): Promise<void> {
    if (this.#ticking || this.#abort.signal.aborted) return;
    this.#ticking = true;
    try {
      const generation = this.#generation;
      for (const partition of this.#partitions.keys()) {
        if (!this.#assigned.includes(partition)) {
          await this.#locks.run(partition, () => this.#drop(partition));
        }
      }
      for (const partition of this.#assigned) {
        if (this.#abort.signal.aborted || generation !== this.#generation) return;
        await this.#locks
          .run(partition, () => this.#timedWork(partition, generation))
          .catch((error: unknown) => {
            this.#logger.error({ err: error, partition }, 'metrics timer work failed');
          });
      }
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Processing-time work of one partition held: agents silent past the stale time, and the open
   * windows of a partition quiet for a window and the lateness (no event will come to close
   * them). A partition not restored yet is restored first, so a silent agent is noticed after a
   * restart even when its partition gets no record. Written like a batch, without an offset.
   */
  async #timedWork(partition: number, generation: number): Promise<void> {
    const { windowSizeMs, allowedLatenessMs } = this.#options.settings;
    const state = await this.#stateFor(partition, generation);
    if (state === undefined) return;

    const nowMs = Date.now();
    const results = await this.#droppingOnError(state, () => {
      if (nowMs - state.lastInputAtMs >= windowSizeMs + allowedLatenessMs) {
        const latestEndMs = state.windows.latestOpenWindowEndMs();
        if (latestEndMs !== undefined) state.windows.advanceWatermark(latestEndMs);
      }
      return this.#collect(state, emptyCounted(), nowMs);
    });
    if (!(await this.#send(state, results))) return;
    if (this.#commitDue(state, nowMs)) await this.#commit(state);
  }

  /**
   * Runs work that changes the partition's state ahead of its commit; when it throws, the state
   * no longer matches any checkpoint, so it is dropped and the next batch restores it.
   */
  async #droppingOnError<T>(state: PartitionState, work: () => T): Promise<T> {
    try {
      return work();
    } catch (error) {
      await this.#drop(state.partition);
      throw error;
    }
  }

  /**
   * Forgets the partition's state. Its fetch position may be past the checkpoint (batches counted
   * into a transaction that will never commit now), so it is rewound to the checkpoint's offset;
   * kafkajs ignores that for a partition no longer assigned.
   */
  async #drop(partition: number): Promise<void> {
    const state = this.#partitions.get(partition);
    this.#partitions.delete(partition);
    if (state === undefined) return;
    if (state.nextOffset !== state.committedOffset && !this.#abort.signal.aborted) {
      this.#consumer.seek({
        topic: this.inputTopic,
        partition,
        offset: String(state.committedOffset),
      });
    }
    await state.producer.disconnect().catch(() => undefined);
  }

  #checkpointKey(partition: number): string {
    return `${this.groupId}:${this.inputTopic}:${partition}`;
  }

  /** Counts a committed batch, so a batch written again after a failure counts once. */
  #countBatch(records: number, counted: Counted): void {
    const stats = this.#stats;
    stats.batches += 1;
    stats.records += records;
    stats.deadLettered += counted.deadLetters.length;
    for (const deadLetter of counted.deadLetters) {
      const code = deadLetter.error.code;
      stats.deadLetteredByCode[code] = (stats.deadLetteredByCode[code] ?? 0) + 1;
      this.#logger.warn(
        { code, ...deadLetter.source, err: deadLetter.error },
        'record dead-lettered',
      );
    }
    for (const [tally, byKind] of [
      ['late', counted.lateByKind],
      ['future', counted.futureByKind],
    ] as const) {
      const sums = (stats.tallies[tally] ??= {});
      for (const [kind, count] of Object.entries(byKind)) sums[kind] = (sums[kind] ?? 0) + count;
    }
  }
}

interface Counted {
  deadLetters: DeadLetter[];
  lateByKind: Record<string, number>;
  /** Events stamped too far after their record reached Kafka: left out of the windows. */
  futureByKind: Record<string, number>;
  changes: StatusChange[];
  tasks: TaskRecord[];
  agents: Set<string>;
  workflows: Set<string>;
}

function emptyCounted(): Counted {
  return {
    deadLetters: [],
    lateByKind: {},
    futureByKind: {},
    changes: [],
    tasks: [],
    agents: new Set(),
    workflows: new Set(),
  };
}

async function disconnectAll(producers: Promise<Map<number, Producer>>): Promise<void> {
  const left = await producers.catch(() => new Map<number, Producer>());
  await Promise.allSettled([...left.values()].map((producer) => producer.disconnect()));
  left.clear();
}

const FENCED_ERROR_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

function isFenced(error: unknown): boolean {
  return hasKafkaErrorType(error, FENCED_ERROR_TYPES);
}
