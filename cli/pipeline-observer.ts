/**
 * Watches a running pipeline for its metrics and health without touching a record's path: it
 * listens on the stages' diagnostics channels (batches, group membership, archive segments, the
 * metrics stage's committed agent figures) and on the Elasticsearch client's own diagnostics (bulk
 * timings), and reads stats, lag and connections when Prometheus scrapes or `/readyz` is asked.
 *
 * Made before the pipeline starts, so it sees the stages join their groups, then attached to it.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import type { Client } from '@elastic/elasticsearch';

import type { ObservabilityConfig } from '../core/config.js';
import { measureLag } from '../core/consumer-progress.js';
import { messageOf } from '../core/errors.js';
import {
  assessReadiness,
  type ConnectionCheck,
  type GroupState,
  type Readiness,
} from '../core/health.js';
import type { PipelineMetrics, StageLag } from '../core/metrics-registry.js';
import { batchChannel, groupChannel } from '../core/stage-runner.js';
import { agentFiguresChannel } from '../processors/metrics/metrics-stage.js';
import type { StatusChange } from '../processors/metrics/agent-status.js';
import type { TaskRecord } from '../processors/metrics/task-overview.js';
import { segmentChannel } from '../sinks/audit-archive/audit-archive-stage.js';
import type { RunningPipeline } from './pipeline.js';

/** Longest a readiness check waits for Kafka or Elasticsearch to answer, ms. */
const CONNECTION_CHECK_TIMEOUT_MS = 2_000;

interface GroupMessage {
  groupId: string;
  state: GroupState;
  partitions: number;
}

interface BatchMessage {
  stage: string;
  durationMs: number;
}

interface SegmentMessage {
  topic: string;
  sizeBytes: number;
}

interface AgentFiguresMessage {
  changes: StatusChange[];
  tasks: TaskRecord[];
}

/** What the Elasticsearch client's `request` and `response` diagnostics carry that we read. */
interface TransportEvent {
  meta?: { request?: { id?: unknown; params?: { path?: string } } };
}

export class PipelineObserver {
  readonly #metrics: PipelineMetrics;
  readonly #settings: ObservabilityConfig;
  readonly #groups = new Map<string, { state: GroupState; partitions: number }>();
  readonly #bulkStartedAtMs = new Map<unknown, number>();
  #pipeline: RunningPipeline | undefined;
  #detachClient: (() => void) | undefined;

  readonly #onGroup = (message: unknown): void => {
    const { groupId, state, partitions } = message as GroupMessage;
    this.#groups.set(groupId, { state, partitions });
    const stage = this.#pipeline?.stages.find((running) => running.groupId === groupId);
    if (stage !== undefined)
      this.#metrics.setGroupMembership(stage.name, state === 'joined', partitions);
  };

  readonly #onBatch = (message: unknown): void => {
    const { stage, durationMs } = message as BatchMessage;
    this.#metrics.observeBatch(stage, durationMs);
  };

  readonly #onSegment = (message: unknown): void => {
    const { topic, sizeBytes } = message as SegmentMessage;
    this.#metrics.countArchiveSegment(topic, sizeBytes);
  };

  readonly #onAgentFigures = (message: unknown): void => {
    const { changes, tasks } = message as AgentFiguresMessage;
    for (const change of changes) this.#metrics.observeAgentStatus(change.agentId, change.to);
    for (const task of tasks) {
      if (task.state === 'in_progress') continue;
      this.#metrics.observeTaskEnd(task.agentId, task.state, task.durationMs);
    }
  };

  constructor(metrics: PipelineMetrics, settings: ObservabilityConfig) {
    this.#metrics = metrics;
    this.#settings = settings;
    subscribe(groupChannel.name, this.#onGroup);
    subscribe(batchChannel.name, this.#onBatch);
    subscribe(segmentChannel.name, this.#onSegment);
    subscribe(agentFiguresChannel.name, this.#onAgentFigures);
  }

  /** Starts reading the pipeline's stats, lag and clients. */
  attach(pipeline: RunningPipeline): void {
    this.#pipeline = pipeline;
    for (const stage of pipeline.stages) {
      const group = this.#groups.get(stage.groupId);
      this.#metrics.setGroupMembership(
        stage.name,
        group?.state === 'joined',
        group?.partitions ?? 0,
      );
    }
    this.#metrics.readStagesWith(() =>
      pipeline.stages.map((stage) => ({ stage: stage.name, stats: stage.stats() })),
    );
    this.#metrics.readLagWith(() => this.#measureLag(pipeline));
    this.#metrics.readReadyWith(async () => (await this.readiness()).ready);
    this.#detachClient = this.#watchBulkRequests(pipeline.elasticsearch);
  }

  async readiness(): Promise<Readiness> {
    const pipeline = this.#pipeline;
    const unknown: ConnectionCheck = { ok: false, reason: 'the pipeline is not connected yet' };
    const [kafka, elasticsearch] =
      pipeline === undefined
        ? [unknown, unknown]
        : await Promise.all([checkKafka(pipeline), checkElasticsearch(pipeline.elasticsearch)]);
    const readiness = assessReadiness({
      starting: pipeline === undefined,
      kafka,
      elasticsearch,
      maxPauseMs: this.#settings.readyMaxPauseMs,
      stages: (pipeline?.stages ?? []).map((stage) => {
        const group = this.#groups.get(stage.groupId);
        return {
          stage: stage.name,
          groupState: group?.state,
          partitions: group?.partitions ?? 0,
          currentPauseMs: stage.stats().writer?.currentPauseMs,
        };
      }),
    });
    return readiness;
  }

  close(): void {
    unsubscribe(groupChannel.name, this.#onGroup);
    unsubscribe(batchChannel.name, this.#onBatch);
    unsubscribe(segmentChannel.name, this.#onSegment);
    unsubscribe(agentFiguresChannel.name, this.#onAgentFigures);
    this.#detachClient?.();
    this.#metrics.readLagWith(undefined);
    this.#metrics.readReadyWith(undefined);
  }

  async #measureLag(pipeline: RunningPipeline): Promise<StageLag[]> {
    const lags: StageLag[] = [];
    for (const stage of pipeline.stages) {
      const measured = await measureLag(pipeline.admin, {
        groupId: stage.groupId,
        topics: stage.inputTopics,
        consumedPositions: stage.consumedPositions?.bind(stage),
      });
      for (const { topic, partition, lag } of measured) {
        lags.push({ stage: stage.name, topic, partition, lag: Number(lag) });
      }
    }
    return lags;
  }

  /**
   * Times bulk requests through the client's diagnostics, matched by request id: the bulk writer
   * stays as it is, and every writer on this client is timed.
   */
  #watchBulkRequests(client: Client): () => void {
    const isBulk = (event: TransportEvent | null): boolean =>
      event?.meta?.request?.params?.path?.endsWith('/_bulk') ?? false;
    const onRequest = (_error: unknown, event: TransportEvent | null): void => {
      if (isBulk(event)) this.#bulkStartedAtMs.set(event?.meta?.request?.id, performance.now());
    };
    const onResponse = (error: unknown, event: TransportEvent | null): void => {
      const id = event?.meta?.request?.id;
      const startedAtMs = this.#bulkStartedAtMs.get(id);
      if (startedAtMs === undefined) return;
      this.#bulkStartedAtMs.delete(id);
      const outcome = error === null || error === undefined ? 'success' : 'failure';
      this.#metrics.observeBulkRequest(performance.now() - startedAtMs, outcome);
    };
    client.diagnostic.on('request', onRequest);
    client.diagnostic.on('response', onResponse);
    return () => {
      client.diagnostic.off('request', onRequest);
      client.diagnostic.off('response', onResponse);
    };
  }
}

async function checkKafka(pipeline: RunningPipeline): Promise<ConnectionCheck> {
  try {
    await withTimeout(pipeline.admin.describeCluster(), 'Kafka');
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `Kafka does not answer: ${messageOf(error)}` };
  }
}

async function checkElasticsearch(client: Client): Promise<ConnectionCheck> {
  try {
    // Cluster health rather than ping (HEAD /) or info (GET /): the minimal integration-test
    // server refuses both with 405 (see README, "Elasticsearch").
    const health = await client.cluster.health({}, { requestTimeout: CONNECTION_CHECK_TIMEOUT_MS });
    if (health.status === 'red') {
      return { ok: false, reason: 'Elasticsearch answers, but its cluster status is red' };
    }
    return { ok: true };
  } catch (error) {
    const summary = messageOf(error) || (error instanceof Error ? error.name : 'no answer');
    return { ok: false, reason: `Elasticsearch does not answer: ${summary}` };
  }
}

async function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${CONNECTION_CHECK_TIMEOUT_MS} ms`)),
      CONNECTION_CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
