/**
 * The records the metrics stage writes to `agent.metrics`, one JSON object each:
 * `{ record, id, version, source, document }`, where `record` is `window`, `status` or `task`,
 * `id` the document's deterministic Elasticsearch `_id`, `version` a number that only grows for
 * the same id (the input offset the stage had reached), and `document` what Elasticsearch stores.
 *
 * Ids: an agent window is `agent:<agent id>:<window start>`; a status is the agent id (one
 * document per agent, its current status; every change is a record on the topic, and the sink
 * keeps each one in a history index too); a task is `task:<agent id>:<task id>`. A workflow
 * window carries its source partition in the id (`workflow:<id>:<start>|<source>`): a workflow's
 * agents may sit on several partitions, each giving a partial window. All partials of a window
 * share the Kafka key (the window id), so they meet on one partition of `agent.metrics`, where the
 * metrics sink merges them into the window's one document (see index.ts, point 4). A consumer of
 * the topic that wants whole workflow figures merges the same way: keep the latest partial per
 * source, restore each `panacea.metrics.state` with `WindowFigures.fromJSON`, and merge them with
 * `combinePartialWindows`; adding up counts works, percentiles need the merged sketch.
 */

import type { Message } from '../../core/kafka.js';
import { formatTimestamp } from '../../schemas/timestamp.js';
import type { StatusChange } from './agent-status.js';
import { toMetricsDocument, type MetricsDocument, type WindowResult } from './metrics-document.js';
import type { TaskRecord } from './task-overview.js';

export type MetricsRecordKind = 'window' | 'status' | 'task';

export interface MetricsRecord {
  record: MetricsRecordKind;
  id: string;
  version: number;
  /** The input partition that produced it (`agent.events.enriched-2`). */
  source: string;
  document: object;
}

export function windowRecord(result: WindowResult, source: string, version: number): Message {
  const { id, document } = windowDocumentOf(result, source);
  return message(result.documentId, { record: 'window', id, version, source, document });
}

/**
 * A window result from one source as Elasticsearch stores it: an agent window under its window
 * id, a workflow window's partial under `<window id>|<source>`, the source in the document.
 */
export function windowDocumentOf(
  result: WindowResult,
  source: string,
): { id: string; document: MetricsDocument & { panacea: { source: string } } } {
  const id = result.scope === 'agent' ? result.documentId : `${result.documentId}|${source}`;
  const document = toMetricsDocument(result);
  return { id, document: { ...document, panacea: { ...document.panacea, source } } };
}

export function statusRecord(change: StatusChange, source: string, version: number): Message {
  return message(change.agentId, {
    record: 'status',
    id: change.agentId,
    version,
    source,
    document: {
      '@timestamp': formatTimestamp(change.atMs),
      event: { kind: 'state', dataset: 'agent.status', module: 'panacea' },
      gen_ai: { agent: { id: change.agentId } },
      panacea: {
        source,
        status: {
          current: change.to,
          previous: change.from,
          cause: change.cause,
          since: formatTimestamp(change.atMs),
          ...(change.eventTimeMs === undefined
            ? {}
            : { event_time: formatTimestamp(change.eventTimeMs) }),
        },
      },
    },
  });
}

export function taskRecord(task: TaskRecord, source: string, version: number): Message {
  const id = `task:${task.agentId}:${task.taskId}`;
  const time = (ms: number | undefined): string | undefined =>
    ms === undefined ? undefined : formatTimestamp(ms);
  return message(id, {
    record: 'task',
    id,
    version,
    source,
    document: {
      '@timestamp': formatTimestamp(task.startedAtMs ?? task.endedAtMs ?? task.updatedAtMs),
      event: { kind: 'state', dataset: 'agent.task', module: 'panacea' },
      gen_ai: { agent: { id: task.agentId } },
      panacea: {
        source,
        ...(task.workflowId === undefined ? {} : { workflow: { id: task.workflowId } }),
        task: {
          id: task.taskId,
          state: task.state,
          started_at: time(task.startedAtMs),
          ended_at: time(task.endedAtMs),
          duration_ms: task.durationMs,
          updated_at: formatTimestamp(task.updatedAtMs),
        },
      },
    },
  });
}

function message(key: string, record: MetricsRecord): Message {
  return { key, value: Buffer.from(JSON.stringify(record)) };
}
