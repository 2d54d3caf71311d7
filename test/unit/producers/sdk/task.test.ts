import { describe, expect, it } from 'vitest';

import { runTask, type TaskReporter } from '../../../../producers/sdk/task.js';
import type { EventContext, PublishReceipt } from '../../../../producers/sdk/types.js';
import type { ActivityBody, ErrorBody } from '../../../../schemas/event.js';

type Reported =
  | { kind: 'activity'; body: ActivityBody; context: EventContext }
  | { kind: 'error'; body: ErrorBody; context: EventContext };

/** A reporter that records what a task reports; its promises reject, as a closed publisher's do. */
function recordingReporter(): { reporter: TaskReporter; reported: Reported[] } {
  const reported: Reported[] = [];
  const refused = (): Promise<PublishReceipt> => {
    const promise = Promise.reject(new Error('publisher closed'));
    promise.catch(() => undefined);
    return promise;
  };
  return {
    reported,
    reporter: {
      activity: (body, context = {}) => {
        reported.push({ kind: 'activity', body, context });
        return refused();
      },
      error: (body, context = {}) => {
        reported.push({ kind: 'error', body, context });
        return refused();
      },
    },
  };
}

class ToolTimeout extends Error {}

describe('task helper', () => {
  it('reports started, then succeeded with the measured duration, and returns the result', async () => {
    const { reporter, reported } = recordingReporter();

    const result = await runTask(
      reporter,
      'tool.search',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return 42;
      },
      { tool: 'search' },
      { workflowId: 'wf-1' },
    );

    expect(result).toBe(42);
    expect(reported.map((entry) => [entry.kind, (entry.body as ActivityBody).status])).toEqual([
      ['activity', 'started'],
      ['activity', 'succeeded'],
    ]);
    const [started, succeeded] = reported as Array<Extract<Reported, { kind: 'activity' }>>;
    expect(started?.body).toEqual({
      action: 'tool.search',
      status: 'started',
      attributes: { tool: 'search' },
    });
    expect(succeeded?.body.durationMs).toBeGreaterThanOrEqual(25);
    expect(succeeded?.body.durationMs).toBeLessThan(5_000);
    expect(succeeded?.context.workflowId).toBe('wf-1');
    // One generated task id ties the two events together.
    expect(started?.context.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(succeeded?.context.taskId).toBe(started?.context.taskId);
  });

  it('reports failed and an error with the type, message and stack of what was thrown, and rethrows it', async () => {
    const { reporter, reported } = recordingReporter();
    const thrown = new ToolTimeout('search took longer than 30 s');

    const outcome = runTask(
      reporter,
      'tool.search',
      () => {
        throw thrown;
      },
      { tool: 'search' },
      { taskId: 'task-9' },
    );

    await expect(outcome).rejects.toBe(thrown);
    expect(reported.map((entry) => entry.kind)).toEqual(['activity', 'activity', 'error']);
    const failed = reported[1] as Extract<Reported, { kind: 'activity' }>;
    const error = reported[2] as Extract<Reported, { kind: 'error' }>;
    expect(failed.body.status).toBe('failed');
    expect(failed.body.durationMs).toBeGreaterThanOrEqual(0);
    expect(error.body).toMatchObject({
      type: 'ToolTimeout',
      message: 'search took longer than 30 s',
      severity: 'error',
      attributes: { tool: 'search' },
    });
    expect(error.body.stack).toContain('search took longer than 30 s');
    expect(error.body.stack).toContain('task.test.ts');
    expect(error.context.taskId).toBe('task-9');
    expect(failed.context.timestamp).toBe(error.context.timestamp);
  });

  it('describes thrown values that are not errors without failing the report', async () => {
    const { reporter, reported } = recordingReporter();

    await expect(
      runTask(reporter, 'step', () => {
        throw 'plain text';
      }),
    ).rejects.toBe('plain text');
    await expect(
      runTask(reporter, 'step', () => {
        throw new Error('');
      }),
    ).rejects.toThrow();

    const errors = reported.filter((entry) => entry.kind === 'error').map((entry) => entry.body);
    expect(errors[0]).toMatchObject({ type: 'string', message: 'plain text' });
    expect(errors[0]).not.toHaveProperty('stack');
    expect(errors[1]).toMatchObject({ type: 'Error', message: '(no message)' });
  });

  it('returns the result of synchronous work too', async () => {
    const { reporter } = recordingReporter();

    expect(await runTask(reporter, 'sum', () => 1 + 2)).toBe(3);
  });

  it('rethrows a value that cannot even be turned into text, unchanged, and still reports it', async () => {
    const { reporter, reported } = recordingReporter();
    const unreadable = Object.create(null) as object;

    await expect(
      runTask(reporter, 'step', () => {
        throw unreadable;
      }),
    ).rejects.toBe(unreadable);

    const error = reported.find((entry) => entry.kind === 'error');
    expect(error?.body).toMatchObject({ type: 'unknown' });
    expect(error?.body.message).toContain('cannot be read');
    expect(reported.map((entry) => `${entry.kind}`)).toEqual(['activity', 'activity', 'error']);
  });
});
