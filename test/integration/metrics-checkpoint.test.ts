/**
 * The metrics stage's checkpoint on real servers: a partition holding so many open windows, agents
 * and tasks that its checkpoint outgrows one Kafka record still commits, restores after a restart
 * and carries on counting; and an event stamped far in the future stays out of the windows
 * instead of closing them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isolate, readTopic, runPanacea, type Isolation } from './harness.js';

const WINDOW_MS = 60_000;
const BASE_MS = Date.parse('2026-11-30T12:00:00.000Z');
const MANY_AGENTS = 3_000;

function metricsEnv(isolation: Isolation): NodeJS.ProcessEnv {
  // Windows stay open across both runs: a lateness far above the set's span, and the quiet
  // partition timer (a window plus the lateness of processing time) far away too.
  return {
    ...isolation.env,
    PANACEA_METRICS_WINDOW_MS: String(WINDOW_MS),
    PANACEA_METRICS_LATENESS_MS: String(60 * WINDOW_MS),
  };
}

async function produceLines(isolation: Isolation, name: string, events: object[]): Promise<void> {
  const file = path.join(isolation.dataDir, `${name}.ndjson`);
  writeFileSync(file, events.map((event) => JSON.stringify(event)).join('\n'));
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout, produced.stderr).toContain(`published ${events.length}, rejected 0`);
}

function heartbeat(agent: number, beat: number, timestamp = BASE_MS + beat * 1_000): object {
  return {
    kind: 'heartbeat',
    eventId: `beat-${agent}-${beat}`,
    timestamp,
    agent: { id: `crowded-agent-${agent}` },
    heartbeat: { status: 'busy', cpuPercent: 10 + (agent % 50), memoryMb: 100 + agent },
  };
}

function taskStart(agent: number): object {
  return {
    kind: 'activity',
    eventId: `start-${agent}`,
    timestamp: BASE_MS + 500,
    agent: { id: `crowded-agent-${agent}` },
    workflowId: `crowded-workflow-${agent}`,
    taskId: `task-${agent}`,
    activity: { action: 'task.run', status: 'started' },
  };
}

/** Agent windows whose heartbeat count is `count`, by a count query on the window index. */
async function agentWindowsWithBeats(isolation: Isolation, count: number): Promise<number> {
  const index = `metrics-agent.window-${isolation.namespace}`;
  await fetch(`${isolation.elasticsearchUrl}/${index}/_refresh`, { method: 'POST' });
  const response = await fetch(`${isolation.elasticsearchUrl}/${index}/_count`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: {
        bool: {
          filter: [
            { term: { 'panacea.metrics.scope': 'agent' } },
            { term: { 'panacea.metrics.heartbeat.count': count } },
          ],
        },
      },
    }),
  });
  const body = (await response.json()) as { count?: number; error?: unknown };
  if (body.count === undefined) throw new Error(`count failed: ${JSON.stringify(body.error)}`);
  return body.count;
}

describe('metrics checkpoint', () => {
  it('splits a checkpoint larger than a Kafka record, restores it and counts on', async () => {
    const isolation = isolate('metricsbig');
    const env = metricsEnv(isolation);
    const agents = Array.from({ length: MANY_AGENTS }, (_, agent) => agent);
    await produceLines(isolation, 'first', [
      ...agents.map((agent) => heartbeat(agent, 0)),
      ...agents.map((agent) => taskStart(agent)),
    ]);

    const first = await runPanacea(['run', '--until-idle'], env);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(await agentWindowsWithBeats(isolation, 1)).toBe(MANY_AGENTS);

    // The second beat lands in the same, still open, window: only a restored checkpoint knows
    // the first one.
    await produceLines(
      isolation,
      'second',
      agents.map((agent) => heartbeat(agent, 1)),
    );
    const second = await runPanacea(['run', '--until-idle'], env);

    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(`metrics: ${MANY_AGENTS} records, 0 dead-lettered`);
    expect(await agentWindowsWithBeats(isolation, 2)).toBe(MANY_AGENTS);
    const stateTopic = `${isolation.topicPrefix}panacea.metrics-state`;
    const checkpoints = await readTopic(isolation, stateTopic, 1_000, 5_000);
    expect(checkpoints.some((record) => record.key?.includes('#chunk-1'))).toBe(true);
  });

  it('leaves an event stamped a day ahead out of the windows, which stay open', async () => {
    const isolation = isolate('metricsfuture');
    const env = metricsEnv(isolation);
    // A window that has just passed, so both beats fall in it whatever the time is now.
    const windowStartMs = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - WINDOW_MS;
    await produceLines(isolation, 'events', [
      heartbeat(1, 0, windowStartMs + 1_000),
      heartbeat(1, 1, Date.now() + 86_400_000),
      heartbeat(1, 2, windowStartMs + 2_000),
    ]);

    const run = await runPanacea(['run', '--until-idle'], env);

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('metrics: 3 records, 0 dead-lettered, 1 future (heartbeat 1)');
    expect(await agentWindowsWithBeats(isolation, 2)).toBe(1);
  });
});
