import { describe, expect, it } from 'vitest';

import {
  toMetricsDocument,
  type WindowResult,
} from '../../../../processors/metrics/metrics-document.js';
import {
  WindowAggregator,
  type WindowAggregatorState,
} from '../../../../processors/metrics/window-aggregator.js';
import { combinePartialWindows } from '../../../../processors/metrics/window-combiner.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { T0_MS, activityAt, auditAt, errorAt, heartbeatAt, seededRandom } from './support.js';

const MINUTE_MS = 60_000;
const SOURCE = 'agent.events.enriched-0';

function aggregator(allowedLatenessMs = 10_000): WindowAggregator {
  return new WindowAggregator({ source: SOURCE, windowSizeMs: MINUTE_MS, allowedLatenessMs });
}

/** Feeds the events in order and returns every closed window, as documents with their ids. */
function run(windows: WindowAggregator, events: AgentEvent[]): [string, unknown][] {
  const output: [string, unknown][] = [];
  for (const event of events) {
    windows.add(event);
    for (const result of windows.takeClosedWindows()) output.push(asDocument(result));
  }
  return output;
}

function asDocument(result: WindowResult): [string, unknown] {
  return [result.documentId, toMetricsDocument(result)];
}

function metricsOf(result: WindowResult | undefined) {
  if (result === undefined) throw new Error('expected a window result');
  return toMetricsDocument(result).panacea.metrics;
}

/** A stream of several agents and workflows, slightly out of order, some events late. */
function randomStream(seed: number, length: number): AgentEvent[] {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  let clockMs = T0_MS;

  return Array.from({ length }, (_, index) => {
    clockMs += Math.floor(random() * 2_000);
    // One event in ten is up to 40 s behind the clock: some fit the lateness, some do not.
    const timestampMs = random() < 0.1 ? clockMs - Math.floor(random() * 40_000) : clockMs;
    const parts = {
      agentId: pick(['a-1', 'a-2', 'a-3']),
      ...(random() < 0.7 ? { workflowId: pick(['wf-1', 'wf-2']) } : {}),
      taskId: `t-${index % 17}`,
    };
    const roll = random();
    if (roll < 0.2) return activityAt(timestampMs, { status: 'started' }, parts);
    if (roll < 0.45) {
      const status = random() < 0.8 ? 'succeeded' : 'failed';
      return activityAt(timestampMs, { status, durationMs: Math.exp(random() * 10) }, parts);
    }
    if (roll < 0.6) {
      return errorAt(
        timestampMs,
        { severity: pick(['warning', 'error', 'critical']), type: pick(['Timeout', 'RateLimit']) },
        parts,
      );
    }
    if (roll < 0.95) {
      return heartbeatAt(
        timestampMs,
        {
          status: pick(['active', 'idle', 'busy', 'error']),
          cpuPercent: random() * 400,
          memoryMb: random() * 4096,
        },
        parts,
      );
    }
    return auditAt(timestampMs, parts);
  });
}

describe('window aggregator', () => {
  it('counts tasks, durations, errors and heartbeats per agent and per workflow', () => {
    const windows = aggregator();
    const parts = { agentId: 'a-1', workflowId: 'wf-1' };
    const events = [
      activityAt(T0_MS + 1_000, { status: 'started' }, { ...parts, taskId: 't-1' }),
      activityAt(T0_MS + 2_000, { status: 'started' }, { ...parts, taskId: 't-2' }),
      activityAt(
        T0_MS + 5_000,
        { status: 'succeeded', durationMs: 4_000 },
        { ...parts, taskId: 't-1' },
      ),
      activityAt(
        T0_MS + 9_000,
        { status: 'failed', durationMs: 7_000 },
        { ...parts, taskId: 't-2' },
      ),
      activityAt(T0_MS + 9_500, { status: 'succeeded', durationMs: 3 }, { agentId: 'a-1' }),
      errorAt(T0_MS + 9_000, { severity: 'critical', type: 'ToolCrash' }, parts),
      errorAt(T0_MS + 9_100, { severity: 'warning', type: 'RateLimit' }, parts),
      heartbeatAt(T0_MS + 10_000, { status: 'busy', cpuPercent: 50, memoryMb: 100 }, parts),
      heartbeatAt(T0_MS + 40_000, { status: 'idle', cpuPercent: 10.5, memoryMb: 300 }, parts),
      auditAt(T0_MS + 50_000, parts),
    ];

    run(windows, events);
    windows.add(heartbeatAt(T0_MS + MINUTE_MS + 10_000, {}, { agentId: 'a-1' }));
    const closed = windows.takeClosedWindows();

    expect(closed.map((result) => result.documentId)).toEqual([
      'agent:a-1:2026-01-15T09:30:00.000Z',
      'workflow:wf-1:2026-01-15T09:30:00.000Z',
    ]);
    const agent = metricsOf(closed[0]);
    expect(agent.final).toBe(true);
    expect(agent.events).toEqual({
      count: 10,
      per_second: 10 / 60,
      by_kind: { activity: 5, error: 2, audit: 1, heartbeat: 2 },
    });
    // The activity without a task id is an event, not a task.
    expect(agent.tasks).toEqual({ started: 2, succeeded: 1, failed: 1, success_rate: 0.5 });
    expect(agent.duration_ms).toMatchObject({ max: 7_000, count: 2, relative_accuracy: 0.01 });
    expect(agent.duration_ms.p50).toBeCloseTo(4_000, -2);
    expect(agent.errors).toMatchObject({
      total: 2,
      by_severity: { warning: 1, error: 0, critical: 1 },
      by_type: [
        { type: 'RateLimit', count: 1 },
        { type: 'ToolCrash', count: 1 },
      ],
    });
    expect(agent.heartbeat).toEqual({
      count: 2,
      status: 'idle',
      by_status: { active: 0, idle: 1, busy: 1, error: 0 },
      cpu_percent_mean: 30.25,
      memory_mb_peak: 300,
    });
    const workflow = metricsOf(closed[1]);
    expect(workflow.events.count).toBe(9);
    expect(workflow.tasks).toEqual(agent.tasks);
  });

  it('keeps a window open until the watermark (latest time − lateness) passes its end', () => {
    const windows = aggregator(10_000);

    windows.add(heartbeatAt(T0_MS + 30_000));
    windows.add(heartbeatAt(T0_MS + MINUTE_MS + 9_999));
    expect(windows.takeClosedWindows()).toEqual([]);
    expect(windows.watermarkMs).toBe(T0_MS + MINUTE_MS - 1);

    windows.add(heartbeatAt(T0_MS + MINUTE_MS + 10_000));
    expect(windows.takeClosedWindows().map((result) => result.windowStartMs)).toEqual([T0_MS]);
  });

  it('counts an event within the lateness in its open window', () => {
    const windows = aggregator(10_000);

    windows.add(heartbeatAt(T0_MS + MINUTE_MS + 5_000));
    expect(windows.add(heartbeatAt(T0_MS + 59_000))).toBe('counted');
    windows.add(heartbeatAt(T0_MS + MINUTE_MS + 10_000));

    const [first] = windows.takeClosedWindows();
    expect(metricsOf(first).heartbeat.count).toBe(1);
    expect(windows.lateEventCount).toBe(0);
  });

  it('counts an event for a closed window as late and leaves the closed result unchanged', () => {
    const windows = aggregator(10_000);
    windows.add(heartbeatAt(T0_MS + 1_000));
    windows.add(heartbeatAt(T0_MS + 2 * MINUTE_MS));
    const [closed] = windows.takeClosedWindows();
    const before = JSON.stringify(toMetricsDocument(closed as WindowResult));

    const outcome = windows.add(heartbeatAt(T0_MS + 30_000, { status: 'error' }));

    expect(outcome).toBe('late');
    expect(windows.lateEventCount).toBe(1);
    expect(windows.takeClosedWindows()).toEqual([]);
    expect(JSON.stringify(toMetricsDocument(closed as WindowResult))).toBe(before);
    // The late event did not open a new window either.
    expect(windows.openWindows().map((result) => result.windowStartMs)).toEqual([
      T0_MS + 2 * MINUTE_MS,
    ]);
  });

  it('leaves an event stamped past its append time plus maxFutureMs out of windows and watermark', () => {
    const windows = new WindowAggregator({
      source: SOURCE,
      windowSizeMs: MINUTE_MS,
      allowedLatenessMs: 10_000,
      maxFutureMs: 5 * MINUTE_MS,
    });
    const appendedAtMs = T0_MS + 2_000;
    windows.add(heartbeatAt(T0_MS + 1_000), appendedAtMs);

    // A wrong agent clock a day ahead would otherwise close the open window at once.
    const outcome = windows.add(heartbeatAt(T0_MS + 24 * 60 * MINUTE_MS), appendedAtMs);
    const atTheBound = windows.add(heartbeatAt(appendedAtMs + 5 * MINUTE_MS), appendedAtMs);

    expect(outcome).toBe('future');
    expect(atTheBound).toBe('counted');
    expect(windows.takeClosedWindows().map((result) => result.windowStartMs)).toEqual([T0_MS]);
    expect(windows.watermarkMs).toBe(appendedAtMs + 5 * MINUTE_MS - 10_000);
    expect(windows.openWindows().map((result) => result.windowStartMs)).toEqual([
      T0_MS + 5 * MINUTE_MS,
    ]);
  });

  it('hands out open windows as copies, not final, so later events do not change them', () => {
    const windows = aggregator();
    windows.add(heartbeatAt(T0_MS + 1_000));

    const [open] = windows.openWindows();
    windows.add(heartbeatAt(T0_MS + 2_000));

    expect(metricsOf(open).final).toBe(false);
    expect(metricsOf(open).heartbeat.count).toBe(1);
    expect(metricsOf(windows.openWindows()[0]).heartbeat.count).toBe(2);
  });

  it('closes the windows of a quiet partition when the stage advances the watermark', () => {
    const windows = aggregator();
    windows.add(heartbeatAt(T0_MS + 1_000));

    windows.advanceWatermark(T0_MS + MINUTE_MS);
    windows.advanceWatermark(T0_MS);

    expect(windows.takeClosedWindows()).toHaveLength(1);
    expect(windows.watermarkMs).toBe(T0_MS + MINUTE_MS);
    expect(windows.add(heartbeatAt(T0_MS + 2_000))).toBe('late');
  });

  it('gives the same output for the same input, sorted by window start, scope and id', () => {
    const events = randomStream(11, 2_000);

    const first = run(aggregator(), events);
    const second = run(aggregator(), events);

    expect(second).toEqual(first);
    const ids = first.map(([id]) => id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(50);
  });

  for (const cut of [1, 137, 1_000, 1_999]) {
    it(`continues exactly after its state is saved as JSON and restored after event ${cut}`, () => {
      const events = randomStream(23, 2_000);
      const uninterrupted = aggregator();
      const expected = run(uninterrupted, events);

      const before = aggregator();
      const output = run(before, events.slice(0, cut));
      const saved = JSON.parse(JSON.stringify(before)) as WindowAggregatorState;
      const after = WindowAggregator.restore(
        { source: SOURCE, windowSizeMs: MINUTE_MS, allowedLatenessMs: 10_000 },
        saved,
      );
      output.push(...run(after, events.slice(cut)));

      expect(output).toEqual(expected);
      expect(after.lateEventCount).toBe(uninterrupted.lateEventCount);
      expect(after.lateEventCount).toBeGreaterThan(0);
      expect(JSON.stringify(after)).toBe(JSON.stringify(uninterrupted));
    });
  }

  it('combines partials of two partitions, and a workflow equals its agents merged', () => {
    // In time order, so no event is late on either partition and both see every one of theirs.
    const events = randomStream(5, 1_500)
      .map((event) => ({ ...event, workflowId: 'wf-1' }))
      .sort((a, b) => a.timestamp - b.timestamp);
    const onPartition = (agentIds: string[]) =>
      events.filter((event) => agentIds.includes(event.agent.id));
    const closeAll = (windows: WindowAggregator) => {
      windows.advanceWatermark(Number.MAX_SAFE_INTEGER);
      return windows.takeClosedWindows();
    };
    const whole = new WindowAggregator({ source: 'all', allowedLatenessMs: 0 });
    const partitionA = new WindowAggregator({ source: 'p-0', allowedLatenessMs: 0 });
    const partitionB = new WindowAggregator({ source: 'p-1', allowedLatenessMs: 0 });
    for (const event of events) whole.add(event);
    for (const event of onPartition(['a-1'])) partitionA.add(event);
    for (const event of onPartition(['a-2', 'a-3'])) partitionB.add(event);

    const wholeResults = closeAll(whole);
    const partials = [
      ...closeAll(partitionB).map((result) => ({ source: 'p-1', result })),
      ...closeAll(partitionA).map((result) => ({ source: 'p-0', result })),
    ];
    const figuresOptions = { relativeAccuracy: 0.01, maxErrorTypes: 50 };

    for (const expected of wholeResults.filter((result) => result.scope === 'workflow')) {
      const mine = partials.filter(({ result }) => result.documentId === expected.documentId);
      const combined = combinePartialWindows(mine, figuresOptions);
      expect(toMetricsDocument(combined)).toEqual(toMetricsDocument(expected));

      const agents = wholeResults.filter(
        (result) => result.scope === 'agent' && result.windowStartMs === expected.windowStartMs,
      );
      const merged = combinePartialWindows(
        agents.map((result) => ({
          source: result.subjectId,
          result: { ...result, documentId: expected.documentId },
        })),
        figuresOptions,
      );
      expect(merged.figures.toJSON()).toEqual(expected.figures.toJSON());
    }
  });

  it('refuses saved state of another partition or another window size', () => {
    const saved = aggregator().toJSON();

    const otherSource = thrownPanaceaError(() =>
      WindowAggregator.restore(
        { source: 'agent.events.enriched-1', windowSizeMs: MINUTE_MS },
        saved,
      ),
    );
    const otherSize = thrownPanaceaError(() =>
      WindowAggregator.restore({ source: SOURCE, windowSizeMs: 5 * MINUTE_MS }, saved),
    );

    expect(otherSource.code).toBe('METRICS_STATE_INVALID');
    expect(otherSource.message).toContain('saved for agent.events.enriched-0');
    expect(otherSize.message).toContain('windows of 60000 ms, this stage makes 300000 ms');
  });

  it('refuses options out of range, naming the option and the value', () => {
    const error = thrownPanaceaError(
      () => new WindowAggregator({ source: SOURCE, windowSizeMs: 10 }),
    );

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'metrics option windowSizeMs: expected an integer from 1000 to 86400000, got number 10',
    );
    expect(
      new WindowAggregator({ source: SOURCE, windowSizeMs: undefined }).options.windowSizeMs,
    ).toBe(60_000);
  });
});
