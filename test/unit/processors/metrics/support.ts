/**
 * Helpers the metrics unit tests share: a seeded random source (so every run draws the same
 * values) and builders of contract events at chosen times.
 */
import type {
  ActivityBody,
  AgentEvent,
  ErrorBody,
  HeartbeatBody,
} from '../../../../schemas/event.js';

/** Mulberry32: a small deterministic generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** 2026-01-15T09:30:00.000Z: the start of a minute, so window edges are easy to read. */
export const T0_MS = Date.UTC(2026, 0, 15, 9, 30, 0, 0);

export interface EnvelopeParts {
  agentId?: string;
  workflowId?: string;
  taskId?: string;
  eventId?: string;
}

let sequence = 0;

function envelope(timestampMs: number, parts: EnvelopeParts) {
  sequence += 1;
  return {
    eventId: parts.eventId ?? `evt-${sequence}`,
    timestamp: timestampMs,
    agent: { id: parts.agentId ?? 'agent-1' },
    ...(parts.workflowId === undefined ? {} : { workflowId: parts.workflowId }),
    ...(parts.taskId === undefined ? {} : { taskId: parts.taskId }),
  };
}

export function activityAt(
  timestampMs: number,
  body: Partial<ActivityBody> & Pick<ActivityBody, 'status'>,
  parts: EnvelopeParts = {},
): AgentEvent {
  return {
    ...envelope(timestampMs, parts),
    kind: 'activity',
    activity: { action: 'task.run', ...body },
  };
}

export function errorAt(
  timestampMs: number,
  body: Partial<ErrorBody> = {},
  parts: EnvelopeParts = {},
): AgentEvent {
  return {
    ...envelope(timestampMs, parts),
    kind: 'error',
    error: { type: 'ToolTimeout', message: 'no answer', severity: 'error', ...body },
  };
}

export function heartbeatAt(
  timestampMs: number,
  body: Partial<HeartbeatBody> = {},
  parts: EnvelopeParts = {},
): AgentEvent {
  return {
    ...envelope(timestampMs, parts),
    kind: 'heartbeat',
    heartbeat: { status: 'active', ...body },
  };
}

export function auditAt(timestampMs: number, parts: EnvelopeParts = {}): AgentEvent {
  return {
    ...envelope(timestampMs, parts),
    kind: 'audit',
    audit: {
      actor: { type: 'user', id: 'u-1' },
      action: 'secrets.read',
      resource: { type: 'secret', id: 's-9' },
      outcome: 'success',
    },
  };
}
