/**
 * Pins what the OpenHands importer makes of the real session shipped in ../shared/datasets, and how
 * it reads time zones and refuses bad input.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { importOpenHandsSession } from '../../../../producers/importers/openhands.js';
import { validateEvent } from '../../../../schemas/contract.js';
import type {
  ActivityEvent,
  AgentEvent,
  ErrorEvent,
  HeartbeatEvent,
} from '../../../../schemas/event.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import {
  OPENHANDS_SESSION_FILE,
  requireDataset,
} from '../../../../producers/importers/shipped-datasets.js';

const SESSION_PATH = requireDataset(OPENHANDS_SESSION_FILE);
const SESSION_CONTENT = readFileSync(SESSION_PATH, 'utf8');
const SESSION_ID = '2132fbda813f';
const HOUR_MS = 3_600_000;

function importShipped(timeZone?: string) {
  return importOpenHandsSession(SESSION_CONTENT, { sourceName: SESSION_PATH, timeZone });
}

function activityOf(events: AgentEvent[], openhandsId: number): ActivityEvent {
  const event = events.find(
    (candidate) => candidate.eventId === `openhands:${SESSION_ID}:${openhandsId}`,
  );
  if (event?.kind !== 'activity') throw new Error(`no activity for OpenHands id ${openhandsId}`);
  return event;
}

/** The activity of OpenHands id `openhandsId`, after checking its action, status and duration. */
function expectActivity(
  events: AgentEvent[],
  openhandsId: number,
  action: string,
  status: ActivityEvent['activity']['status'],
  durationMs: number,
): ActivityEvent {
  const activity = activityOf(events, openhandsId);
  expect(activity.activity).toMatchObject({ action, status, durationMs });
  return activity;
}

function ofKind<K extends AgentEvent['kind']>(events: AgentEvent[], kind: K) {
  return events.filter((event): event is Extract<AgentEvent, { kind: K }> => event.kind === kind);
}

/** A two-entry session: one run action at `timestamp` and its successful observation 1 s later. */
function syntheticSession(timestamp: string, observationTimestamp: string): string {
  return JSON.stringify([
    {
      id: 0,
      timestamp,
      source: 'agent',
      action: 'run',
      args: { command: 'true' },
    },
    {
      id: 1,
      timestamp: observationTimestamp,
      source: 'agent',
      cause: 0,
      observation: 'run',
      extras: { command: 'true', metadata: { exit_code: 0 } },
      success: true,
    },
  ]);
}

/** The events the importer makes of a syntheticSession, read with the given name and zone. */
function importSynthetic(
  options: { sourceName: string; timeZone: string },
  timestamp: string,
  observationTimestamp: string,
): AgentEvent[] {
  return importOpenHandsSession(syntheticSession(timestamp, observationTimestamp), options).events;
}

describe('openhands importer on the shipped basic_gui_mode session', () => {
  it('derives the session id and the default agent id from the sha-256 of the content', () => {
    const { sessionId, events } = importShipped();

    expect(sessionId).toBe(SESSION_ID);
    for (const event of events) {
      expect(event.agent).toEqual({
        id: `openhands-${SESSION_ID}`,
        name: 'OpenHands',
        type: 'openhands',
      });
      expect(event.workflowId).toBe(`openhands-session-${SESSION_ID}`);
    }
  });

  it('yields 6 activities, 1 error, 4 heartbeats and no audit events', () => {
    const { events } = importShipped();

    expect(events).toHaveLength(11);
    expect(ofKind(events, 'activity')).toHaveLength(6);
    expect(ofKind(events, 'error')).toHaveLength(1);
    expect(ofKind(events, 'heartbeat')).toHaveLength(4);
    expect(ofKind(events, 'audit')).toHaveLength(0);
  });

  it('turns the timed-out http.server command into a failed activity of 30580.23 ms', () => {
    const { events } = importShipped();

    // 20:29:59.282034 → 20:30:29.862264: durations keep the microseconds, so three decimals.
    const activity = expectActivity(events, 13, 'tool.execute_bash', 'failed', 30580.23);

    expect(activity.activity.attributes).toMatchObject({
      'shell.command': 'cd /workspace/todo-app && python3 -m http.server 8000',
      'shell.exit_code': -1,
      'openhands.event_id': 13,
      'openhands.observation_id': 14,
    });
    expect(activity.taskId).toBe('openhands-13');
    expect(activity.timestamp).toBe(Date.UTC(2025, 0, 20, 20, 29, 59, 282));
  });

  it('reports the failed command as an error naming the command, exit code and timeout', () => {
    const [error] = ofKind(importShipped().events, 'error') as ErrorEvent[];

    expect(error).toMatchObject({
      eventId: `openhands:${SESSION_ID}:14:error`,
      taskId: 'openhands-13',
      timestamp: Date.UTC(2025, 0, 20, 20, 30, 29, 862),
      error: { type: 'openhands.CommandFailed', severity: 'error', retryable: false },
    });
    expect(error?.error.message).toMatch(
      new RegExp(
        '^command `cd /workspace/todo-app && python3 -m http\\.server 8000` failed with ' +
          'exit code -1: The command has no new output after 30 seconds\\.',
      ),
    );
  });

  it('marks the mkdir command succeeded with its 658.357 ms duration and exit code 0', () => {
    const { events } = importShipped();

    const activity = expectActivity(events, 7, 'tool.execute_bash', 'succeeded', 658.357);

    expect(activity.activity.attributes).toMatchObject({
      'shell.command': 'mkdir -p /workspace/todo-app',
      'shell.exit_code': 0,
    });
  });

  it('carries the tool, the model and the token usage of a tool call as attributes', () => {
    const activity = activityOf(importShipped().events, 9);

    expect(activity.activity.action).toBe('tool.str_replace_editor');
    expect(activity.activity.durationMs).toBe(42.276);
    expect(activity.activity.attributes).toEqual({
      'openhands.action': 'edit',
      'openhands.event_id': 9,
      'openhands.source': 'agent',
      'openhands.observation': 'edit',
      'openhands.observation_id': 10,
      'tool.name': 'str_replace_editor',
      'tool.call_id': 'toolu_01YYLXwwdBLwtMmjr5Sfsieg',
      'llm.model': 'claude-3-5-sonnet-20241022',
      'llm.usage.prompt_tokens': 3601,
      'llm.usage.completion_tokens': 1142,
      'llm.usage.total_tokens': 4743,
      'llm.usage.cache_read_tokens': 3435,
      'llm.usage.cache_creation_tokens': 160,
      'file.path': '/workspace/todo-app/index.html',
    });
  });

  it('closes message actions with their "null" observations', () => {
    const { events } = importShipped();

    expectActivity(events, 4, 'openhands.message', 'succeeded', 26.293);
    expectActivity(events, 15, 'openhands.message', 'succeeded', 6.194);
  });

  it('maps the agent states to heartbeats idle, idle, busy, idle, one per state change', () => {
    const heartbeats = ofKind(importShipped().events, 'heartbeat') as HeartbeatEvent[];

    // loading (0), init (action 1; observation 3 repeats it 13 ms later), running (5),
    // awaiting_user_input (17).
    expect(heartbeats.map((event) => event.heartbeat.status)).toEqual([
      'idle',
      'idle',
      'busy',
      'idle',
    ]);
    expect(heartbeats.map((event) => event.eventId)).toEqual([
      `openhands:${SESSION_ID}:0:heartbeat`,
      `openhands:${SESSION_ID}:1:heartbeat`,
      `openhands:${SESSION_ID}:5:heartbeat`,
      `openhands:${SESSION_ID}:17:heartbeat`,
    ]);
  });

  it('orders the events by timestamp', () => {
    const timestamps = importShipped().events.map((event) => event.timestamp);

    expect(timestamps).toEqual([...timestamps].sort((left, right) => left - right));
  });

  it('returns only events that pass the event contract unchanged', () => {
    for (const event of importShipped().events) {
      expect(validateEvent(event)).toEqual({ ok: true, event });
    }
  });

  it('gives the same unique ids when the same file is imported twice', () => {
    const firstIds = importShipped().events.map((event) => event.eventId);
    const secondIds = importShipped().events.map((event) => event.eventId);

    expect(secondIds).toEqual(firstIds);
    expect(new Set(firstIds).size).toBe(firstIds.length);
    expect(firstIds.every((id) => id.startsWith(`openhands:${SESSION_ID}:`))).toBe(true);
  });

  it('uses the agent id it is given instead of the derived one', () => {
    const { events } = importOpenHandsSession(SESSION_CONTENT, {
      sourceName: SESSION_PATH,
      agentId: 'todo-builder',
    });

    expect(events.every((event) => event.agent.id === 'todo-builder')).toBe(true);
  });
});

describe('openhands importer time zones', () => {
  it("shifts every timestamp by -1 h with 'Europe/Berlin' in January and keeps durations", () => {
    const utc = importShipped().events;
    const berlin = importShipped('Europe/Berlin').events;

    expect(berlin.map((event) => event.timestamp)).toEqual(
      utc.map((event) => event.timestamp - HOUR_MS),
    );
    expect(activityOf(berlin, 13).activity.durationMs).toBe(30580.23);
  });

  it("shifts every timestamp by -5 h 30 min with the offset '+05:30'", () => {
    const utc = importShipped().events;
    const india = importShipped('+05:30').events;

    expect(india.map((event) => event.timestamp)).toEqual(
      utc.map((event) => event.timestamp - 5.5 * HOUR_MS),
    );
  });

  it("reads a July time in 'Europe/Berlin' as summer time, UTC+2", () => {
    const events = importSynthetic(
      { sourceName: 'july.json', timeZone: 'Europe/Berlin' },
      '2025-07-01T12:00:00.250000',
      '2025-07-01T12:00:01.250000',
    );

    expect(events[0]?.timestamp).toBe(Date.UTC(2025, 6, 1, 10, 0, 0, 250));
  });

  it('moves a skipped spring time forward and reads a repeated autumn time as the earlier', () => {
    // 2025-03-30 02:30 does not exist in Berlin (03:30 CEST); 2025-10-26 02:30 happens twice.
    const events = importSynthetic(
      { sourceName: 'dst.json', timeZone: 'Europe/Berlin' },
      '2025-03-30T02:30:00',
      '2025-10-26T02:30:00',
    );

    expect(events[0]?.timestamp).toBe(Date.UTC(2025, 2, 30, 1, 30));
    expect((events[0] as ActivityEvent).activity.durationMs).toBe(
      Date.UTC(2025, 9, 26, 0, 30) - Date.UTC(2025, 2, 30, 1, 30),
    );
  });

  it('keeps the offset of a timestamp that carries its own', () => {
    const events = importSynthetic(
      { sourceName: 'zoned.json', timeZone: '+05:30' },
      '2025-01-20T20:29:59.282034Z',
      '2025-01-20T21:30:00+01:00',
    );

    expect(events[0]?.timestamp).toBe(Date.UTC(2025, 0, 20, 20, 29, 59, 282));
    expect((events[0] as ActivityEvent).activity.durationMs).toBe(717.966);
  });

  it('refuses an unknown zone and an out-of-range offset, naming the value and field tz', () => {
    const unknownZone = thrownPanaceaError(() => importShipped('Mars/Olympus'));
    const badOffset = thrownPanaceaError(() => importShipped('+25:00'));

    expect(unknownZone.code).toBe('IMPORT_INVALID');
    expect(unknownZone.message).toMatch(/time zone "Mars\/Olympus" is not valid: expected "UTC"/);
    expect(unknownZone.context.field).toBe('tz');
    expect(badOffset.message).toContain('time zone "+25:00" is not valid');
  });
});

describe('openhands importer on bad input', () => {
  it('refuses content that is not JSON', () => {
    const error = thrownPanaceaError(() =>
      importOpenHandsSession('not json at all', { sourceName: 'broken.json' }),
    );

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.message).toMatch(/^broken\.json: is not valid JSON \(/);
  });

  it('refuses JSON that is not an array', () => {
    const error = thrownPanaceaError(() =>
      importOpenHandsSession('{"id": 1}', { sourceName: 'obj.json' }),
    );

    expect(error.message).toBe(
      'obj.json: expected a JSON array of OpenHands events, got an object',
    );
  });

  it('names the entry, its id, the field and the reason for a bad timestamp', () => {
    const entries = JSON.parse(SESSION_CONTENT) as Array<Record<string, unknown>>;
    entries[14] = { ...entries[14], timestamp: 'abc' };

    const error = thrownPanaceaError(() =>
      importOpenHandsSession(JSON.stringify(entries), { sourceName: 'edited.json' }),
    );

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.message).toMatch(
      /^edited\.json: entry 14 \(id 14\): timestamp "abc" is not an ISO 8601 date-time/,
    );
    expect(error.context).toMatchObject({ field: 'timestamp', entry: 14, openhandsId: 14 });
  });

  it('names the entry of a state change that does not say which state', () => {
    const entries = JSON.parse(SESSION_CONTENT) as Array<Record<string, unknown>>;
    entries[5] = { ...entries[5], extras: {} };

    const error = thrownPanaceaError(() =>
      importOpenHandsSession(JSON.stringify(entries), { sourceName: 'edited.json' }),
    );

    expect(error.message).toMatch(
      /^edited\.json: entry 5 \(id 5\): extras\.agent_state is required/,
    );
  });
});

describe('openhands importer on unanswered actions', () => {
  it('reports an action without an observation as started, with no duration', () => {
    const entries = JSON.parse(SESSION_CONTENT) as Array<Record<string, unknown>>;
    const withoutAnswer = entries.filter((entry) => entry.id !== 16);

    const { events } = importOpenHandsSession(JSON.stringify(withoutAnswer), {
      sourceName: 'cut.json',
    });
    const activity = events.find((event) => event.eventId.endsWith(':15'));

    expect(activity).toMatchObject({ kind: 'activity', activity: { status: 'started' } });
    expect((activity as ActivityEvent).activity.durationMs).toBeUndefined();
  });
});
