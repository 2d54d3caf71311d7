/**
 * The status of each agent as a state machine: active, idle, busy, error, and stale when no
 * heartbeat has arrived for `staleAfterMs`. Every change is handed out as a StatusChange (the
 * stage publishes it as an event); an event that leaves the status as it was gives nothing.
 *
 * Transitions, for an event newer (by event time) than the last one applied to the agent:
 * - heartbeat: the status the agent reports, from any state; the only way out of stale;
 * - activity `started`: busy; activity `succeeded` or `failed`: active (the agent finished a piece
 *   of work and is alive; a failure worth a status comes as an error event);
 * - error of severity `error` or `critical`: error; a `warning` changes nothing;
 * - audit: nothing;
 * - the first event of an agent: the status it implies, or active when it implies none;
 * - silence: stale once `staleAfterMs` has passed since the agent's last heartbeat arrived (or
 *   since it was first seen, when it never sent one). Activity and errors do not lift stale:
 *   only the agent's own heartbeat says it is alive and well again.
 * An event older than the last one applied is ignored: a delayed heartbeat must not overwrite a
 * newer status, nor count as a sign of life now.
 *
 * Time: event order is by event time, silence by processing time (`nowMs`, passed in by the
 * caller, so this file has no clock and tests need no timers). Processing time is what lets a
 * silent agent be noticed at all: its event time stops when it does. The price is that replaying
 * history gives status changes at other moments; the status is a live signal, not a window
 * figure, and its exactness rests on the checkpoint (see index.ts), not on replay.
 */
import { PanaceaError } from '../../core/errors.js';
import type { AgentEvent } from '../../schemas/event.js';
import { describeValue } from '../../schemas/describe-value.js';
import { requireInteger } from './options.js';

export const AGENT_STATUSES = ['active', 'idle', 'busy', 'error', 'stale'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export interface AgentStatusOptions {
  /** Silence after which an agent is stale. Default 90 000 ms (three missed 30 s heartbeats). */
  staleAfterMs?: number;
}

export const AGENT_STATUS_DEFAULTS = { staleAfterMs: 90_000 } as const;

const STATE_VERSION = 1;
const MAX_STALE_AFTER_MS = 86_400_000;

/** What changed the status; `first-seen` for an agent's first event that names no status. */
export type StatusCause = 'heartbeat' | 'activity' | 'error' | 'silence' | 'first-seen';

export interface StatusChange {
  agentId: string;
  /** Null the first time the agent is seen. */
  from: AgentStatus | null;
  to: AgentStatus;
  /** Processing time of the change. */
  atMs: number;
  /** Event time of the event that caused it; absent for silence. */
  eventTimeMs?: number;
  cause: StatusCause;
}

interface AgentRecord {
  status: AgentStatus;
  /** Processing time the status was entered. */
  sinceMs: number;
  /** Processing time of the last heartbeat's arrival, or of the first sighting. */
  lastHeartbeatAtMs: number;
  /** Event time of the last event applied. */
  lastEventTimeMs: number;
}

export interface AgentStatusState {
  version: typeof STATE_VERSION;
  /** Sorted by agent id. */
  agents: [string, AgentRecord][];
}

export class AgentStatusTracker {
  readonly staleAfterMs: number;
  #agents = new Map<string, AgentRecord>();

  constructor(options: AgentStatusOptions = {}) {
    const staleAfterMs = options.staleAfterMs ?? AGENT_STATUS_DEFAULTS.staleAfterMs;
    requireInteger('agent status', 'staleAfterMs', staleAfterMs, 1000, MAX_STALE_AFTER_MS);

    this.staleAfterMs = staleAfterMs;
  }

  statusOf(agentId: string): AgentStatus | undefined {
    return this.#agents.get(agentId)?.status;
  }

  /**
   * Applies one event that arrived at `nowMs`. Returns the changes it caused, in order: none, one,
   * or two when the agent had gone silent before this event (stale, then the event's status).
   */
  observe(event: AgentEvent, nowMs: number): StatusChange[] {
    const agentId = event.agent.id;
    const record = this.#agents.get(agentId);
    const next = statusAfter(event);

    if (record === undefined) {
      const status = next?.status ?? 'active';
      this.#agents.set(agentId, {
        status,
        sinceMs: nowMs,
        lastHeartbeatAtMs: nowMs,
        lastEventTimeMs: event.timestamp,
      });
      return [
        {
          agentId,
          from: null,
          to: status,
          atMs: nowMs,
          eventTimeMs: event.timestamp,
          cause: next?.cause ?? 'first-seen',
        },
      ];
    }
    if (event.timestamp < record.lastEventTimeMs) return [];

    const changes: StatusChange[] = [];
    const silence = this.#staleChange(agentId, record, nowMs);
    if (silence !== undefined) changes.push(silence);

    record.lastEventTimeMs = event.timestamp;
    if (event.kind === 'heartbeat') record.lastHeartbeatAtMs = nowMs;
    if (next === undefined || next.status === record.status) return changes;
    if (record.status === 'stale' && event.kind !== 'heartbeat') return changes;

    changes.push({
      agentId,
      from: record.status,
      to: next.status,
      atMs: nowMs,
      eventTimeMs: event.timestamp,
      cause: next.cause,
    });
    record.status = next.status;
    record.sinceMs = nowMs;
    return changes;
  }

  /** Marks every agent silent for `staleAfterMs` as stale; the changes sorted by agent id. */
  checkStale(nowMs: number): StatusChange[] {
    const changes: StatusChange[] = [];
    for (const agentId of [...this.#agents.keys()].sort()) {
      const record = this.#agents.get(agentId);
      const change = record === undefined ? undefined : this.#staleChange(agentId, record, nowMs);
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }

  toJSON(): AgentStatusState {
    const agentIds = [...this.#agents.keys()].sort();
    return {
      version: STATE_VERSION,
      agents: agentIds.map((agentId) => [
        agentId,
        { ...(this.#agents.get(agentId) as AgentRecord) },
      ]),
    };
  }

  static restore(options: AgentStatusOptions, state: AgentStatusState): AgentStatusTracker {
    if (state.version !== STATE_VERSION || !Array.isArray(state.agents)) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `agent status state: expected version ${STATE_VERSION} with a list of agents, ` +
          `got version ${describeValue(state.version)}`,
      );
    }

    const tracker = new AgentStatusTracker(options);
    for (const [agentId, record] of state.agents) {
      if (!AGENT_STATUSES.includes(record.status)) {
        throw new PanaceaError(
          'METRICS_STATE_INVALID',
          `agent status state: agent ${agentId} has status ${describeValue(record.status)}`,
        );
      }
      tracker.#agents.set(agentId, { ...record });
    }
    return tracker;
  }

  #staleChange(agentId: string, record: AgentRecord, nowMs: number): StatusChange | undefined {
    if (record.status === 'stale' || nowMs - record.lastHeartbeatAtMs < this.staleAfterMs) {
      return undefined;
    }

    const change: StatusChange = {
      agentId,
      from: record.status,
      to: 'stale',
      atMs: nowMs,
      cause: 'silence',
    };
    record.status = 'stale';
    record.sinceMs = nowMs;
    return change;
  }
}

function statusAfter(event: AgentEvent): { status: AgentStatus; cause: StatusCause } | undefined {
  switch (event.kind) {
    case 'heartbeat':
      return { status: event.heartbeat.status, cause: 'heartbeat' };
    case 'activity':
      return { status: event.activity.status === 'started' ? 'busy' : 'active', cause: 'activity' };
    case 'error':
      return event.error.severity === 'warning' ? undefined : { status: 'error', cause: 'error' };
    case 'audit':
      return undefined;
  }
}
