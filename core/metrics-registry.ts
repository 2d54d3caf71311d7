/**
 * The pipeline's own Prometheus metrics: one registry per process, its metric families, and the
 * small functions the stages' observers call. Figures a stage already counts (its stats) are read
 * when Prometheus scrapes, so nothing here sits on a record's path; timings arrive through the
 * diagnostics channels (see cli/pipeline-observer.ts). Every family and its labels are listed in
 * the README, "Operating Panacea".
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
} from 'prom-client';

import { BoundedLabels } from './bounded-labels.js';
import { DEFAULT_OBSERVABILITY_CONFIG } from './config.js';
import type { StageStats } from './stage-runner.js';

export const METRIC_PREFIX = 'panacea_';

/** Seconds: from a fast batch (a few ms) to an Elasticsearch request near its 10 s timeout. */
const REQUEST_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: agent tasks run from a tool call to a long job. */
const TASK_BUCKETS_SECONDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** What a scrape reads of one stage. */
export interface StageSnapshot {
  stage: string;
  stats: StageStats;
}

/** Lag of one input partition of one stage, in records. */
export interface StageLag {
  stage: string;
  topic: string;
  partition: number;
  lag: number;
}

export type TaskOutcome = 'succeeded' | 'failed';

/** How one webhook delivery ended, as `panacea_webhook_deliveries_total` counts it. */
export type WebhookDeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dead_lettered';

export interface PipelineMetricsOptions {
  /** Agents with a label of their own; the rest count under `agent="other"`. Default 50. */
  maxTrackedAgents?: number;
  /** Longest a scrape waits for the consumer lag, ms. Default 5 000. */
  lagTimeoutMs?: number;
}

export class PipelineMetrics {
  readonly registry = new Registry();
  readonly #agentLabels: BoundedLabels;
  /** Every agent's current status, for the per-status counts of the agents under `other`. */
  readonly #statusByAgent = new Map<string, string>();
  readonly #lagTimeoutMs: number;
  #readStages: () => StageSnapshot[] = () => [];
  #readLag: (() => Promise<StageLag[]>) | undefined;
  #readReady: (() => Promise<boolean>) | undefined;

  readonly #batchDuration: Histogram<'stage'>;
  readonly #bulkDuration: Histogram<'outcome'>;
  readonly #groupState: Gauge<'stage'>;
  readonly #assignedPartitions: Gauge<'stage'>;
  readonly #archiveSegments: Counter<'topic'>;
  readonly #archiveBytes: Counter<'topic'>;
  readonly #agentStatus: Gauge<'agent' | 'status'>;
  readonly #agentTasks: Counter<'agent' | 'outcome'>;
  readonly #agentTaskDuration: Histogram<'agent' | 'outcome'>;
  readonly #webhookDeliveries: Counter<'destination' | 'outcome'>;
  readonly #lagFailures: Counter;

  constructor(options: PipelineMetricsOptions = {}) {
    this.#agentLabels = new BoundedLabels(
      options.maxTrackedAgents ?? DEFAULT_OBSERVABILITY_CONFIG.maxTrackedAgents,
    );
    this.#lagTimeoutMs = options.lagTimeoutMs ?? 5_000;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });

    this.#defineStageTotals();
    this.#defineWriterFigures();
    this.#defineLag();
    this.#batchDuration = new Histogram({
      name: 'panacea_stage_batch_duration_seconds',
      help: 'Time a stage took to handle a batch of one partition, committed batches only.',
      labelNames: ['stage'],
      buckets: REQUEST_BUCKETS_SECONDS,
      registers,
    });
    this.#bulkDuration = new Histogram({
      name: 'panacea_elasticsearch_bulk_duration_seconds',
      help: 'Time of one Elasticsearch bulk request, by outcome (success or failure).',
      labelNames: ['outcome'],
      buckets: REQUEST_BUCKETS_SECONDS,
      registers,
    });
    this.#groupState = new Gauge({
      name: 'panacea_stage_up',
      help: "1 while the stage's consumer is a member of its group, 0 otherwise.",
      labelNames: ['stage'],
      registers,
    });
    this.#assignedPartitions = new Gauge({
      name: 'panacea_stage_assigned_partitions',
      help: 'Input partitions assigned to this instance of the stage.',
      labelNames: ['stage'],
      registers,
    });
    const readReady = (): Promise<boolean> => this.#readReady?.() ?? Promise.resolve(false);
    new Gauge({
      name: 'panacea_ready',
      help: '1 when the readiness check (the one of /readyz) passes at scrape time, 0 otherwise.',
      registers,
      async collect() {
        this.set((await readReady()) ? 1 : 0);
      },
    });
    this.#archiveSegments = new Counter({
      name: 'panacea_archive_segments_total',
      help: 'Audit archive segments sealed.',
      labelNames: ['topic'],
      registers,
    });
    this.#archiveBytes = new Counter({
      name: 'panacea_archive_bytes_total',
      help: 'Bytes of the audit archive segments sealed.',
      labelNames: ['topic'],
      registers,
    });
    this.#agentStatus = new Gauge({
      name: 'panacea_agent_status',
      help: 'Agents in each status: 0 or 1 for a tracked agent, a count under agent="other".',
      labelNames: ['agent', 'status'],
      registers,
    });
    this.#agentTasks = new Counter({
      name: 'panacea_agent_tasks_total',
      help: 'Agent tasks ended, by outcome.',
      labelNames: ['agent', 'outcome'],
      registers,
    });
    this.#agentTaskDuration = new Histogram({
      name: 'panacea_agent_task_duration_seconds',
      help: 'Duration of ended agent tasks that reported one, by outcome.',
      labelNames: ['agent', 'outcome'],
      buckets: TASK_BUCKETS_SECONDS,
      registers,
    });
    this.#webhookDeliveries = new Counter({
      name: 'panacea_webhook_deliveries_total',
      help: 'Alert deliveries to webhooks, by destination and outcome.',
      labelNames: ['destination', 'outcome'],
      registers,
    });
    this.#lagFailures = new Counter({
      name: 'panacea_consumer_lag_failures_total',
      help: 'Scrapes that could not measure the consumer lag (Kafka slow or away).',
      registers,
    });
    const agentLabels = this.#agentLabels;
    new Gauge({
      name: 'panacea_agents_tracked',
      help: 'Agents with a label of their own in the agent metrics (at most the configured bound).',
      registers,
      collect() {
        this.set(agentLabels.trackedCount);
      },
    });
  }

  /** Where a scrape reads the stages' stats from. */
  readStagesWith(read: () => StageSnapshot[]): void {
    this.#readStages = read;
  }

  /** Where a scrape reads the consumer lag from; without it, the lag family stays empty. */
  readLagWith(read: (() => Promise<StageLag[]>) | undefined): void {
    this.#readLag = read;
  }

  observeBatch(stage: string, durationMs: number): void {
    this.#batchDuration.observe({ stage }, durationMs / 1000);
  }

  observeBulkRequest(durationMs: number, outcome: 'success' | 'failure'): void {
    this.#bulkDuration.observe({ outcome }, durationMs / 1000);
  }

  setGroupMembership(stage: string, member: boolean, partitions: number): void {
    this.#groupState.set({ stage }, member ? 1 : 0);
    this.#assignedPartitions.set({ stage }, partitions);
  }

  /** Where a scrape reads readiness from; without it, `panacea_ready` is 0. */
  readReadyWith(read: (() => Promise<boolean>) | undefined): void {
    this.#readReady = read;
  }

  countArchiveSegment(topic: string, sizeBytes: number): void {
    this.#archiveSegments.inc({ topic });
    this.#archiveBytes.inc({ topic }, sizeBytes);
  }

  /** An agent's status changed (see processors/metrics/agent-status.ts). */
  observeAgentStatus(agentId: string, status: string): void {
    const agent = this.#agentLabels.labelFor(agentId);
    const previous = this.#statusByAgent.get(agentId);
    if (previous === status) return;

    if (previous !== undefined) this.#agentStatus.dec({ agent, status: previous });
    this.#agentStatus.inc({ agent, status });
    this.#statusByAgent.set(agentId, status);
  }

  /** An agent's task ended; `durationMs` when the agent reported it. */
  observeTaskEnd(agentId: string, outcome: TaskOutcome, durationMs: number | undefined): void {
    const agent = this.#agentLabels.labelFor(agentId);
    this.#agentTasks.inc({ agent, outcome });
    if (durationMs !== undefined) {
      this.#agentTaskDuration.observe({ agent, outcome }, durationMs / 1000);
    }
  }

  countWebhookDelivery(destination: string, outcome: WebhookDeliveryOutcome): void {
    this.#webhookDeliveries.inc({ destination, outcome });
  }

  /** The exposition text and its content type, for `/metrics`. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Counts every stage keeps in its stats, set from them at each scrape. They only grow while a
   * stage runs; a stage started again in the same process starts from 0, which Prometheus's
   * rate() takes as a counter reset.
   */
  #defineStageTotals(): void {
    const readStages = (): StageSnapshot[] => this.#readStages();
    const registers = [this.registry];
    const fromStats = (
      configuration: Omit<CounterConfiguration<string>, 'collect' | 'registers'>,
      fill: (counter: Counter<string>, snapshot: StageSnapshot) => void,
    ): void => {
      new Counter({
        ...configuration,
        registers,
        collect() {
          this.reset();
          for (const snapshot of readStages()) fill(this, snapshot);
        },
      });
    };

    fromStats(
      {
        name: 'panacea_stage_records_in_total',
        help: 'Records a stage read and committed.',
        labelNames: ['stage'],
      },
      (counter, { stage, stats }) => counter.inc({ stage }, stats.records),
    );
    fromStats(
      {
        name: 'panacea_stage_records_out_total',
        help: 'Records a stage committed and passed on to its output (read minus dead-lettered).',
        labelNames: ['stage'],
      },
      (counter, { stage, stats }) => counter.inc({ stage }, stats.records - stats.deadLettered),
    );
    fromStats(
      {
        name: 'panacea_stage_dead_lettered_total',
        help: 'Records a stage refused and wrote to a dead-letter topic, by error code.',
        labelNames: ['stage', 'code'],
      },
      (counter, { stage, stats }) => {
        for (const [code, count] of Object.entries(stats.deadLetteredByCode)) {
          counter.inc({ stage, code }, count);
        }
      },
    );
    fromStats(
      {
        name: 'panacea_stage_batches_total',
        help: 'Batches a stage committed.',
        labelNames: ['stage'],
      },
      (counter, { stage, stats }) => counter.inc({ stage }, stats.batches),
    );
  }

  /** The Elasticsearch writers' live figures (see WriterStats), for the stages that have one. */
  #defineWriterFigures(): void {
    const readWriters = (): { stage: string; writer: NonNullable<StageStats['writer']> }[] =>
      this.#readStages().flatMap(({ stage, stats }) =>
        stats.writer === undefined ? [] : [{ stage, writer: stats.writer }],
      );
    const registers = [this.registry];

    new Counter({
      name: 'panacea_writer_documents_total',
      help: 'Documents a writer finished, by result: indexed, duplicate (409) or refused.',
      labelNames: ['stage', 'result'],
      registers,
      collect() {
        this.reset();
        for (const { stage, writer } of readWriters()) {
          this.inc({ stage, result: 'indexed' }, writer.indexed);
          this.inc({ stage, result: 'duplicate' }, writer.duplicates);
          this.inc({ stage, result: 'refused' }, writer.refused);
        }
      },
    });
    new Counter({
      name: 'panacea_writer_retries_total',
      help: 'Documents a writer sent again after a retriable refusal or a failed request.',
      labelNames: ['stage'],
      registers,
      collect() {
        this.reset();
        for (const { stage, writer } of readWriters()) this.inc({ stage }, writer.retried);
      },
    });
    new Counter({
      name: 'panacea_writer_paused_seconds_total',
      help: 'Time a writer held its input because Elasticsearch did not answer.',
      labelNames: ['stage'],
      registers,
      collect() {
        this.reset();
        for (const { stage, writer } of readWriters()) this.inc({ stage }, writer.pausedMs / 1000);
      },
    });
    new Gauge({
      name: 'panacea_writer_current_pause_seconds',
      help: 'How long the current Elasticsearch outage has held the writer; 0 when it answers.',
      labelNames: ['stage'],
      registers,
      collect() {
        this.reset();
        for (const { stage, writer } of readWriters()) {
          this.set({ stage }, (writer.currentPauseMs ?? 0) / 1000);
        }
      },
    });
    new Gauge({
      name: 'panacea_writer_documents_in_flight',
      help: 'Documents in bulk requests sent and not answered yet.',
      labelNames: ['stage'],
      registers,
      collect() {
        this.reset();
        for (const { stage, writer } of readWriters())
          this.set({ stage }, writer.documentsInFlight);
      },
    });
  }

  #defineLag(): void {
    const measureLag = (): Promise<StageLag[] | undefined> => this.#measureLag();
    new Gauge({
      name: 'panacea_consumer_lag_records',
      help: "Records on a stage's input partition not yet committed by the stage.",
      labelNames: ['stage', 'topic', 'partition'],
      registers: [this.registry],
      async collect() {
        const lags = await measureLag();
        // Unmeasured: the last values stay, and the failure counter says the scrape missed.
        if (lags === undefined) return;
        this.reset();
        for (const { stage, topic, partition, lag } of lags) {
          this.set({ stage, topic, partition: String(partition) }, lag);
        }
      },
    });
  }

  async #measureLag(): Promise<StageLag[] | undefined> {
    if (this.#readLag === undefined) return [];

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#lagTimeoutMs);
    });
    try {
      const lags = await Promise.race([this.#readLag(), timedOut]);
      if (lags === undefined) this.#lagFailures.inc();
      return lags;
    } catch {
      this.#lagFailures.inc();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

let processMetrics: PipelineMetrics | undefined;

/**
 * The process's metrics, made on the first call with `options` (later options are ignored):
 * `panacea run` makes it first with its configuration, stages and sinks then only count into it.
 */
export function pipelineMetrics(options?: PipelineMetricsOptions): PipelineMetrics {
  processMetrics ??= new PipelineMetrics(options);
  return processMetrics;
}

/**
 * Counts one webhook delivery into `panacea_webhook_deliveries_total{destination,outcome}`, for
 * sinks/webhooks. `destination` must come from configuration (a name, not a URL with secrets),
 * which also keeps the label bounded.
 */
export function countWebhookDelivery(destination: string, outcome: WebhookDeliveryOutcome): void {
  pipelineMetrics().countWebhookDelivery(destination, outcome);
}
