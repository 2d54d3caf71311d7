/**
 * `publisher.task(name, fn)`: runs one unit of an agent's work and reports it as activity events,
 * `started` before and `succeeded` (with the measured duration) or `failed` after, plus an error
 * event with the thrown error's type, message and stack. The work's own result or error is
 * returned unchanged: publishing never changes what the task does, and never waits for Kafka.
 */
import { randomUUID } from 'node:crypto';

import type { ActivityBody, AttributeValue, ErrorBody } from '../../schemas/event.js';
import { describeThrown } from './text.js';
import type { EventContext, PublishReceipt } from './types.js';

/** The two publisher methods a task reports through. */
export interface TaskReporter {
  activity(body: ActivityBody, context?: EventContext): Promise<PublishReceipt>;
  error(body: ErrorBody, context?: EventContext): Promise<PublishReceipt>;
}

export async function runTask<T>(
  reporter: TaskReporter,
  name: string,
  work: () => T | PromiseLike<T>,
  attributes?: Record<string, AttributeValue>,
  context: EventContext = {},
): Promise<T> {
  // One task id ties the started, finished and error events together, unless the caller has one.
  const taskContext: EventContext = { ...context, taskId: context.taskId ?? randomUUID() };
  const withAttributes = attributes === undefined ? {} : { attributes };
  // The publisher's promises never reject unhandled (it catches them itself); a task does not
  // await them, so a slow or absent Kafka costs the work nothing.
  void reporter.activity({ action: name, status: 'started', ...withAttributes }, taskContext);
  const startedAtMs = performance.now();

  let result: T;
  try {
    result = await work();
  } catch (thrown) {
    const durationMs = elapsedSince(startedAtMs);
    const finishedContext = { ...taskContext, timestamp: Date.now() };
    void reporter.activity(
      { action: name, status: 'failed', durationMs, ...withAttributes },
      finishedContext,
    );
    void reporter.error(
      { ...describeThrown(thrown), severity: 'error', ...withAttributes },
      finishedContext,
    );
    throw thrown;
  }

  const durationMs = elapsedSince(startedAtMs);
  void reporter.activity(
    { action: name, status: 'succeeded', durationMs, ...withAttributes },
    { ...taskContext, timestamp: Date.now() },
  );
  return result;
}

/** Milliseconds since a `performance.now()` reading, to the microsecond. */
function elapsedSince(startedAtMs: number): number {
  return Math.round((performance.now() - startedAtMs) * 1000) / 1000;
}
