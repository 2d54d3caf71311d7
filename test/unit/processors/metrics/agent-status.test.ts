import { describe, expect, it } from 'vitest';

import {
  AgentStatusTracker,
  type AgentStatusState,
} from '../../../../processors/metrics/agent-status.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { T0_MS, activityAt, auditAt, errorAt, heartbeatAt } from './support.js';

const STALE_AFTER_MS = 60_000;

function tracker(): AgentStatusTracker {
  return new AgentStatusTracker({ staleAfterMs: STALE_AFTER_MS });
}

describe('agent status', () => {
  it('takes the status a heartbeat reports and says so once per change', () => {
    const statuses = tracker();

    const first = statuses.observe(heartbeatAt(T0_MS, { status: 'idle' }), T0_MS + 5);
    const same = statuses.observe(heartbeatAt(T0_MS + 1_000, { status: 'idle' }), T0_MS + 1_005);
    const busy = statuses.observe(heartbeatAt(T0_MS + 2_000, { status: 'busy' }), T0_MS + 2_005);

    expect(first).toEqual([
      {
        agentId: 'agent-1',
        from: null,
        to: 'idle',
        atMs: T0_MS + 5,
        eventTimeMs: T0_MS,
        cause: 'heartbeat',
      },
    ]);
    expect(same).toEqual([]);
    expect(busy).toEqual([
      {
        agentId: 'agent-1',
        from: 'idle',
        to: 'busy',
        atMs: T0_MS + 2_005,
        eventTimeMs: T0_MS + 2_000,
        cause: 'heartbeat',
      },
    ]);
  });

  it('is busy during a task, active after it, in error on an error but not on a warning', () => {
    const statuses = tracker();
    const path: string[] = [];
    const events = [
      heartbeatAt(T0_MS, { status: 'idle' }),
      activityAt(T0_MS + 1_000, { status: 'started' }),
      activityAt(T0_MS + 2_000, { status: 'failed', durationMs: 1_000 }),
      errorAt(T0_MS + 3_000, { severity: 'warning' }),
      errorAt(T0_MS + 4_000, { severity: 'critical' }),
      auditAt(T0_MS + 5_000),
      activityAt(T0_MS + 6_000, { status: 'succeeded', durationMs: 10 }),
    ];

    for (const event of events) {
      for (const change of statuses.observe(event, event.timestamp))
        path.push(`${change.to} by ${change.cause}`);
    }

    expect(path).toEqual([
      'idle by heartbeat',
      'busy by activity',
      'active by activity',
      'error by error',
      'active by activity',
    ]);
  });

  it('turns stale after the silence and leaves stale with the next heartbeat only', () => {
    const statuses = tracker();
    statuses.observe(heartbeatAt(T0_MS, { status: 'busy' }), T0_MS);

    expect(statuses.checkStale(T0_MS + STALE_AFTER_MS - 1)).toEqual([]);
    expect(statuses.checkStale(T0_MS + STALE_AFTER_MS)).toEqual([
      {
        agentId: 'agent-1',
        from: 'busy',
        to: 'stale',
        atMs: T0_MS + STALE_AFTER_MS,
        cause: 'silence',
      },
    ]);
    expect(statuses.checkStale(T0_MS + 2 * STALE_AFTER_MS)).toEqual([]);

    const activity = statuses.observe(
      activityAt(T0_MS + 70_000, { status: 'started' }),
      T0_MS + 70_000,
    );
    const heartbeat = statuses.observe(
      heartbeatAt(T0_MS + 80_000, { status: 'idle' }),
      T0_MS + 80_000,
    );

    expect(activity).toEqual([]);
    expect(statuses.statusOf('agent-1')).toBe('idle');
    expect(heartbeat.map((change) => [change.from, change.to])).toEqual([['stale', 'idle']]);
  });

  it('notices silence measured in processing time even when the event times stand still', () => {
    const statuses = tracker();
    statuses.observe(heartbeatAt(T0_MS, { status: 'active' }), T0_MS);

    // An error arrives long after the last heartbeat: first stale, and stale stays.
    const changes = statuses.observe(errorAt(T0_MS + 1, { severity: 'error' }), T0_MS + 61_000);

    expect(changes.map((change) => change.to)).toEqual(['stale']);
  });

  it('does not let an older event overwrite a newer status', () => {
    const statuses = tracker();
    statuses.observe(heartbeatAt(T0_MS + 10_000, { status: 'busy' }), T0_MS);

    const changes = statuses.observe(heartbeatAt(T0_MS, { status: 'error' }), T0_MS + 1);

    expect(changes).toEqual([]);
    expect(statuses.statusOf('agent-1')).toBe('busy');
    // Nor count as a sign of life: the newer heartbeat's arrival still starts the silence.
    expect(statuses.checkStale(T0_MS + STALE_AFTER_MS).map((change) => change.to)).toEqual([
      'stale',
    ]);
  });

  it('keeps agents apart and reports stale ones sorted by id', () => {
    const statuses = tracker();
    statuses.observe(heartbeatAt(T0_MS, {}, { agentId: 'b' }), T0_MS);
    statuses.observe(heartbeatAt(T0_MS, {}, { agentId: 'a' }), T0_MS);
    statuses.observe(heartbeatAt(T0_MS + 30_000, {}, { agentId: 'c' }), T0_MS + 30_000);

    const stale = statuses.checkStale(T0_MS + STALE_AFTER_MS);

    expect(stale.map((change) => change.agentId)).toEqual(['a', 'b']);
    expect(statuses.statusOf('c')).toBe('active');
  });

  it('continues the same after its state is saved as JSON and restored', () => {
    const original = tracker();
    original.observe(heartbeatAt(T0_MS, { status: 'busy' }, { agentId: 'a' }), T0_MS);
    original.observe(activityAt(T0_MS + 5, { status: 'succeeded' }, { agentId: 'b' }), T0_MS + 5);

    const restored = AgentStatusTracker.restore(
      { staleAfterMs: STALE_AFTER_MS },
      JSON.parse(JSON.stringify(original)) as AgentStatusState,
    );

    expect(restored.toJSON()).toEqual(original.toJSON());
    expect(restored.checkStale(T0_MS + STALE_AFTER_MS)).toEqual(
      original.checkStale(T0_MS + STALE_AFTER_MS),
    );
    const event = heartbeatAt(T0_MS + 70_000, { status: 'idle' }, { agentId: 'a' });
    expect(restored.observe(event, T0_MS + 70_000)).toEqual(
      original.observe(event, T0_MS + 70_000),
    );
  });

  it('refuses a staleness below a second and state with an unknown status', () => {
    expect(thrownPanaceaError(() => new AgentStatusTracker({ staleAfterMs: 5 })).code).toBe(
      'CONFIG_INVALID',
    );

    const state = {
      version: 1,
      agents: [['a', { status: 'asleep', sinceMs: 0, lastHeartbeatAtMs: 0, lastEventTimeMs: 0 }]],
    } as unknown as AgentStatusState;
    expect(thrownPanaceaError(() => AgentStatusTracker.restore({}, state)).code).toBe(
      'METRICS_STATE_INVALID',
    );
  });
});
