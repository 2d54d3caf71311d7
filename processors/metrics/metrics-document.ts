/**
 * The metrics document: the figures of one window for one agent or one workflow, as the
 * `agent.metrics` topic carries them and Elasticsearch stores them (`metrics-agent.*`).
 *
 * Identity: `_id` is `agent:<agent id>:<window start>` or `workflow:<workflow id>:<window start>`,
 * the start in RFC 3339 UTC with milliseconds (`agent:a-7:2026-01-15T09:30:00.000Z`). The same
 * window always gets the same id, so a recomputed window (an open window's update, a replay after
 * a crash) overwrites its document instead of adding one. Ids never clash across scopes, and the
 * start has a fixed length, so the id reads unambiguously from the right even when an agent id
 * holds a colon.
 *
 * Shape (ECS where ECS has a field, Panacea's own under `panacea.metrics`):
 *
 * | field                                           | meaning                                                       |
 * | ----------------------------------------------- | ------------------------------------------------------------- |
 * | `@timestamp`                                    | window start                                                  |
 * | `event.kind`, `event.dataset`, `event.module`   | `metric`, `agent.metrics`, `panacea`                          |
 * | `event.start`, `event.end`, `event.duration`    | window start and end (end exclusive), size in nanoseconds     |
 * | `gen_ai.agent.id`                               | the agent (agent scope only)                                  |
 * | `panacea.workflow.id`                           | the workflow (workflow scope only)                            |
 * | `panacea.metrics.scope`, `.subject_id`          | `agent` or `workflow`, and its id                             |
 * | `panacea.metrics.final`                         | false for an update of an open window, true once closed       |
 * | `panacea.metrics.window_size_ms`                | window size                                                   |
 * | `…events.count`, `.per_second`, `.by_kind.*`    | every event in the window; count / window seconds             |
 * | `…tasks.started`, `.succeeded`, `.failed`       | task activity (activity with a task id) by status             |
 * | `…tasks.success_rate`                           | succeeded / (succeeded + failed), null when neither           |
 * | `…duration_ms.p50`, `.p95`, `.p99`, `.max`      | task durations (within `relative_accuracy`; max exact); null  |
 * |                                                 | when no finished task reported one                            |
 * | `…duration_ms.count`, `.relative_accuracy`      | how many durations, the sketch's stated accuracy (0.01 = 1 %) |
 * | `…errors.total`, `.by_severity.*`               | error events, and by warning / error / critical               |
 * | `…errors.by_type[]`, `.other_types`             | `{ type, count }` sorted by type; types past the cap          |
 * | `…heartbeat.count`, `.by_status.*`              | heartbeats, and by active / idle / busy / error               |
 * | `…heartbeat.status`                             | status of the latest heartbeat by event time, null when none  |
 * | `…heartbeat.cpu_percent_mean`                   | mean over heartbeats reporting CPU, null when none            |
 * | `…heartbeat.memory_mb_peak`                     | largest memory reported, null when none                       |
 * | `…state`                                        | the mergeable figures (sketch buckets and sums) as JSON, not  |
 * |                                                 | indexed: what a consumer merges to combine partial windows    |
 *
 * `by_type` is a list, not an object keyed by type, so that agent-chosen type names cannot add
 * fields to the index mapping.
 */
import { formatTimestamp } from '../../schemas/timestamp.js';
import type { WindowFigures, WindowFiguresState } from './window-figures.js';

export const METRICS_DATASET = 'agent.metrics';

export type WindowScope = 'agent' | 'workflow';

const NANOSECONDS_PER_MILLISECOND = 1_000_000;

export interface WindowResult {
  /** `agent:<id>:<window start>` or `workflow:<id>:<window start>`: the document's `_id`. */
  documentId: string;
  scope: WindowScope;
  /** The agent id or the workflow id. */
  subjectId: string;
  windowStartMs: number;
  /** Exclusive. */
  windowEndMs: number;
  /** True once the watermark passed the window's end: these figures will not change any more. */
  final: boolean;
  figures: WindowFigures;
}

export interface MetricsDocument {
  '@timestamp': string;
  event: {
    kind: 'metric';
    dataset: typeof METRICS_DATASET;
    module: 'panacea';
    start: string;
    end: string;
    /** Nanoseconds, as ECS defines it. */
    duration: number;
  };
  gen_ai?: { agent: { id: string } };
  panacea: {
    workflow?: { id: string };
    metrics: {
      scope: WindowScope;
      subject_id: string;
      final: boolean;
      window_size_ms: number;
      events: { count: number; per_second: number; by_kind: WindowFiguresState['eventsByKind'] };
      tasks: { started: number; succeeded: number; failed: number; success_rate: number | null };
      duration_ms: {
        p50: number | null;
        p95: number | null;
        p99: number | null;
        max: number | null;
        count: number;
        relative_accuracy: number;
      };
      errors: {
        total: number;
        by_severity: WindowFiguresState['errorsBySeverity'];
        by_type: { type: string; count: number }[];
        other_types: number;
      };
      heartbeat: {
        count: number;
        status: string | null;
        by_status: WindowFiguresState['heartbeats']['byStatus'];
        cpu_percent_mean: number | null;
        memory_mb_peak: number | null;
      };
      state: WindowFiguresState;
    };
  };
}

/** The deterministic id of a window's document. */
export function windowDocumentId(scope: WindowScope, subjectId: string, startMs: number): string {
  return `${scope}:${subjectId}:${formatTimestamp(startMs)}`;
}

export function toMetricsDocument(result: WindowResult): MetricsDocument {
  const state = result.figures.toJSON();
  const sizeMs = result.windowEndMs - result.windowStartMs;
  const sketch = result.figures.durationsMs;
  const { tasks, heartbeats } = state;
  const finishedTasks = tasks.succeeded + tasks.failed;
  const errorTotal = Object.values(state.errorsBySeverity).reduce((sum, count) => sum + count, 0);

  return {
    '@timestamp': formatTimestamp(result.windowStartMs),
    event: {
      kind: 'metric',
      dataset: METRICS_DATASET,
      module: 'panacea',
      start: formatTimestamp(result.windowStartMs),
      end: formatTimestamp(result.windowEndMs),
      duration: sizeMs * NANOSECONDS_PER_MILLISECOND,
    },
    ...(result.scope === 'agent' ? { gen_ai: { agent: { id: result.subjectId } } } : {}),
    panacea: {
      ...(result.scope === 'workflow' ? { workflow: { id: result.subjectId } } : {}),
      metrics: {
        scope: result.scope,
        subject_id: result.subjectId,
        final: result.final,
        window_size_ms: sizeMs,
        events: {
          count: state.eventCount,
          per_second: state.eventCount / (sizeMs / 1000),
          by_kind: state.eventsByKind,
        },
        tasks: {
          ...tasks,
          success_rate: finishedTasks === 0 ? null : tasks.succeeded / finishedTasks,
        },
        duration_ms: {
          p50: sketch.quantile(0.5) ?? null,
          p95: sketch.quantile(0.95) ?? null,
          p99: sketch.quantile(0.99) ?? null,
          max: sketch.max ?? null,
          count: sketch.count,
          relative_accuracy: sketch.relativeAccuracy,
        },
        errors: {
          total: errorTotal,
          by_severity: state.errorsBySeverity,
          by_type: state.errorsByType.map(([type, count]) => ({ type, count })),
          other_types: state.otherErrorTypes,
        },
        heartbeat: {
          count: heartbeats.count,
          status: heartbeats.latest?.status ?? null,
          by_status: heartbeats.byStatus,
          cpu_percent_mean: result.figures.meanCpuPercent(),
          memory_mb_peak: heartbeats.peakMemoryMb,
        },
        state,
      },
    },
  };
}
