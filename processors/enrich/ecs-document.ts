/**
 * The enriched form of an event: ECS-style fields that Elasticsearch and Kibana understand, plus
 * the event's own facts under `panacea.*`. This is what the enriched topic carries and what the
 * Elasticsearch sink stores.
 *
 * Where the AI agent goes: ECS's `agent.*` describes the shipper that collected the data, not the
 * thing being observed, so the AI agent's identity lives under `gen_ai.agent.*` (`id` and `name`
 * as in ECS 9 and OpenTelemetry's gen_ai conventions; `type` and `version` are Panacea's additions
 * in the same object).
 */
import type { AgentEvent } from '../../schemas/event.js';
import { formatTimestamp } from '../../schemas/timestamp.js';

export const ECS_VERSION = '9.0.0';

const NANOSECONDS_PER_MILLISECOND = 1_000_000;

export interface EnrichedDocument {
  '@timestamp': string;
  message: string;
  ecs: { version: string };
  event: {
    id: string;
    kind: 'event' | 'state';
    category: string[];
    type: string[];
    action?: string;
    outcome?: 'success' | 'failure' | 'unknown';
    /** Nanoseconds, as ECS defines it. */
    duration?: number;
    dataset: string;
    module: 'panacea';
    created: string;
    ingested: string;
    reason?: string;
  };
  gen_ai: { agent: { id: string; name?: string; type?: string; version?: string } };
  trace?: { id: string };
  span?: { id: string };
  error?: { type: string; message: string; stack_trace?: string };
  log?: { level: string };
  source?: { ip: string };
  /** Marks of what the enrichment changed, e.g. `panacea.invalid_utf8` (see enrich-event.ts). */
  tags?: string[];
  /** The agent registry's labels of the agent, as ECS's custom keyword labels. */
  labels?: Record<string, string>;
  panacea: Record<string, unknown> & { kind: AgentEvent['kind'] };
}

export interface EnrichmentContext {
  /** When the pipeline took the event in, epoch milliseconds. */
  ingestedAtMs: number;
  /** The raw record's Kafka timestamp, epoch milliseconds: when the producer sent it. */
  createdAtMs: number;
}

export function toEnrichedDocument(
  event: AgentEvent,
  context: EnrichmentContext,
): EnrichedDocument {
  const base = {
    '@timestamp': formatTimestamp(event.timestamp),
    ecs: { version: ECS_VERSION },
    gen_ai: { agent: { ...event.agent } },
    ...(event.traceId === undefined ? {} : { trace: { id: event.traceId } }),
    ...(event.spanId === undefined ? {} : { span: { id: event.spanId } }),
  };
  const common = {
    id: event.eventId,
    dataset: `agent.${event.kind}`,
    module: 'panacea' as const,
    created: formatTimestamp(context.createdAtMs),
    ingested: formatTimestamp(context.ingestedAtMs),
  };
  const panacea = {
    kind: event.kind,
    ...(event.workflowId === undefined ? {} : { workflow: { id: event.workflowId } }),
    ...(event.taskId === undefined ? {} : { task: { id: event.taskId } }),
  };

  switch (event.kind) {
    case 'activity': {
      const { action, status, durationMs, attributes } = event.activity;
      return {
        ...base,
        message: `${action} ${status}${durationMs === undefined ? '' : ` in ${durationMs} ms`}`,
        event: {
          ...common,
          kind: 'event',
          category: ['process'],
          type: [status === 'started' ? 'start' : 'end'],
          action,
          outcome: status === 'succeeded' ? 'success' : status === 'failed' ? 'failure' : 'unknown',
          ...(durationMs === undefined
            ? {}
            : { duration: Math.round(durationMs * NANOSECONDS_PER_MILLISECOND) }),
        },
        panacea: {
          ...panacea,
          activity: {
            action,
            status,
            ...(durationMs === undefined ? {} : { duration_ms: durationMs }),
            ...(attributes === undefined ? {} : { attributes }),
          },
        },
      };
    }
    case 'error': {
      const { type, message, stack, severity, retryable, attributes } = event.error;
      return {
        ...base,
        message,
        event: {
          ...common,
          kind: 'event',
          category: ['process'],
          type: ['error'],
          action: type,
          outcome: 'failure',
        },
        error: { type, message, ...(stack === undefined ? {} : { stack_trace: stack }) },
        log: { level: severity },
        panacea: {
          ...panacea,
          error: {
            severity,
            ...(retryable === undefined ? {} : { retryable }),
            ...(attributes === undefined ? {} : { attributes }),
          },
        },
      };
    }
    case 'audit': {
      const { actor, action, resource, outcome, reason, sourceIp } = event.audit;
      return {
        ...base,
        message: `${actor.type} ${actor.id} ${action} ${resource.type} ${resource.id}: ${outcome}${reason === undefined ? '' : ` (${reason})`}`,
        event: {
          ...common,
          kind: 'event',
          category: ['iam'],
          type: [outcome === 'denied' ? 'denied' : outcome === 'success' ? 'allowed' : 'info'],
          action,
          outcome: outcome === 'success' ? 'success' : 'failure',
          ...(reason === undefined ? {} : { reason }),
        },
        ...(sourceIp === undefined ? {} : { source: { ip: sourceIp } }),
        panacea: { ...panacea, audit: { actor, resource, outcome } },
      };
    }
    case 'heartbeat': {
      const { status, cpuPercent, memoryMb, queueDepth } = event.heartbeat;
      return {
        ...base,
        message: `heartbeat ${status}`,
        event: {
          ...common,
          kind: 'state',
          category: ['host'],
          type: ['info'],
          action: 'heartbeat',
        },
        panacea: {
          ...panacea,
          heartbeat: {
            status,
            ...(cpuPercent === undefined ? {} : { cpu_percent: cpuPercent }),
            ...(memoryMb === undefined ? {} : { memory_mb: memoryMb }),
            ...(queueDepth === undefined ? {} : { queue_depth: queueDepth }),
          },
        },
      };
    }
  }
}
