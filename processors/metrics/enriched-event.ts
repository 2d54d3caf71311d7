/**
 * Reads an enriched record (the ECS document of processors/enrich/ecs-document.ts) back into the
 * event the metrics core counts. Only the fields the figures, the status machine and the task
 * overview use are read; fields the enrichment adds later are ignored, so it can grow freely.
 *
 * Why the enriched topic and not the raw topics: it carries every kind of one agent on one
 * partition in the agent's order (keyed by agent id), already validated and decoded, so a
 * partition's state holds whole agents and no quiet raw topic holds a window open.
 */
import { PanaceaError } from '../../core/errors.js';
import { EVENT_KINDS } from '../../core/naming.js';
import {
  ACTIVITY_STATUSES,
  AUDIT_OUTCOMES,
  ERROR_SEVERITIES,
  HEARTBEAT_STATUSES,
  type AgentEvent,
  type EventEnvelope,
} from '../../schemas/event.js';

type Json = Record<string, unknown>;

export function readEnrichedEvent(value: Buffer | null): AgentEvent {
  let document: unknown;
  try {
    document = JSON.parse(value?.toString('utf8') ?? '');
  } catch {
    throw new PanaceaError('DECODE_FAILED', 'the enriched record is not JSON');
  }
  if (!isObject(document)) throw violation('the document', 'not an object');

  const envelope = readEnvelope(document);
  const panacea = objectAt(document, 'panacea');
  const kind = oneOf(panacea.kind, EVENT_KINDS, 'panacea.kind');

  switch (kind) {
    case 'activity': {
      const activity = objectAt(panacea, 'activity', 'panacea.activity');
      const durationMs = activity.duration_ms;
      return {
        ...envelope,
        kind,
        activity: {
          action: text(activity.action, 'panacea.activity.action'),
          status: oneOf(activity.status, ACTIVITY_STATUSES, 'panacea.activity.status'),
          ...(typeof durationMs === 'number' ? { durationMs } : {}),
        },
      };
    }
    case 'error': {
      const error = objectAt(document, 'error');
      const details = objectAt(panacea, 'error', 'panacea.error');
      return {
        ...envelope,
        kind,
        error: {
          type: text(error.type, 'error.type'),
          message: typeof error.message === 'string' ? error.message : '',
          severity: oneOf(details.severity, ERROR_SEVERITIES, 'panacea.error.severity'),
        },
      };
    }
    case 'audit': {
      const audit = objectAt(panacea, 'audit', 'panacea.audit');
      const actor = objectAt(audit, 'actor', 'panacea.audit.actor');
      const resource = objectAt(audit, 'resource', 'panacea.audit.resource');
      const event = objectAt(document, 'event');
      return {
        ...envelope,
        kind,
        audit: {
          actor: { type: String(actor.type), id: String(actor.id) },
          action: typeof event.action === 'string' ? event.action : '',
          resource: { type: String(resource.type), id: String(resource.id) },
          outcome: oneOf(audit.outcome, AUDIT_OUTCOMES, 'panacea.audit.outcome'),
        },
      };
    }
    case 'heartbeat': {
      const heartbeat = objectAt(panacea, 'heartbeat', 'panacea.heartbeat');
      const { cpu_percent: cpuPercent, memory_mb: memoryMb } = heartbeat;
      return {
        ...envelope,
        kind,
        heartbeat: {
          status: oneOf(heartbeat.status, HEARTBEAT_STATUSES, 'panacea.heartbeat.status'),
          ...(typeof cpuPercent === 'number' ? { cpuPercent } : {}),
          ...(typeof memoryMb === 'number' ? { memoryMb } : {}),
        },
      };
    }
  }
}

function readEnvelope(document: Json): EventEnvelope {
  const timestampText = text(document['@timestamp'], '@timestamp');
  const timestamp = Date.parse(timestampText);
  if (!Number.isFinite(timestamp)) throw violation('@timestamp', 'not a date');
  const agent = objectAt(objectAt(document, 'gen_ai'), 'agent', 'gen_ai.agent');
  const panacea = objectAt(document, 'panacea');
  const workflowId = optionalId(panacea, 'workflow');
  const taskId = optionalId(panacea, 'task');

  return {
    eventId: text(objectAt(document, 'event').id, 'event.id'),
    timestamp,
    agent: { id: text(agent.id, 'gen_ai.agent.id') },
    ...(workflowId === undefined ? {} : { workflowId }),
    ...(taskId === undefined ? {} : { taskId }),
  };
}

function optionalId(panacea: Json, name: 'workflow' | 'task'): string | undefined {
  const holder = panacea[name];
  if (!isObject(holder)) return undefined;
  return text(holder.id, `panacea.${name}.id`);
}

function objectAt(parent: Json, key: string, path = key): Json {
  const value = parent[key];
  if (!isObject(value)) throw violation(path, 'missing or not an object');
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw violation(path, 'missing or empty');
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value))
    return value as T;
  throw violation(path, `expected one of ${allowed.join(', ')}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function violation(path: string, problem: string): PanaceaError {
  return new PanaceaError('CONTRACT_VIOLATION', `enriched document: ${path} ${problem}`, {
    field: path,
  });
}
