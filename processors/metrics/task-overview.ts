/**
 * The task overview: which tasks are in progress, completed, failed or stuck, per agent and per
 * workflow, from activity events with a `taskId` (the same tasks the windows count).
 *
 * A task is one (agent id, task id). Its life: `started` puts it in progress; `succeeded` or
 * `failed` ends it, whether or not its start was seen (a start may sit in a part of the log this
 * stage never read). The first end wins: a second end, a repeated start, or a start after the end
 * (at-least-once delivery, or a late record) changes nothing, so a replayed record is harmless.
 * A task's workflow is the first workflow id any of its events names.
 *
 * Stuck: in progress for `stuckAfterMs` or more, measured from the start's event time to `nowMs`
 * (processing time, passed in by the caller). From event time, so a backlog read after an outage
 * shows tasks stuck since they started, not since the stage caught up; an agent whose clock runs
 * behind makes its tasks look stuck early.
 *
 * Counts: in progress and stuck are read from the tasks held; completed and failed are running
 * totals since the state began, so they survive `forgetEnded`, which drops ended tasks (kept for
 * `retainEndedTasksMs` of processing time so that their repeated or late records are still
 * recognised). A task in progress is never dropped here: holding it is what makes it stuck.
 *
 * For Elasticsearch: `observe` returns the task's record whenever it changes, which the stage
 * stores as one document per task (`_id` `task:<agent id>:<task id>`); "stuck now" is then a
 * query (`state: in_progress AND started_at < now - stuckAfter`) at any moment, without waiting
 * for the stage to write anything.
 */
import { PanaceaError } from '../../core/errors.js';
import type { AgentEvent } from '../../schemas/event.js';
import { describeValue } from '../../schemas/describe-value.js';
import type { WindowScope } from './metrics-document.js';
import { definedOnly, requireInteger } from './options.js';

export interface TaskOverviewOptions {
  /** In progress this long or longer is stuck. Default 900 000 ms (15 minutes). */
  stuckAfterMs?: number;
  /** How long an ended task is remembered. Default 3 600 000 ms (an hour). */
  retainEndedTasksMs?: number;
}

export const TASK_OVERVIEW_DEFAULTS = {
  stuckAfterMs: 900_000,
  retainEndedTasksMs: 3_600_000,
} as const;

const STATE_VERSION = 1;
/** 30 days: the longest span either option takes. */
const MAX_SPAN_MS = 30 * 86_400_000;

export type TaskState = 'in_progress' | 'succeeded' | 'failed';

export interface TaskRecord {
  agentId: string;
  taskId: string;
  workflowId?: string;
  state: TaskState;
  /** Event time of the start; absent when the start was not seen. */
  startedAtMs?: number;
  /** Event time of the end. */
  endedAtMs?: number;
  /** As the end reported it. */
  durationMs?: number;
  /** Processing time of the last change. */
  updatedAtMs: number;
}

export interface TaskOverviewRow {
  scope: WindowScope;
  subjectId: string;
  inProgress: number;
  stuck: number;
  completed: number;
  failed: number;
  /** Event time of the oldest start among the tasks in progress; null when none. */
  oldestInProgressStartedAtMs: number | null;
}

interface Totals {
  completed: number;
  failed: number;
}

export interface TaskOverviewState {
  version: typeof STATE_VERSION;
  /** Sorted by agent id, then task id. */
  tasks: TaskRecord[];
  /** Keyed `agent:<id>` or `workflow:<id>`, sorted. */
  totals: [string, Totals][];
}

type ResolvedOptions = Required<TaskOverviewOptions>;

export class TaskOverview {
  readonly options: ResolvedOptions;
  #tasks = new Map<string, TaskRecord>();
  #totals = new Map<string, Totals>();

  constructor(options: TaskOverviewOptions = {}) {
    this.options = { ...TASK_OVERVIEW_DEFAULTS, ...definedOnly(options) };
    requireInteger('task overview', 'stuckAfterMs', this.options.stuckAfterMs, 1000, MAX_SPAN_MS);
    requireInteger(
      'task overview',
      'retainEndedTasksMs',
      this.options.retainEndedTasksMs,
      1000,
      MAX_SPAN_MS,
    );
  }

  /** Applies one event; returns the task's new record when it changed, else undefined. */
  observe(event: AgentEvent, nowMs: number): TaskRecord | undefined {
    if (event.kind !== 'activity' || event.taskId === undefined) return undefined;

    const key = taskKey(event.agent.id, event.taskId);
    const known = this.#tasks.get(key);
    const { status, durationMs } = event.activity;
    if (known !== undefined && known.state !== 'in_progress') return undefined;
    if (known !== undefined && status === 'started') return undefined;

    const record: TaskRecord = {
      ...(known ?? { agentId: event.agent.id, taskId: event.taskId }),
      state: status === 'started' ? 'in_progress' : status,
      updatedAtMs: nowMs,
    };
    if (record.workflowId === undefined && event.workflowId !== undefined) {
      record.workflowId = event.workflowId;
    }
    if (status === 'started') {
      record.startedAtMs = event.timestamp;
    } else {
      record.endedAtMs = event.timestamp;
      if (durationMs !== undefined) record.durationMs = durationMs;
      this.#countEnd(record, status);
    }
    this.#tasks.set(key, record);
    return { ...record };
  }

  /** One row per agent and per workflow with a task held or ended, sorted by scope and id. */
  overview(nowMs: number): TaskOverviewRow[] {
    const rows = new Map<string, TaskOverviewRow>();
    const rowFor = (scope: WindowScope, subjectId: string): TaskOverviewRow => {
      const key = totalsKey(scope, subjectId);
      let row = rows.get(key);
      if (row === undefined) {
        const totals = this.#totals.get(key) ?? { completed: 0, failed: 0 };
        row = {
          scope,
          subjectId,
          inProgress: 0,
          stuck: 0,
          ...totals,
          oldestInProgressStartedAtMs: null,
        };
        rows.set(key, row);
      }
      return row;
    };

    for (const key of this.#totals.keys()) {
      const [scope, subjectId] = splitTotalsKey(key);
      rowFor(scope, subjectId);
    }
    for (const task of this.#tasks.values()) {
      if (task.state !== 'in_progress') continue;
      const scopes: [WindowScope, string][] = [['agent', task.agentId]];
      if (task.workflowId !== undefined) scopes.push(['workflow', task.workflowId]);
      for (const [scope, subjectId] of scopes) {
        const row = rowFor(scope, subjectId);
        row.inProgress += 1;
        if (this.#isStuck(task, nowMs)) row.stuck += 1;
        if (task.startedAtMs !== undefined) {
          row.oldestInProgressStartedAtMs = Math.min(
            row.oldestInProgressStartedAtMs ?? task.startedAtMs,
            task.startedAtMs,
          );
        }
      }
    }

    return [...rows.keys()].sort().map((key) => rows.get(key) as TaskOverviewRow);
  }

  /** The tasks stuck at `nowMs`, sorted by agent id, then task id. */
  stuckTasks(nowMs: number): TaskRecord[] {
    return this.#sortedTasks().filter((task) => this.#isStuck(task, nowMs));
  }

  /** Drops ended tasks unchanged for `retainEndedTasksMs`; returns how many. */
  forgetEnded(nowMs: number): number {
    let forgotten = 0;
    for (const [key, task] of this.#tasks) {
      if (
        task.state === 'in_progress' ||
        nowMs - task.updatedAtMs < this.options.retainEndedTasksMs
      )
        continue;
      this.#tasks.delete(key);
      forgotten += 1;
    }
    return forgotten;
  }

  toJSON(): TaskOverviewState {
    return {
      version: STATE_VERSION,
      tasks: this.#sortedTasks(),
      totals: [...this.#totals.keys()]
        .sort()
        .map((key) => [key, { ...(this.#totals.get(key) as Totals) }]),
    };
  }

  static restore(options: TaskOverviewOptions, state: TaskOverviewState): TaskOverview {
    if (
      state.version !== STATE_VERSION ||
      !Array.isArray(state.tasks) ||
      !Array.isArray(state.totals)
    ) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `task overview state: expected version ${STATE_VERSION} with tasks and totals, ` +
          `got version ${describeValue(state.version)}`,
      );
    }

    const overview = new TaskOverview(options);
    for (const task of state.tasks)
      overview.#tasks.set(taskKey(task.agentId, task.taskId), { ...task });
    for (const [key, totals] of state.totals) overview.#totals.set(key, { ...totals });
    return overview;
  }

  #countEnd(task: TaskRecord, status: 'succeeded' | 'failed'): void {
    const keys = [totalsKey('agent', task.agentId)];
    if (task.workflowId !== undefined) keys.push(totalsKey('workflow', task.workflowId));
    for (const key of keys) {
      const totals = this.#totals.get(key) ?? { completed: 0, failed: 0 };
      if (status === 'succeeded') totals.completed += 1;
      else totals.failed += 1;
      this.#totals.set(key, totals);
    }
  }

  #isStuck(task: TaskRecord, nowMs: number): boolean {
    return (
      task.state === 'in_progress' &&
      task.startedAtMs !== undefined &&
      nowMs - task.startedAtMs >= this.options.stuckAfterMs
    );
  }

  #sortedTasks(): TaskRecord[] {
    return [...this.#tasks.values()]
      .sort((a, b) => compareText(a.agentId, b.agentId) || compareText(a.taskId, b.taskId))
      .map((task) => ({ ...task }));
  }
}

// JSON of the pair: no separator an id could contain can make two keys equal.
function taskKey(agentId: string, taskId: string): string {
  return JSON.stringify([agentId, taskId]);
}

function totalsKey(scope: WindowScope, subjectId: string): string {
  return `${scope}:${subjectId}`;
}

function splitTotalsKey(key: string): [WindowScope, string] {
  const colon = key.indexOf(':');
  return [key.slice(0, colon) as WindowScope, key.slice(colon + 1)];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
