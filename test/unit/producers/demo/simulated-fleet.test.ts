import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import {
  createSimulatedFleet,
  type SimulatedFleetOptions,
} from '../../../../producers/demo/simulated-fleet.js';
import { validateEvent } from '../../../../schemas/contract.js';
import type {
  ActivityEvent,
  AgentEvent,
  AuditEvent,
  ErrorEvent,
} from '../../../../schemas/event.js';

const START_MS = Date.UTC(2025, 2, 14, 9, 0, 0);
const TEN_MINUTES_MS = 10 * 60_000;
const STEP_MS = 1_000;

interface ClockWindow {
  fromMs: number;
  toMs: number;
  events: AgentEvent[];
}

/** Drives a fleet like the demo does: one call per simulated second. */
function runFleet(durationMs: number, options: SimulatedFleetOptions = {}, stepMs = STEP_MS) {
  const fleet = createSimulatedFleet(START_MS, options);
  const windows: ClockWindow[] = [];
  for (let fromMs = START_MS; fromMs < START_MS + durationMs; fromMs += stepMs) {
    const toMs = Math.min(fromMs + stepMs, START_MS + durationMs);
    windows.push({ fromMs, toMs, events: fleet.advanceTo(toMs) });
  }
  return { fleet, windows, events: windows.flatMap((window) => window.events) };
}

const activities = (events: AgentEvent[]) =>
  events.filter((event): event is ActivityEvent => event.kind === 'activity');
const errors = (events: AgentEvent[]) =>
  events.filter((event): event is ErrorEvent => event.kind === 'error');
const audits = (events: AgentEvent[]) =>
  events.filter((event): event is AuditEvent => event.kind === 'audit');

describe('simulated fleet', () => {
  describe('determinism', () => {
    it('produces identical events for the same seed and clock', () => {
      const first = runFleet(TEN_MINUTES_MS, { seed: 42 }).events;
      const second = runFleet(TEN_MINUTES_MS, { seed: 42 }).events;

      expect(second).toEqual(first);
    });

    it('produces the same events however the clock is sliced', () => {
      const bySecond = runFleet(TEN_MINUTES_MS, { seed: 7 }).events;
      const inOneCall = createSimulatedFleet(START_MS, { seed: 7 }).advanceTo(
        START_MS + TEN_MINUTES_MS,
      );
      const unevenly = runFleet(TEN_MINUTES_MS, { seed: 7 }, 7_919).events;

      expect(inOneCall).toEqual(bySecond);
      expect(unevenly).toEqual(bySecond);
    });

    it('produces different events for different seeds', () => {
      const first = runFleet(60_000, { seed: 1 }).events;
      const second = runFleet(60_000, { seed: 2 }).events;

      expect(second).not.toEqual(first);
    });

    it('derives event ids from the seed, the start and a counter', () => {
      const { events } = runFleet(60_000, { seed: 9 });

      expect(events[0]?.eventId).toBe(`demo-9-${START_MS}-1`);
      expect(events[1]?.eventId).toBe(`demo-9-${START_MS}-2`);
    });
  });

  describe('over ten simulated minutes of six agents', () => {
    const { fleet, windows, events } = runFleet(TEN_MINUTES_MS);

    it('describes six agents of several types, each with a name, version and team', () => {
      expect(fleet.agents).toHaveLength(6);
      expect(new Set(fleet.agents.map((agent) => agent.type)).size).toBe(4);
      expect(new Set(fleet.agents.map((agent) => agent.id)).size).toBe(6);
      for (const agent of fleet.agents) {
        expect(agent.name).not.toBe('');
        expect(agent.version).toMatch(/^\d+\.\d+\.\d+/);
        expect(agent.team).not.toBe('');
      }
    });

    it('emits events of all four kinds', () => {
      const kinds = new Set(events.map((event) => event.kind));

      expect([...kinds].sort()).toEqual(['activity', 'audit', 'error', 'heartbeat']);
    });

    it('emits warnings, errors and critical errors', () => {
      const severities = new Set(errors(events).map((event) => event.error.severity));

      expect([...severities].sort()).toEqual(['critical', 'error', 'warning']);
    });

    it('marks rate limits as retryable warnings and gives errors a stack trace', () => {
      const rateLimits = errors(events).filter((event) => event.error.type === 'RateLimitError');
      const withSeverityError = errors(events).filter((event) => event.error.severity === 'error');

      expect(rateLimits.length).toBeGreaterThan(0);
      for (const event of rateLimits) {
        expect(event.error).toMatchObject({ severity: 'warning', retryable: true });
      }
      for (const event of withSeverityError) {
        expect(event.error.stack).toMatch(/\n/);
      }
    });

    it('emits denied audits with a reason and a private source address', () => {
      const denied = audits(events).filter((event) => event.audit.outcome === 'denied');

      expect(denied.length).toBeGreaterThan(0);
      for (const event of denied) {
        expect(event.audit.reason).toBeTruthy();
        expect(event.audit.sourceIp).toMatch(/^(10\.\d+|192\.168)\.\d+\.\d+$/);
      }
    });

    it('audits access to repositories, tables, secrets and tickets', () => {
      const resourceTypes = new Set(audits(events).map((event) => event.audit.resource.type));
      const outcomes = new Set(audits(events).map((event) => event.audit.outcome));

      expect([...resourceTypes].sort()).toEqual([
        'database_table',
        'repository',
        'secret',
        'ticket',
      ]);
      expect(outcomes.has('success')).toBe(true);
    });

    it('completes tasks both successfully and with failure', () => {
      const actions = new Set(activities(events).map((event) => event.activity.action));

      expect(actions).toContain('task.succeeded');
      expect(actions).toContain('task.failed');
    });

    it('retries failed tool calls and fails the task when the retries run out', () => {
      const retried = activities(events).filter(
        (event) =>
          event.activity.action === 'tool.call' &&
          event.activity.attributes?.['retry.attempt'] !== undefined,
      );
      const exhausted = activities(events).filter(
        (event) => event.activity.attributes?.['retry.exhausted'] === true,
      );

      expect(retried.length).toBeGreaterThan(0);
      expect(exhausted.length).toBeGreaterThan(0);
      expect(exhausted.every((event) => event.activity.action === 'task.failed')).toBe(true);
    });

    it('calls several tools, each with the attributes of its kind', () => {
      const toolCalls = activities(events).filter((event) => event.activity.action === 'tool.call');
      const tools = new Set(toolCalls.map((event) => event.activity.attributes?.['tool.name']));
      const llmCall = toolCalls.find(
        (event) =>
          event.activity.attributes?.['tool.name'] === 'llm.completion' &&
          event.activity.status === 'succeeded',
      );

      expect([...tools].sort()).toEqual([
        'code.exec',
        'db.query',
        'http.request',
        'llm.completion',
        'web.search',
      ]);
      expect(llmCall?.activity.attributes).toMatchObject({
        'llm.model': expect.any(String),
        'llm.usage.total_tokens': expect.any(Number),
        'http.status_code': 200,
      });
    });

    it('sends one heartbeat per agent per heartbeat interval', () => {
      for (const agent of fleet.agents) {
        const beats = events.filter(
          (event) => event.kind === 'heartbeat' && event.agent.id === agent.id,
        );
        expect(beats).toHaveLength(TEN_MINUTES_MS / 10_000);
      }
    });

    it('reports heartbeat status from what the agent is doing', () => {
      const statuses = new Set(
        events.flatMap((event) => (event.kind === 'heartbeat' ? [event.heartbeat.status] : [])),
      );

      expect(statuses).toContain('busy');
      expect(statuses).toContain('error');
      expect(statuses.has('idle') || statuses.has('active')).toBe(true);
    });

    it('returns events in timestamp order, each inside the window it was asked for', () => {
      let previousMs = START_MS;
      for (const window of windows) {
        for (const event of window.events) {
          expect(event.timestamp).toBeGreaterThan(window.fromMs);
          expect(event.timestamp).toBeLessThanOrEqual(window.toMs);
          expect(event.timestamp).toBeGreaterThanOrEqual(previousMs);
          previousMs = event.timestamp;
        }
      }
    });

    it('reports each finished task with the time since it started as its duration', () => {
      const startedAtMs = new Map<string, number>();
      let finished = 0;
      for (const event of activities(events)) {
        const { action, durationMs } = event.activity;
        if (action === 'task.started') startedAtMs.set(event.taskId ?? '', event.timestamp);
        if (action !== 'task.succeeded' && action !== 'task.failed') continue;
        const startMs = startedAtMs.get(event.taskId ?? '');
        expect(startMs).toBeDefined();
        expect(durationMs).toBe(event.timestamp - (startMs ?? 0));
        finished += 1;
      }

      expect(finished).toBeGreaterThan(100);
    });

    it('never reports a negative duration', () => {
      for (const event of activities(events)) {
        if (event.activity.durationMs !== undefined) {
          expect(event.activity.durationMs).toBeGreaterThanOrEqual(0);
        }
      }
    });

    it('ties the errors and audits of a task to its workflow, trace and task', () => {
      const taskStarts = new Map(
        activities(events)
          .filter((event) => event.activity.action === 'task.started')
          .map((event) => [event.taskId, event]),
      );
      const taskScoped = [...errors(events), ...audits(events)].filter(
        (event) => event.taskId !== undefined,
      );

      expect(taskScoped.length).toBeGreaterThan(0);
      for (const event of taskScoped) {
        const start = taskStarts.get(event.taskId);
        expect(start?.workflowId).toBe(event.workflowId);
        expect(start?.traceId).toBe(event.traceId);
        expect(event.spanId).toMatch(/^[0-9a-f]{16}$/);
      }
    });

    it('emits only events that pass the contract', () => {
      for (const event of events) {
        expect(validateEvent(JSON.parse(JSON.stringify(event)))).toEqual({ ok: true, event });
      }
    });

    it('gives every event a distinct id', () => {
      const ids = new Set(events.map((event) => event.eventId));

      expect(ids.size).toBe(events.length);
    });
  });

  describe('clock', () => {
    it('returns nothing when the clock does not move forward', () => {
      const fleet = createSimulatedFleet(START_MS);
      fleet.advanceTo(START_MS + 60_000);

      expect(fleet.advanceTo(START_MS + 60_000)).toEqual([]);
      expect(fleet.advanceTo(START_MS + 30_000)).toEqual([]);
      expect(fleet.advanceTo(START_MS + 61_000).every((e) => e.timestamp > START_MS + 60_000)).toBe(
        true,
      );
    });

    it('rejects a clock that is not a finite number', () => {
      const fleet = createSimulatedFleet(START_MS);

      expect(() => fleet.advanceTo(Number.POSITIVE_INFINITY)).toThrow(/nowMs/);
    });
  });

  describe('options', () => {
    it.each([
      [{ agentCount: 0 }, 'agentCount: expected an integer from 1 to 1000, got 0'],
      [{ agentCount: 2.5 }, 'agentCount: expected an integer from 1 to 1000, got 2.5'],
      [{ seed: -1 }, 'seed: expected an integer from 0 to 4294967295, got -1'],
      [{ heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs: expected an integer from 100'],
      [{ meanTaskGapMs: Number.NaN }, 'meanTaskGapMs: expected an integer from 0'],
    ])('rejects %o with a message naming the option', (options, message) => {
      expect(() => createSimulatedFleet(START_MS, options)).toThrow(message);
    });

    it('rejects bad options as a configuration error that names the field', () => {
      const thrown = captureError(() => createSimulatedFleet(START_MS, { agentCount: 1_001 }));

      expect(thrown).toBeInstanceOf(PanaceaError);
      expect(thrown).toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'agentCount' } });
    });

    it('rejects a start that is not epoch milliseconds', () => {
      expect(() => createSimulatedFleet(START_MS / 1_000)).toThrow(/^startMs: /);
    });

    it('sends heartbeats at the configured interval', () => {
      const { events } = runFleet(60_000, { agentCount: 2, heartbeatIntervalMs: 5_000 });

      expect(events.filter((event) => event.kind === 'heartbeat')).toHaveLength(2 * 12);
    });
  });
});

function captureError(action: () => unknown): unknown {
  try {
    action();
  } catch (error: unknown) {
    return error;
  }
  return undefined;
}
