import { describe, expect, it } from 'vitest';

import {
  TaskOverview,
  type TaskOverviewState,
} from '../../../../processors/metrics/task-overview.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { T0_MS, activityAt, heartbeatAt } from './support.js';

const STUCK_AFTER_MS = 600_000;

function overview(): TaskOverview {
  return new TaskOverview({ stuckAfterMs: STUCK_AFTER_MS, retainEndedTasksMs: 3_600_000 });
}

function started(taskId: string, atMs: number, agentId = 'a-1', workflowId?: string): AgentEvent {
  return activityAt(
    atMs,
    { status: 'started' },
    { agentId, taskId, ...(workflowId ? { workflowId } : {}) },
  );
}

function ended(
  taskId: string,
  atMs: number,
  status: 'succeeded' | 'failed' = 'succeeded',
  agentId = 'a-1',
  workflowId?: string,
): AgentEvent {
  return activityAt(
    atMs,
    { status, durationMs: 1_500 },
    { agentId, taskId, ...(workflowId ? { workflowId } : {}) },
  );
}

describe('task overview', () => {
  it('counts tasks in progress, completed, failed and stuck per agent and per workflow', () => {
    const tasks = overview();
    const events = [
      started('t-1', T0_MS, 'a-1', 'wf-1'),
      started('t-2', T0_MS + 1_000, 'a-1', 'wf-1'),
      started('t-3', T0_MS + 500_000, 'a-2', 'wf-1'),
      started('t-4', T0_MS + 2_000, 'a-2'),
      ended('t-2', T0_MS + 3_000, 'succeeded', 'a-1', 'wf-1'),
      ended('t-4', T0_MS + 4_000, 'failed', 'a-2'),
    ];
    for (const event of events) tasks.observe(event, event.timestamp);

    const rows = tasks.overview(T0_MS + STUCK_AFTER_MS);

    expect(rows).toEqual([
      {
        scope: 'agent',
        subjectId: 'a-1',
        inProgress: 1,
        stuck: 1,
        completed: 1,
        failed: 0,
        oldestInProgressStartedAtMs: T0_MS,
      },
      {
        scope: 'agent',
        subjectId: 'a-2',
        inProgress: 1,
        stuck: 0,
        completed: 0,
        failed: 1,
        oldestInProgressStartedAtMs: T0_MS + 500_000,
      },
      {
        scope: 'workflow',
        subjectId: 'wf-1',
        inProgress: 2,
        stuck: 1,
        completed: 1,
        failed: 0,
        oldestInProgressStartedAtMs: T0_MS,
      },
    ]);
    expect(tasks.stuckTasks(T0_MS + STUCK_AFTER_MS).map((task) => task.taskId)).toEqual(['t-1']);
  });

  it('returns the record on each change, nothing for repeats, late starts or second ends', () => {
    const tasks = overview();

    const start = tasks.observe(started('t-1', T0_MS, 'a-1', 'wf-1'), T0_MS + 5);
    const repeatedStart = tasks.observe(started('t-1', T0_MS), T0_MS + 6);
    const end = tasks.observe(ended('t-1', T0_MS + 1_500), T0_MS + 1_505);
    const secondEnd = tasks.observe(ended('t-1', T0_MS + 1_600, 'failed'), T0_MS + 1_605);
    const lateStart = tasks.observe(started('t-1', T0_MS - 1_000), T0_MS + 1_700);

    expect(start).toEqual({
      agentId: 'a-1',
      taskId: 't-1',
      workflowId: 'wf-1',
      state: 'in_progress',
      startedAtMs: T0_MS,
      updatedAtMs: T0_MS + 5,
    });
    expect(end).toEqual({
      agentId: 'a-1',
      taskId: 't-1',
      workflowId: 'wf-1',
      state: 'succeeded',
      startedAtMs: T0_MS,
      endedAtMs: T0_MS + 1_500,
      durationMs: 1_500,
      updatedAtMs: T0_MS + 1_505,
    });
    expect([repeatedStart, secondEnd, lateStart]).toEqual([undefined, undefined, undefined]);
    expect(tasks.overview(T0_MS + 2_000)).toEqual([
      {
        scope: 'agent',
        subjectId: 'a-1',
        inProgress: 0,
        stuck: 0,
        completed: 1,
        failed: 0,
        oldestInProgressStartedAtMs: null,
      },
      {
        scope: 'workflow',
        subjectId: 'wf-1',
        inProgress: 0,
        stuck: 0,
        completed: 1,
        failed: 0,
        oldestInProgressStartedAtMs: null,
      },
    ]);
  });

  it('counts an end without a seen start; ignores activity without task id, other kinds', () => {
    const tasks = overview();

    const end = tasks.observe(ended('t-9', T0_MS, 'failed'), T0_MS);
    const toolCall = tasks.observe(activityAt(T0_MS, { status: 'started' }), T0_MS);
    const heartbeat = tasks.observe(heartbeatAt(T0_MS, {}, { taskId: 't-10' }), T0_MS);

    expect(end?.state).toBe('failed');
    expect(end?.startedAtMs).toBeUndefined();
    expect([toolCall, heartbeat]).toEqual([undefined, undefined]);
    expect(tasks.overview(T0_MS)).toHaveLength(1);
  });

  it('keeps the same task id of two agents apart', () => {
    const tasks = overview();
    tasks.observe(started('t-1', T0_MS, 'a-1'), T0_MS);
    tasks.observe(started('t-1', T0_MS, 'a-2'), T0_MS);
    tasks.observe(ended('t-1', T0_MS + 1, 'succeeded', 'a-2'), T0_MS);

    expect(
      tasks.overview(T0_MS).map((row) => [row.subjectId, row.inProgress, row.completed]),
    ).toEqual([
      ['a-1', 1, 0],
      ['a-2', 0, 1],
    ]);
  });

  it('forgets ended tasks after retention, keeping totals and every task in progress', () => {
    const tasks = overview();
    tasks.observe(started('t-1', T0_MS), T0_MS);
    tasks.observe(started('t-2', T0_MS), T0_MS);
    tasks.observe(ended('t-2', T0_MS + 1), T0_MS + 1);

    expect(tasks.forgetEnded(T0_MS + 3_600_000)).toBe(0);
    expect(tasks.forgetEnded(T0_MS + 3_600_001)).toBe(1);
    expect(tasks.overview(T0_MS + 3_600_001)[0]).toMatchObject({
      inProgress: 1,
      stuck: 1,
      completed: 1,
    });
  });

  it('continues the same after its state is saved as JSON and restored', () => {
    const original = overview();
    original.observe(started('t-1', T0_MS, 'a-1', 'wf-1'), T0_MS);
    original.observe(ended('t-2', T0_MS, 'failed', 'a-2', 'wf-1'), T0_MS);

    const restored = TaskOverview.restore(
      { stuckAfterMs: STUCK_AFTER_MS },
      JSON.parse(JSON.stringify(original)) as TaskOverviewState,
    );
    const end = ended('t-1', T0_MS + 5, 'succeeded', 'a-1');

    expect(restored.toJSON()).toEqual(original.toJSON());
    expect(restored.observe(end, T0_MS + 10)).toEqual(original.observe(end, T0_MS + 10));
    expect(restored.overview(T0_MS + 20)).toEqual(original.overview(T0_MS + 20));
  });

  it('refuses options out of range and state of another version', () => {
    const error = thrownPanaceaError(() => new TaskOverview({ stuckAfterMs: 0 }));

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'task overview option stuckAfterMs: expected an integer from 1000 to 2592000000, ' +
        'got number 0',
    );
    const state = { version: 2, tasks: [], totals: [] } as unknown as TaskOverviewState;
    expect(thrownPanaceaError(() => TaskOverview.restore({}, state)).code).toBe(
      'METRICS_STATE_INVALID',
    );
  });
});
