/**
 * The event contract as TypeScript types: one agent fact, of one of four kinds. `timestamp` is
 * always UTC epoch milliseconds here; the JSON form accepts RFC 3339 too (see contract.ts).
 */
import type { EventKind } from '../core/naming.js';

export type { EventKind };

export interface AgentIdentity {
  id: string;
  name?: string;
  type?: string;
  version?: string;
}

export type AttributeValue = string | number | boolean;

export interface EventEnvelope {
  eventId: string;
  /** UTC epoch milliseconds. */
  timestamp: number;
  agent: AgentIdentity;
  workflowId?: string;
  taskId?: string;
  traceId?: string;
  spanId?: string;
}

export const ACTIVITY_STATUSES = ['started', 'succeeded', 'failed'] as const;
export const ERROR_SEVERITIES = ['warning', 'error', 'critical'] as const;
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export const HEARTBEAT_STATUSES = ['active', 'idle', 'busy', 'error'] as const;

export interface ActivityBody {
  action: string;
  status: (typeof ACTIVITY_STATUSES)[number];
  durationMs?: number;
  attributes?: Record<string, AttributeValue>;
}

export interface ErrorBody {
  type: string;
  message: string;
  stack?: string;
  severity: (typeof ERROR_SEVERITIES)[number];
  retryable?: boolean;
  /** What the reporter knew around the error (request id, tool, input size…). */
  attributes?: Record<string, AttributeValue>;
}

export interface AuditParty {
  type: string;
  id: string;
}

export interface AuditBody {
  actor: AuditParty;
  action: string;
  resource: AuditParty;
  outcome: (typeof AUDIT_OUTCOMES)[number];
  reason?: string;
  sourceIp?: string;
}

export interface HeartbeatBody {
  status: (typeof HEARTBEAT_STATUSES)[number];
  cpuPercent?: number;
  memoryMb?: number;
  queueDepth?: number;
}

export type ActivityEvent = EventEnvelope & { kind: 'activity'; activity: ActivityBody };
export type ErrorEvent = EventEnvelope & { kind: 'error'; error: ErrorBody };
export type AuditEvent = EventEnvelope & { kind: 'audit'; audit: AuditBody };
export type HeartbeatEvent = EventEnvelope & { kind: 'heartbeat'; heartbeat: HeartbeatBody };

export type AgentEvent = ActivityEvent | ErrorEvent | AuditEvent | HeartbeatEvent;
