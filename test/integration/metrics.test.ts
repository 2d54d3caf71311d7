/**
 * The metrics stage on real servers: a known event set gives exactly the expected window figures
 * in Elasticsearch, also when the pipeline is SIGKILLed at a random point and started again; a
 * workflow whose agents sit on several partitions gets one combined window document; a late
 * event is stored as an event and left out of its closed window; tasks in progress and every
 * status change are queryable at any moment.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { agentsOnDistinctPartitions } from './agent-partitions.js';
import { describe, expect, it } from 'vitest';

import {
  field,
  isolate,
  runPanacea,
  searchAll,
  spawnPanacea,
  type Isolation,
  type SearchHit,
} from './harness.js';

const WINDOW_MS = 60_000;
const BASE_MS = Date.parse('2026-11-30T12:00:00.000Z');
const SEVERITIES = ['warning', 'error', 'critical'] as const;

interface SetShape {
  agents: number;
  windows: number;
  tasksPerWindow: number;
}

/** What one agent's window must show, computed here from the generator, not by the stage. */
interface Expected {
  events: number;
  started: number;
  succeeded: number;
  failed: number;
  durationsMs: number[];
  bySeverity: Record<(typeof SEVERITIES)[number], number>;
  cpuPercents: number[];
  memoryPeakMb: number;
}

function durationOf(agent: number, window: number, task: number): number {
  return 20 + ((task * 37 + agent * 11 + window * 5) % 980);
}

/** Every event of the set, as NDJSON lines, and the expected figures per agent window id. */
function eventSet(
  label: string,
  shape: SetShape,
): { lines: string[]; expected: Map<string, Expected> } {
  const lines: string[] = [];
  const expected = new Map<string, Expected>();

  for (let agent = 0; agent < shape.agents; agent += 1) {
    const agentId = `${label}-agent-${agent}`;
    for (let window = 0; window < shape.windows; window += 1) {
      const startMs = BASE_MS + window * WINDOW_MS;
      const figures: Expected = {
        events: 0,
        started: 0,
        succeeded: 0,
        failed: 0,
        durationsMs: [],
        bySeverity: { warning: 0, error: 0, critical: 0 },
        cpuPercents: [],
        memoryPeakMb: 0,
      };
      const add = (event: object): void => {
        lines.push(JSON.stringify(event));
        figures.events += 1;
      };
      const base = (kind: string, id: string, offsetMs: number): object => ({
        kind,
        eventId: `${agentId}-${window}-${id}`,
        timestamp: startMs + offsetMs,
        agent: { id: agentId },
        workflowId: `${label}-wf-${agent}`,
      });

      for (let task = 0; task < shape.tasksPerWindow; task += 1) {
        const offsetMs = Math.floor((task * 50_000) / shape.tasksPerWindow);
        const taskId = `t-${window}-${task}`;
        const status = task % 5 === 0 ? 'failed' : 'succeeded';
        const durationMs = durationOf(agent, window, task);
        add({
          ...base('activity', `start-${task}`, offsetMs),
          taskId,
          activity: { action: 'task.run', status: 'started' },
        });
        add({
          ...base('activity', `end-${task}`, offsetMs + 1_000),
          taskId,
          activity: { action: 'task.run', status, durationMs },
        });
        figures.started += 1;
        figures[status] += 1;
        figures.durationsMs.push(durationMs);
      }
      for (let error = 0; error < 6; error += 1) {
        const severity = SEVERITIES[error % 3] ?? 'error';
        add({
          ...base('error', `error-${error}`, 2_000 + error * 7_000),
          error: { type: error % 2 === 0 ? 'ToolTimeout' : 'RateLimited', message: 'x', severity },
        });
        figures.bySeverity[severity] += 1;
      }
      for (let beat = 0; beat < 5; beat += 1) {
        const cpuPercent = 10 + agent * 3 + beat * 7.5;
        const memoryMb = 200 + window * 10 + beat * 13;
        add({
          ...base('heartbeat', `beat-${beat}`, 500 + beat * 11_000),
          heartbeat: { status: beat === 4 ? 'idle' : 'busy', cpuPercent, memoryMb },
        });
        figures.cpuPercents.push(cpuPercent);
        figures.memoryPeakMb = Math.max(figures.memoryPeakMb, memoryMb);
      }
      expected.set(`agent:${agentId}:${new Date(startMs).toISOString()}`, figures);
    }
  }
  return { lines, expected };
}

/** The exact value at rank floor(q·(n − 1)), the rank the sketch promises to be within 1 % of. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

async function searchMetrics(
  isolation: Isolation,
  record: 'window' | 'window_partial' | 'status' | 'status_history' | 'task',
  query: object = { match_all: {} },
): Promise<SearchHit[]> {
  const index = `metrics-agent.${record}-${isolation.namespace}`;
  const url = isolation.elasticsearchUrl;
  // A search right after the sink created the index can find its shard not yet started.
  for (let attempt = 1; ; attempt += 1) {
    await fetch(`${url}/${index}/_refresh?ignore_unavailable=true`, { method: 'POST' });
    const response = await fetch(`${url}/${index}/_search?ignore_unavailable=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 1000, query }),
    });
    const body = (await response.json()) as { hits?: { hits: SearchHit[] }; error?: unknown };
    if (body.hits !== undefined) return body.hits.hits;
    if (attempt >= 20) throw new Error(`search failed: ${JSON.stringify(body.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function expectFigures(hits: SearchHit[], expected: Map<string, Expected>): void {
  const agentWindows = hits.filter((hit) => field(hit, 'panacea.metrics.scope') === 'agent');
  expect(agentWindows.map((hit) => hit._id).sort()).toEqual([...expected.keys()].sort());

  for (const hit of agentWindows) {
    const want = expected.get(hit._id) as Expected;
    const metric = (name: string): unknown => field(hit, `panacea.metrics.${name}`);
    expect(metric('events.count'), hit._id).toBe(want.events);
    expect(metric('events.per_second')).toBeCloseTo(want.events / (WINDOW_MS / 1000), 9);
    expect(metric('tasks')).toMatchObject({
      started: want.started,
      succeeded: want.succeeded,
      failed: want.failed,
    });
    expect(metric('tasks.success_rate')).toBeCloseTo(
      want.succeeded / (want.succeeded + want.failed),
      12,
    );
    for (const [name, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const exact = exactQuantile(want.durationsMs, q);
      const reported = metric(`duration_ms.${name}`) as number;
      expect(Math.abs(reported - exact) / exact, `${hit._id} ${name}`).toBeLessThanOrEqual(0.01);
    }
    expect(metric('duration_ms.max')).toBe(Math.max(...want.durationsMs));
    expect(metric('duration_ms.count')).toBe(want.durationsMs.length);
    expect(metric('errors.by_severity')).toEqual(want.bySeverity);
    expect(metric('errors.total')).toBe(6);
    expect(metric('heartbeat.count')).toBe(want.cpuPercents.length);
    expect(metric('heartbeat.status')).toBe('idle');
    const meanCpu = want.cpuPercents.reduce((sum, cpu) => sum + cpu, 0) / want.cpuPercents.length;
    expect(metric('heartbeat.cpu_percent_mean')).toBeCloseTo(meanCpu, 9);
    expect(metric('heartbeat.memory_mb_peak')).toBe(want.memoryPeakMb);
  }
}

async function produceLines(isolation: Isolation, name: string, lines: string[]): Promise<void> {
  const file = path.join(isolation.dataDir, `${name}.ndjson`);
  writeFileSync(file, lines.join('\n'));
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout, produced.stderr).toContain(`published ${lines.length}, rejected 0`);
}

function metricsEnv(isolation: Isolation): NodeJS.ProcessEnv {
  // A lateness above the set's span: the enrichment interleaves the four raw topics of one agent
  // in whatever order it fetches them, so no event of the set may depend on arrival order.
  return {
    ...isolation.env,
    PANACEA_METRICS_WINDOW_MS: String(WINDOW_MS),
    PANACEA_METRICS_LATENESS_MS: String(10 * WINDOW_MS),
  };
}

describe('metrics stage', () => {
  it('writes the exact window figures of a known event set to Elasticsearch', async () => {
    const isolation = isolate('metrics');
    const env = metricsEnv(isolation);
    const { lines, expected } = eventSet('m', { agents: 3, windows: 2, tasksPerWindow: 40 });
    await produceLines(isolation, 'events', lines);

    const run = await runPanacea(['run', '--until-idle'], env);

    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain(`metrics: ${lines.length} records, 0 dead-lettered`);
    const windows = await searchMetrics(isolation, 'window');
    expectFigures(windows, expected);
    // One partition per agent, so each workflow window is whole and equals its agent's.
    const workflow = windows.find((hit) => hit._id.startsWith('workflow:m-wf-0:2026-11-30T12:00'));
    expect(field(workflow as SearchHit, 'panacea.metrics.events.count')).toBe(
      expected.get('agent:m-agent-0:2026-11-30T12:00:00.000Z')?.events,
    );
  });

  it('gives the same figures after SIGKILLs at random points and a restart', async () => {
    const isolation = isolate('metricskill');
    const env = metricsEnv(isolation);
    const { lines, expected } = eventSet('k', { agents: 6, windows: 3, tasksPerWindow: 600 });
    await produceLines(isolation, 'events', lines);

    // Killed twice at random points: once the first figures show, and again once the restarted
    // process has moved them on (or after 15 s, if it finished first). The first wait is long: a
    // loaded machine may take a while to start the pipeline.
    const countedAtKills: number[] = [];
    for (let kill = 0; kill < 2; kill += 1) {
      const before = countedAtKills.at(-1) ?? 0;
      const running = spawnPanacea(['run'], env);
      const giveUpAtMs = Date.now() + (kill === 0 ? 120_000 : 15_000);
      while ((await countedEvents(isolation)) === before && Date.now() < giveUpAtMs) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 300)));
      running.kill('SIGKILL');
      await new Promise((resolve) => running.once('close', resolve));
      countedAtKills.push(await countedEvents(isolation));
    }
    // The first kill must land mid-way, or this test would prove nothing about recovery.
    expect(countedAtKills[0]).toBeGreaterThan(0);
    expect(countedAtKills[0]).toBeLessThan(lines.length);

    const rerun = await runPanacea(['run', '--until-idle'], env);

    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expectFigures(await searchMetrics(isolation, 'window'), expected);
    expect(await countedEvents(isolation)).toBe(lines.length);
    // Three starts of the pipeline and 22 000 events: on a loaded machine it takes its time.
  }, 420_000);

  it('stays exact while a second instance joins and the first is killed', async () => {
    const isolation = isolate('metricspair');
    const env = { ...metricsEnv(isolation), LOG_LEVEL: 'info', LOG_FORMAT: 'json' };
    const { lines, expected } = eventSet('p', { agents: 6, windows: 3, tasksPerWindow: 60 });
    const third = Math.ceil(lines.length / 3);
    const parts = [lines.slice(0, third), lines.slice(third, 2 * third), lines.slice(2 * third)];
    const children: ReturnType<typeof spawnPanacea>[] = [];

    try {
      await produceLines(isolation, 'part-1', parts[0] ?? []);
      const first = spawnPanacea(['run'], env);
      children.push(first);
      await until(async () => (await countedEvents(isolation)) === third);

      const second = spawnPanacea(['run'], env);
      children.push(second);
      // It restores every partition the group gives it, so this line says partitions moved.
      await untilOutput(second, 'partition state restored');
      await produceLines(isolation, 'part-2', parts[1] ?? []);
      await until(async () => (await countedEvents(isolation)) === 2 * third);

      first.kill('SIGKILL');
      await produceLines(isolation, 'part-3', parts[2] ?? []);
      await until(async () => (await countedEvents(isolation)) === lines.length, 90_000);
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }

    expectFigures(await searchMetrics(isolation, 'window'), expected);
  });

  it('combines a workflow spread over partitions into one exact window document', async () => {
    const isolation = isolate('metricscombine');
    const env = metricsEnv(isolation);
    const agents = agentsOnDistinctPartitions('c-agent');
    const windowStart = new Date(BASE_MS).toISOString();
    const durationsMs: number[] = [];
    const lines: string[] = [];
    agents.forEach(({ agentId }, agent) => {
      for (let task = 0; task < 60; task += 1) {
        const durationMs = durationOf(agent, 7, task) * (agent + 1);
        const base = { agent: { id: agentId }, workflowId: 'c-wf', taskId: `t-${task}` };
        lines.push(
          JSON.stringify({
            ...base,
            kind: 'activity',
            eventId: `${agentId}-start-${task}`,
            timestamp: BASE_MS + task * 500,
            activity: { action: 'task.run', status: 'started' },
          }),
          JSON.stringify({
            ...base,
            kind: 'activity',
            eventId: `${agentId}-end-${task}`,
            timestamp: BASE_MS + task * 500 + 250,
            activity: { action: 'task.run', status: 'succeeded', durationMs },
          }),
        );
        durationsMs.push(durationMs);
      }
    });
    await produceLines(isolation, 'workflow', lines);

    const run = await runPanacea(['run', '--until-idle'], env);

    expect(run.exitCode, run.stderr).toBe(0);
    const workflowWindows = (await searchMetrics(isolation, 'window')).filter(
      (hit) => field(hit, 'panacea.metrics.scope') === 'workflow',
    );
    // One document for the window, none per partition.
    expect(workflowWindows.map((hit) => hit._id)).toEqual([`workflow:c-wf:${windowStart}`]);
    const combined = workflowWindows[0] as SearchHit;
    const metric = (name: string): unknown => field(combined, `panacea.metrics.${name}`);
    expect(metric('sources')).toEqual(
      agents.map(({ partition }) => `${isolation.topicPrefix}agent.events.enriched-${partition}`),
    );
    expect(metric('tasks')).toMatchObject({
      started: durationsMs.length,
      succeeded: durationsMs.length,
      failed: 0,
    });
    expect(metric('events.count')).toBe(lines.length);
    for (const [name, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      const exact = exactQuantile(durationsMs, q);
      const reported = metric(`duration_ms.${name}`) as number;
      expect(Math.abs(reported - exact) / exact, name).toBeLessThanOrEqual(0.01);
    }
    expect(metric('duration_ms.max')).toBe(Math.max(...durationsMs));
    expect(metric('duration_ms.count')).toBe(durationsMs.length);
    // The partials stay in their own index, one per partition, for consumers that merge them.
    const partials = await searchMetrics(isolation, 'window_partial');
    expect(partials.map((hit) => hit._id).sort()).toEqual(
      agents.map(
        ({ partition }) =>
          `workflow:c-wf:${windowStart}|${isolation.topicPrefix}agent.events.enriched-${partition}`,
      ),
    );
  });

  it('marks an agent stale within the stale time plus one window of its last heartbeat', async () => {
    const isolation = isolate('metricsstale');
    const staleMs = 2_000;
    const windowMs = 5_000;
    const env = {
      ...isolation.env,
      PANACEA_METRICS_STALE_MS: String(staleMs),
      PANACEA_METRICS_WINDOW_MS: String(windowMs),
    };
    const agent = { id: 'quiet-agent' };
    await produceLines(isolation, 'beat', [
      JSON.stringify({
        kind: 'heartbeat',
        eventId: 'only-beat',
        timestamp: BASE_MS,
        agent,
        heartbeat: { status: 'active' },
      }),
    ]);

    const running = spawnPanacea(['run'], env);
    try {
      await until(async () => {
        const [status] = await searchMetrics(isolation, 'status');
        return status !== undefined && field(status, 'panacea.status.current') === 'stale';
      });
    } finally {
      running.kill('SIGTERM');
      await new Promise((resolve) => running.once('close', resolve));
    }

    const [status] = await searchMetrics(isolation, 'status');
    expect(field(status as SearchHit, 'panacea.status')).toMatchObject({
      current: 'stale',
      previous: 'active',
      cause: 'silence',
    });
    // Each change stays in the history, under an id made of the change.
    const since = (hit: SearchHit): string => field(hit, 'panacea.status.since') as string;
    const history = (await searchMetrics(isolation, 'status_history')).sort((a, b) =>
      since(a).localeCompare(since(b)),
    );
    expect(history.map((hit) => field(hit, 'panacea.status'))).toMatchObject([
      { previous: null, current: 'active', cause: 'heartbeat' },
      { previous: 'active', current: 'stale', cause: 'silence' },
    ]);
    // Silence is measured from when the stage saw the heartbeat (the first change's time).
    const [seen, stale] = history.map((hit) => Date.parse(since(hit)));
    expect((stale as number) - (seen as number)).toBeGreaterThanOrEqual(staleMs);
    expect((stale as number) - (seen as number)).toBeLessThanOrEqual(staleMs + windowMs);
    // Ids name the agent, the change's time and its record's place on agent.metrics.
    history.forEach((hit) => {
      expect(hit._id).toMatch(new RegExp(`^status:quiet-agent:${since(hit)}:\\d+-\\d+$`));
    });
  });

  it('stores a late event as an event but leaves it out of its closed window', async () => {
    const isolation = isolate('metricslate');
    const env = { ...isolation.env, PANACEA_METRICS_LATENESS_MS: '0' };
    const agent = { id: 'late-agent' };
    const heartbeat = (eventId: string, timestamp: number): string =>
      JSON.stringify({
        kind: 'heartbeat',
        eventId,
        timestamp,
        agent,
        heartbeat: { status: 'active' },
      });
    const firstWindowId = `agent:late-agent:${new Date(BASE_MS).toISOString()}`;

    await produceLines(isolation, 'first', [
      heartbeat('on-time', BASE_MS + 1_000),
      heartbeat('next-window', BASE_MS + WINDOW_MS + 1_000),
    ]);
    expect((await runPanacea(['run', '--until-idle'], env)).exitCode).toBe(0);
    await produceLines(isolation, 'late', [heartbeat('late', BASE_MS + 2_000)]);
    const lateRun = await runPanacea(['run', '--until-idle'], env);

    expect(lateRun.exitCode).toBe(0);
    expect(lateRun.stdout).toContain('metrics: 1 record, 0 dead-lettered, 1 late (heartbeat 1)');

    const first = (await searchMetrics(isolation, 'window')).find(
      (hit) => hit._id === firstWindowId,
    );
    expect(field(first as SearchHit, 'panacea.metrics.final')).toBe(true);
    expect(field(first as SearchHit, 'panacea.metrics.events.count')).toBe(1);
    const stored = await searchAll(isolation, 'heartbeat');
    expect(stored.map((hit) => hit._id).sort()).toEqual(['late', 'next-window', 'on-time']);
  });

  it('keeps the task overview and agent status queryable in Elasticsearch', async () => {
    const isolation = isolate('metricstasks');
    const agent = { id: 'task-agent' };
    const activity = (eventId: string, taskId: string, status: string, offsetMs: number): string =>
      JSON.stringify({
        kind: 'activity',
        eventId,
        timestamp: BASE_MS + offsetMs,
        agent,
        taskId,
        activity: {
          action: 'task.run',
          status,
          ...(status === 'started' ? {} : { durationMs: 5 }),
        },
      });
    await produceLines(isolation, 'tasks', [
      activity('a1', 'done', 'started', 0),
      activity('a2', 'done', 'succeeded', 5),
      activity('a3', 'broken', 'started', 10),
      activity('a4', 'broken', 'failed', 20),
      activity('a5', 'hanging', 'started', 30),
    ]);

    expect((await runPanacea(['run', '--until-idle'], isolation.env)).exitCode).toBe(0);

    const tasks = await searchMetrics(isolation, 'task');
    const stateOf = Object.fromEntries(
      tasks.map((hit) => [field(hit, 'panacea.task.id'), field(hit, 'panacea.task.state')]),
    );
    expect(stateOf).toEqual({ done: 'succeeded', broken: 'failed', hanging: 'in_progress' });
    // Stuck is a query at any moment: in progress and started before now minus the stuck time.
    const stuck = await searchMetrics(isolation, 'task', {
      bool: {
        filter: [
          { term: { 'panacea.task.state': 'in_progress' } },
          { range: { 'panacea.task.started_at': { lt: 'now-15m' } } },
        ],
      },
    });
    expect(stuck.map((hit) => hit._id)).toEqual(['task:task-agent:hanging']);
    const status = await searchMetrics(isolation, 'status');
    expect(status.map((hit) => [hit._id, field(hit, 'panacea.status.current')])).toEqual([
      ['task-agent', 'busy'],
    ]);
  });
});

/** The events counted so far, summed over the agent windows in Elasticsearch. */
async function countedEvents(isolation: Isolation): Promise<number> {
  const hits = await searchMetrics(isolation, 'window', {
    term: { 'panacea.metrics.scope': 'agent' },
  });
  return hits.reduce((sum, hit) => sum + (field(hit, 'panacea.metrics.events.count') as number), 0);
}

/** Polls `check` until it holds; fails the test after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadlineMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Resolves once the child's stderr holds `text`; fails after 60 s. */
function untilOutput(child: ReturnType<typeof spawnPanacea>, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within 60 s`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
