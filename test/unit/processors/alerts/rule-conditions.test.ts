/**
 * Which conditions hold: thresholds on the latest window of each agent and workflow (workflow
 * partials merged), matches until `resolveAfter`, absences after `after`, audit rates above their
 * bound within the window; and the same answers after a restore.
 */
import { describe, expect, it } from 'vitest';

import { parseAlertRules } from '../../../../processors/alerts/rules-file.js';
import { RuleConditions, groupLabelsOf } from '../../../../processors/alerts/rule-conditions.js';
import { toMetricsDocument } from '../../../../processors/metrics/metrics-document.js';
import type { MetricsRecord } from '../../../../processors/metrics/metrics-records.js';
import { WindowFigures } from '../../../../processors/metrics/window-figures.js';
import type { AgentEvent } from '../../../../schemas/event.js';

const rules = parseAlertRules(
  {
    rules: [
      {
        name: 'failing',
        kind: 'threshold',
        severity: 'critical',
        metric: 'failure_rate',
        above: 0.2,
        minTasks: 4,
      },
      {
        name: 'wf-slow',
        kind: 'threshold',
        severity: 'warning',
        scope: 'workflow',
        metric: 'duration_p95_ms',
        above: 500,
      },
      {
        name: 'crash',
        kind: 'match',
        severity: 'critical',
        match: { severity: 'critical', errorType: '^Tool' },
        groupBy: ['agent', 'error_type'],
        resolveAfter: '10s',
      },
      { name: 'silent', kind: 'absence', severity: 'warning', after: '30s' },
      { name: 'denied', kind: 'audit_rate', severity: 'critical', above: 2, window: '10s' },
    ],
  },
  'rules.yaml',
);

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const OPTIONS = { relativeAccuracy: 0.01, maxErrorTypes: 50 };

function task(
  agentId: string,
  status: 'succeeded' | 'failed',
  durationMs: number,
  workflowId?: string,
): AgentEvent {
  return {
    kind: 'activity',
    eventId: `${agentId}-${Math.random()}`,
    timestamp: T0,
    agent: { id: agentId },
    taskId: `t-${Math.random()}`,
    ...(workflowId === undefined ? {} : { workflowId }),
    activity: { action: 'task.run', status, durationMs },
  };
}

function windowRecord(
  scope: 'agent' | 'workflow',
  subjectId: string,
  startMs: number,
  events: AgentEvent[],
  source = 'enriched-0',
): MetricsRecord {
  const figures = new WindowFigures(OPTIONS);
  for (const event of events) figures.add(event);
  const documentId = `${scope}:${subjectId}:${new Date(startMs).toISOString()}`;
  const document = toMetricsDocument({
    documentId,
    scope,
    subjectId,
    windowStartMs: startMs,
    windowEndMs: startMs + 60_000,
    final: false,
    figures,
  });
  return { record: 'window', id: documentId, version: 1, source, document };
}

function error(agentId: string, type: string, severity: 'critical' | 'warning'): AgentEvent {
  return {
    kind: 'error',
    eventId: `e-${Math.random()}`,
    timestamp: T0,
    agent: { id: agentId },
    error: { type, message: 'x', severity },
  };
}

function denied(actor: string): AgentEvent {
  return {
    kind: 'audit',
    eventId: `a-${Math.random()}`,
    timestamp: T0,
    agent: { id: 'gatekeeper' },
    audit: {
      actor: { type: 'user', id: actor },
      action: 'read',
      resource: { type: 'secret', id: 's' },
      outcome: 'denied',
    },
  };
}

function holding(conditions: RuleConditions, nowMs: number): string[] {
  return conditions
    .conditionsAt(nowMs)
    .map((c) => `${c.rule.name} ${JSON.stringify(c.groupLabels)} ${c.value}`);
}

describe('rule conditions', () => {
  it('holds a threshold on the latest window only, and not below minTasks', () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'failing'));
    const failing = [...Array(4)].map(() => task('a', 'failed', 10));
    conditions.observeMetrics(
      windowRecord('agent', 'a', T0, [...failing, task('a', 'succeeded', 10)]),
    );
    conditions.observeMetrics(windowRecord('agent', 'b', T0, failing.slice(0, 3)));
    expect(holding(conditions, T0)).toEqual(['failing {"agent":"a"} 0.8']);

    // An older window arriving late changes nothing; a newer good one clears it.
    conditions.observeMetrics(windowRecord('agent', 'a', T0 - 60_000, failing));
    expect(holding(conditions, T0)).toHaveLength(1);
    const good = [...Array(5)].map(() => task('a', 'succeeded', 10));
    conditions.observeMetrics(windowRecord('agent', 'a', T0 + 60_000, good));
    expect(holding(conditions, T0)).toEqual([]);
  });

  it("keeps the previous window's verdict while a new window holds too few tasks", () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'failing'));
    const failing = [...Array(5)].map(() => task('a', 'failed', 10));
    conditions.observeMetrics(windowRecord('agent', 'a', T0, failing));
    conditions.observeMetrics(windowRecord('agent', 'a', T0 + 60_000, failing.slice(0, 1)));
    expect(holding(conditions, T0)).toEqual(['failing {"agent":"a"} 1']);
    // Two windows back is too old to speak: no verdict.
    conditions.observeMetrics(windowRecord('agent', 'a', T0 + 120_000, failing.slice(0, 1)));
    expect(holding(conditions, T0)).toEqual([]);
    // An update of the new window with enough tasks decides.
    conditions.observeMetrics(windowRecord('agent', 'a', T0 + 120_000, failing.slice(0, 4)));
    expect(holding(conditions, T0)).toEqual(['failing {"agent":"a"} 1']);
    const good = [...Array(4)].map(() => task('a', 'succeeded', 10));
    conditions.observeMetrics(windowRecord('agent', 'a', T0 + 120_000, good));
    expect(holding(conditions, T0)).toEqual([]);
  });

  it('merges the partials of a workflow window before comparing', () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'wf-slow'));
    const fast = [...Array(19)].map(() => task('x', 'succeeded', 100, 'wf'));
    const slow = [...Array(5)].map(() => task('y', 'succeeded', 2_000, 'wf'));
    conditions.observeMetrics(windowRecord('workflow', 'wf', T0, fast, 'enriched-0'));
    expect(holding(conditions, T0)).toEqual([]);
    conditions.observeMetrics(windowRecord('workflow', 'wf', T0, slow, 'enriched-1'));
    const [held] = conditions.conditionsAt(T0);
    expect(held?.groupLabels).toEqual({ workflow: 'wf' });
    expect(held?.value).toBeGreaterThan(1_900);
    // A partial delivered again replaces itself.
    conditions.observeMetrics(windowRecord('workflow', 'wf', T0, fast.slice(0, 1), 'enriched-1'));
    expect(holding(conditions, T0)).toEqual([]);
  });

  it('holds a match per group until resolveAfter passes without one', () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'crash'));
    conditions.observeEvent(error('a', 'ToolCrash', 'critical'), T0, T0);
    conditions.observeEvent(error('a', 'ToolCrash', 'critical'), T0, T0 + 5_000);
    conditions.observeEvent(error('a', 'OtherCrash', 'critical'), T0, T0);
    conditions.observeEvent(error('b', 'ToolCrash', 'warning'), T0, T0);
    expect(holding(conditions, T0 + 14_999)).toEqual([
      'crash {"agent":"a","error_type":"ToolCrash"} 2',
    ]);
    expect(holding(conditions, T0 + 15_000)).toEqual([]);
  });

  it('holds an absence once a seen agent has been silent for `after`', () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'silent'));
    conditions.observeEvent(error('a', 'X', 'warning'), T0, T0);
    conditions.observeEvent(error('b', 'X', 'warning'), T0 + 20_000, T0 + 20_000);
    expect(holding(conditions, T0 + 29_999)).toEqual([]);
    expect(holding(conditions, T0 + 30_000)).toEqual(['silent {"agent":"a"} 30']);
    // Arrival time, not the time the stage counted it, is what an agent is measured from.
    conditions.observeEvent(error('a', 'X', 'warning'), T0 + 31_000, T0 + 40_000);
    expect(holding(conditions, T0 + 40_000)).toEqual([]);
  });

  it('trips an audit rate above its bound within the window, and holds it for a window', () => {
    const conditions = new RuleConditions(rules.filter((r) => r.name === 'denied'));
    conditions.observeEvent(denied('m'), T0, T0);
    conditions.observeEvent(denied('m'), T0 + 4_000, T0 + 4_000);
    conditions.observeEvent(denied('m'), T0 + 11_000, T0 + 11_000);
    expect(holding(conditions, T0 + 11_000)).toEqual([]);
    conditions.observeEvent(denied('m'), T0 + 12_000, T0 + 12_000);
    conditions.observeEvent(denied('other'), T0 + 12_000, T0 + 12_000);
    expect(holding(conditions, T0 + 12_000)).toEqual(['denied {"actor":"m"} 3']);
    expect(holding(conditions, T0 + 21_999)).toHaveLength(1);
    expect(holding(conditions, T0 + 22_000)).toEqual([]);
  });

  it('answers the same after a restore from its JSON', () => {
    const conditions = new RuleConditions(rules);
    conditions.observeEvent(error('a', 'ToolCrash', 'critical'), T0, T0);
    for (const atMs of [T0, T0 + 1, T0 + 2]) conditions.observeEvent(denied('m'), atMs, atMs);
    conditions.observeMetrics(
      windowRecord(
        'agent',
        'a',
        T0,
        [...Array(5)].map(() => task('a', 'failed', 900)),
      ),
    );
    const restored = RuleConditions.restore(rules, JSON.parse(JSON.stringify(conditions.toJSON())));
    expect(holding(restored, T0 + 1_000)).toHaveLength(3);
    // Time only moves on: an evaluation forgets what no longer holds.
    for (const nowMs of [T0 + 1_000, T0 + 9_000, T0 + 31_000]) {
      expect(holding(restored, nowMs)).toEqual(holding(conditions, nowMs));
    }
  });

  it('leaves out an event that lacks a group label', () => {
    expect(groupLabelsOf(['workflow'], error('a', 'X', 'critical'))).toBeUndefined();
    expect(groupLabelsOf(['agent', 'severity'], error('a', 'X', 'critical'))).toEqual({
      agent: 'a',
      severity: 'critical',
    });
  });
});
