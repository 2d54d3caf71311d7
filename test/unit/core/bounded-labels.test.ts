import { describe, expect, it } from 'vitest';

import { BoundedLabels, OVERFLOW_LABEL } from '../../../core/bounded-labels.js';
import { PipelineMetrics } from '../../../core/metrics-registry.js';

/** The samples of one metric in an exposition, as `{labels} value` lines. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match !== null) found.set(match[1] ?? '', Number(match[2]));
  }
  return found;
}

describe('bounded labels', () => {
  it('keeps the first values seen and reports every later one as other', () => {
    const labels = new BoundedLabels(2);

    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((value) => labels.labelFor(value))).toEqual([
      'a',
      'b',
      OVERFLOW_LABEL,
      'a',
      OVERFLOW_LABEL,
      'b',
    ]);
    expect(labels.trackedCount).toBe(2);
  });

  it('puts every value under other with a bound of 0', () => {
    const labels = new BoundedLabels(0);
    expect(labels.labelFor('a')).toBe(OVERFLOW_LABEL);
    expect(labels.trackedCount).toBe(0);
  });

  it('refuses a bound that is not a whole number', () => {
    expect(() => new BoundedLabels(-1)).toThrow('expected a whole number from 0, got -1');
    expect(() => new BoundedLabels(1.5)).toThrow(RangeError);
  });
});

describe('agent metrics cardinality', () => {
  it('gives at most N agents a label and counts the rest under agent="other"', async () => {
    const metrics = new PipelineMetrics({ maxTrackedAgents: 2 });
    for (const agent of ['a1', 'a2', 'a3', 'a4', 'a5']) metrics.observeAgentStatus(agent, 'busy');
    metrics.observeAgentStatus('a4', 'idle');
    metrics.observeAgentStatus('a1', 'idle');
    for (const agent of ['a1', 'a3', 'a4', 'a5']) metrics.observeTaskEnd(agent, 'succeeded', 2000);
    metrics.observeTaskEnd('a5', 'failed', undefined);

    const text = (await metrics.scrape()).body;
    const agentLabels = new Set(
      [...samples(text, 'panacea_agent_status').keys()].map(
        (labels) => /agent="([^"]*)"/.exec(labels)?.[1],
      ),
    );
    expect(agentLabels).toEqual(new Set(['a1', 'a2', 'other']));
    const status = samples(text, 'panacea_agent_status');
    expect(status.get('{agent="a1",status="idle"}')).toBe(1);
    expect(status.get('{agent="a1",status="busy"}')).toBe(0);
    expect(status.get('{agent="a2",status="busy"}')).toBe(1);
    expect(status.get('{agent="other",status="busy"}')).toBe(2);
    expect(status.get('{agent="other",status="idle"}')).toBe(1);
    const tasks = samples(text, 'panacea_agent_tasks_total');
    expect(tasks.get('{agent="a1",outcome="succeeded"}')).toBe(1);
    expect(tasks.get('{agent="other",outcome="succeeded"}')).toBe(3);
    expect(tasks.get('{agent="other",outcome="failed"}')).toBe(1);
    const durations = samples(text, 'panacea_agent_task_duration_seconds_count');
    expect(durations.get('{agent="other",outcome="succeeded"}')).toBe(3);
    expect(durations.has('{agent="other",outcome="failed"}')).toBe(false);
    expect(samples(text, 'panacea_agents_tracked').get('')).toBe(2);
  });
});
