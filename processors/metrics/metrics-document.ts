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
 * Shape (ECS where ECS has a field, Panacea's own under `panacea.metrics`, written `…` below):
 * - `@timestamp`: the window start; `event.start`, `event.end` (exclusive), `event.duration`
 *   (window size in nanoseconds, as ECS has it); `event.kind` `metric`, `event.dataset`
 *   `agent.metrics`, `event.module` `panacea`;
 * - `gen_ai.agent.id` (agent scope) or `panacea.workflow.id` (workflow scope);
 * - `…scope` (`agent` | `workflow`), `…subject_id`, `…window_size_ms`, and `…final`: false for an
 *   update of an open window, true once the watermark closed it;
 * - `…events.count`, `.per_second` (count / window seconds), `.by_kind.{activity,error,audit,
 *   heartbeat}`;
 * - `…tasks.started`, `.succeeded`, `.failed` (activity with a task id, by status) and
 *   `.success_rate` = succeeded / (succeeded + failed), null when neither;
 * - `…duration_ms.p50`, `.p95`, `.p99` (within `.relative_accuracy`, 0.01 = 1 %), `.max` (exact),
 *   `.count` of finished tasks that reported a duration; the figures are null when none did;
 * - `…errors.total`, `.by_severity.{warning,error,critical}`, `.by_type[]` of `{ type, count }`
 *   sorted by type, `.other_types` (errors of types past the per-window cap);
 * - `…heartbeat.count`, `.by_status.{active,idle,busy,error}`, `.status` (of the latest heartbeat
 *   by event time), `.cpu_percent_mean`, `.memory_mb_peak`; null when no heartbeat told;
 * - `…state`: the mergeable figures (sketch buckets, integer sums) as JSON, to be mapped as not
 *   indexed: what a consumer merges to combine partial windows.
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
