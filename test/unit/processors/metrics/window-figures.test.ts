import { describe, expect, it } from 'vitest';

import {
  WindowFigures,
  type WindowFiguresState,
} from '../../../../processors/metrics/window-figures.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { T0_MS, activityAt, errorAt, heartbeatAt, seededRandom } from './support.js';

const OPTIONS = { relativeAccuracy: 0.01, maxErrorTypes: 3 };

function figuresOf(events: AgentEvent[]): WindowFigures {
  const figures = new WindowFigures(OPTIONS);
  for (const event of events) figures.add(event);
  return figures;
}

function mixedEvents(seed: number, length: number): AgentEvent[] {
  const random = seededRandom(seed);
  return Array.from({ length }, (_, index) => {
    const atMs = T0_MS + Math.floor(random() * 60_000);
    const roll = random();
    if (roll < 0.4) {
      return heartbeatAt(atMs, {
        status: random() < 0.5 ? 'busy' : 'idle',
        cpuPercent: random() * 100,
        memoryMb: random() * 1000,
      });
    }
    if (roll < 0.8) {
      return activityAt(
        atMs,
        { status: 'succeeded', durationMs: random() * 5000 },
        { taskId: `t-${index}` },
      );
    }
    return errorAt(atMs, { type: random() < 0.5 ? 'A' : 'B', severity: 'error' });
  });
}

describe('window figures', () => {
  it('merge to the same state in any order, CPU mean included', () => {
    const parts = [mixedEvents(1, 300), mixedEvents(2, 500), mixedEvents(3, 200)];
    const whole = figuresOf(parts.flat());

    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const merged = new WindowFigures(OPTIONS);
      for (const index of order) merged.merge(figuresOf(parts[index] ?? []));
      expect(merged.toJSON()).toEqual(whole.toJSON());
      expect(merged.meanCpuPercent()).toBe(whole.meanCpuPercent());
    }
  });

  it('takes the status of the latest heartbeat by event time, the more severe on a tie', () => {
    const figures = figuresOf([
      heartbeatAt(T0_MS + 2_000, { status: 'idle' }),
      heartbeatAt(T0_MS + 1_000, { status: 'error' }),
      heartbeatAt(T0_MS + 2_000, { status: 'busy' }),
      heartbeatAt(T0_MS + 2_000, { status: 'active' }),
    ]);

    expect(figures.toJSON().heartbeats.latest).toEqual({ status: 'busy', atMs: T0_MS + 2_000 });
  });

  it('keeps a count per error type up to the cap and counts the rest as other types', () => {
    const figures = figuresOf(
      ['A', 'B', 'A', 'C', 'D', 'E', 'B'].map((type) =>
        errorAt(T0_MS, { type, severity: 'warning' }),
      ),
    );

    const state = figures.toJSON();
    expect(state.errorsByType).toEqual([
      ['A', 2],
      ['B', 2],
      ['C', 1],
    ]);
    expect(state.otherErrorTypes).toBe(2);
    expect(state.errorsBySeverity).toEqual({ warning: 7, error: 0, critical: 0 });
  });

  it('leaves out durations of started tasks and of activity without a task id', () => {
    const figures = figuresOf([
      activityAt(T0_MS, { status: 'started', durationMs: 99 }, { taskId: 't-1' }),
      activityAt(T0_MS, { status: 'succeeded', durationMs: 5 }),
      activityAt(T0_MS, { status: 'failed', durationMs: 7 }, { taskId: 't-1' }),
    ]);

    expect(figures.durationsMs.count).toBe(1);
    expect(figures.durationsMs.max).toBe(7);
    expect(figures.toJSON().tasks).toEqual({ started: 1, succeeded: 0, failed: 1 });
  });

  it('round-trips through JSON and refuses state saved with another accuracy', () => {
    const figures = figuresOf(mixedEvents(9, 100));
    const saved = JSON.parse(JSON.stringify(figures)) as WindowFiguresState;

    expect(WindowFigures.fromJSON(saved, OPTIONS).toJSON()).toEqual(figures.toJSON());
    const error = thrownPanaceaError(() =>
      WindowFigures.fromJSON(saved, { ...OPTIONS, relativeAccuracy: 0.02 }),
    );
    expect(error.code).toBe('METRICS_STATE_INVALID');
  });
});
