/**
 * The pipeline's own signals on the real servers: after a known input, `/metrics` carries every
 * family with the values that input must give; a real Prometheus scrapes the running pipeline and
 * loads the alerting rules; the Grafana dashboards read only metrics the scrape has; and `/readyz`
 * turns false while an Elasticsearch (this test's own, never the shared one) is stopped and true
 * again once it is back.
 */
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming } from '../../core/naming.js';
import { packageRoot } from '../../core/package-root.js';
import {
  metricNamesOfExposition,
  missingMetrics,
  queriesOfDashboard,
  readDashboards,
} from '../../infra/grafana/dashboard-queries.js';
import {
  fetchPrometheus,
  prometheusFilesDir,
  runPromtool,
  startPrometheus,
} from '../../infra/prometheus/prometheus-server.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir, stackDown, stackUp, type StackOptions } from '../../infra/stack/stack.js';
import { isolate, kafkaFor, runPanacea, spawnPanacea, type Isolation } from './harness.js';

const logger = componentLogger('test-observability');
const PROMETHEUS_DIR = prometheusFilesDir(packageRoot());
const BASE_MS = Date.UTC(2026, 10, 30, 12);

/** agent-a: two tasks succeed (1 s and 3 s), one fails (0.5 s); agent-b: one busy heartbeat. */
function knownInput(): string[] {
  const lines: string[] = [];
  const tasks = [
    ['t1', 'succeeded', 1000],
    ['t2', 'succeeded', 3000],
    ['t3', 'failed', 500],
  ] as const;
  tasks.forEach(([taskId, status, durationMs], index) => {
    const startMs = BASE_MS + index * 10_000;
    const agent = { id: 'agent-a' };
    lines.push(
      JSON.stringify({
        kind: 'activity',
        eventId: `start-${taskId}`,
        timestamp: startMs,
        agent,
        taskId,
        activity: { action: 'task.run', status: 'started' },
      }),
      JSON.stringify({
        kind: 'activity',
        eventId: `end-${taskId}`,
        timestamp: startMs + durationMs,
        agent,
        taskId,
        activity: { action: 'task.run', status, durationMs },
      }),
    );
  });
  lines.push(
    JSON.stringify({
      kind: 'heartbeat',
      eventId: 'beat-b',
      timestamp: BASE_MS + 1_000,
      agent: { id: 'agent-b' },
      heartbeat: { status: 'busy' },
    }),
  );
  for (let index = 0; index < 3; index += 1) {
    lines.push(
      JSON.stringify({
        kind: 'audit',
        eventId: `audit-${index}`,
        timestamp: BASE_MS + index,
        agent: { id: 'agent-a' },
        audit: {
          actor: { type: 'agent', id: 'agent-a' },
          action: 'ticket.read',
          resource: { type: 'ticket', id: `t-${index}` },
          outcome: 'success',
        },
      }),
    );
  }
  return lines;
}

const VALID_EVENTS = 10;
const AUDIT_EVENTS = 3;
const UNDECODABLE_RECORDS = 2;

/** Samples of an exposition by name, then by their label set as printed (`{a="1"}`, or ''). */
function samplesOf(text: string): Map<string, Map<string, number>> {
  const samples = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const [, name = '', labels = '', value = ''] = match;
    const byLabels = samples.get(name) ?? new Map<string, number>();
    byLabels.set(labels, Number(value));
    samples.set(name, byLabels);
  }
  return samples;
}

function total(samples: Map<string, Map<string, number>>, name: string, labelsPart = ''): number {
  let sum = 0;
  for (const [labels, value] of samples.get(name) ?? []) {
    if (labels.includes(labelsPart)) sum += value;
  }
  return sum;
}

async function getText(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url);
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

interface RunningPanacea {
  stderr(): string;
  stop(): Promise<number | null>;
}

function startRun(env: NodeJS.ProcessEnv): RunningPanacea {
  const child = spawnPanacea(['run'], env);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      return closed;
    },
  };
}

async function produceKnownInput(isolation: Isolation): Promise<void> {
  const produced = await runPanacea(
    ['produce', '--file', '-'],
    isolation.env,
    knownInput().join('\n'),
  );
  expect(produced.exitCode, produced.stderr).toBe(0);
  // Not Avro with a schema id: the enrich stage must dead-letter these.
  const producer = kafkaFor(isolation).producer();
  await producer.connect();
  await producer.send({
    topic: createNaming(loadConfig(isolation.env)).rawTopic('activity'),
    messages: [{ value: 'not an event' }, { value: Buffer.from([0, 0, 0, 0]) }],
  });
  await producer.disconnect();
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-observe-'));
chmodSync(scratch, 0o755);
const ownStackDir = path.join(scratch, 'stack');
afterAll(async () => {
  await stackDown(ownStackDir).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

describe('observability', () => {
  it('exposes every metric family with the values of a known input, scraped by a real Prometheus', async () => {
    const isolation = isolate('observe');
    const port = await freePort();
    const env = {
      ...isolation.env,
      PANACEA_HTTP_PORT: String(port),
      PANACEA_METRICS_MAX_AGENTS: '1',
      PANACEA_ARCHIVE_SEGMENT_MS: '1000',
      LOG_LEVEL: 'warn,http=info',
      LOG_FORMAT: 'json',
    };
    const naming = createNaming(loadConfig(env));
    await produceKnownInput(isolation);
    const running = startRun(env);
    const base = `http://127.0.0.1:${port}`;

    let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
    try {
      // Every record of the known input through every stage, committed, and the lag back to 0.
      let samples = new Map<string, Map<string, number>>();
      let exposition = '';
      const settled = await waitFor(async () => {
        exposition = (await getText(`${base}/metrics`)).body;
        samples = samplesOf(exposition);
        return (
          total(samples, 'panacea_stage_records_in_total', 'stage="enrich"') ===
            VALID_EVENTS + UNDECODABLE_RECORDS &&
          total(samples, 'panacea_stage_records_in_total', 'stage="sink-audit-archive"') ===
            AUDIT_EVENTS &&
          total(samples, 'panacea_agent_tasks_total') === 3 &&
          total(samples, 'panacea_agent_status') === 2 &&
          total(samples, 'panacea_archive_segments_total') >= 1 &&
          samples.has('panacea_consumer_lag_records') &&
          total(samples, 'panacea_consumer_lag_records') === 0
        );
      }, 120_000);
      expect(settled, exposition).toBe(true);

      // Stages: in, out, dead-lettered by code, batch time, writers.
      const inOf = (stage: string): number =>
        total(samples, 'panacea_stage_records_in_total', `stage="${stage}"`);
      const outOf = (stage: string): number =>
        total(samples, 'panacea_stage_records_out_total', `stage="${stage}"`);
      expect(outOf('enrich')).toBe(VALID_EVENTS);
      expect(
        samples
          .get('panacea_stage_dead_lettered_total')
          ?.get('{stage="enrich",code="DECODE_FAILED"}'),
      ).toBe(UNDECODABLE_RECORDS);
      expect(inOf('sink-elasticsearch')).toBe(VALID_EVENTS);
      expect(outOf('sink-elasticsearch')).toBe(VALID_EVENTS);
      expect(inOf('metrics')).toBe(VALID_EVENTS);
      expect(outOf('sink-audit-archive')).toBe(AUDIT_EVENTS);
      expect(
        total(
          samples,
          'panacea_writer_documents_total',
          'stage="sink-elasticsearch",result="indexed"',
        ),
      ).toBe(VALID_EVENTS);
      expect(total(samples, 'panacea_writer_retries_total')).toBe(0);
      expect(total(samples, 'panacea_writer_current_pause_seconds')).toBe(0);
      for (const stage of ['enrich', 'sink-elasticsearch', 'metrics', 'sink-metrics']) {
        expect(
          total(samples, 'panacea_stage_batch_duration_seconds_count', `stage="${stage}"`),
        ).toBeGreaterThan(0);
      }
      expect(
        total(samples, 'panacea_elasticsearch_bulk_duration_seconds_count', 'outcome="success"'),
      ).toBeGreaterThan(0);
      for (const stage of ['enrich', 'sink-elasticsearch', 'metrics', 'sink-metrics']) {
        expect(samples.get('panacea_stage_up')?.get(`{stage="${stage}"}`)).toBe(1);
      }
      expect(samples.get('panacea_stage_up')?.get('{stage="sink-audit-archive"}')).toBe(1);

      // Lag: one series per input partition of every stage (3 partitions per topic).
      const lagSeries = [...(samples.get('panacea_consumer_lag_records')?.keys() ?? [])];
      const enrichTopics = naming.rawTopics().map((topic) => `stage="enrich",topic="${topic}"`);
      for (const topic of enrichTopics) {
        expect(lagSeries.filter((labels) => labels.includes(topic)).length).toBe(3);
      }

      // Archive: the audit topic's sealed segments and their bytes.
      const auditTopic = `topic="${naming.rawTopic('audit')}"`;
      expect(total(samples, 'panacea_archive_segments_total', auditTopic)).toBeGreaterThanOrEqual(
        1,
      );
      expect(total(samples, 'panacea_archive_bytes_total', auditTopic)).toBeGreaterThan(100);

      // Agents, with a bound of 1: one agent keeps its label, the other counts under "other".
      const statusSeries = samples.get('panacea_agent_status') ?? new Map<string, number>();
      const agentLabels = new Set(
        [...statusSeries.keys()].map((labels) => /agent="([^"]*)"/.exec(labels)?.[1]),
      );
      expect(agentLabels.size).toBe(2);
      expect(agentLabels.has('other')).toBe(true);
      expect(samples.get('panacea_agents_tracked')?.get('')).toBe(1);
      expect(total(samples, 'panacea_agent_status', 'status="busy"')).toBeGreaterThanOrEqual(1);
      expect(total(samples, 'panacea_agent_tasks_total', 'outcome="succeeded"')).toBe(2);
      expect(total(samples, 'panacea_agent_tasks_total', 'outcome="failed"')).toBe(1);
      expect(
        total(samples, 'panacea_agent_task_duration_seconds_sum', 'outcome="succeeded"'),
      ).toBeCloseTo(4, 9);
      expect(total(samples, 'panacea_agent_task_duration_seconds_count', 'outcome="failed"')).toBe(
        1,
      );

      // Declared for the webhook sink, and the process's own figures.
      expect(exposition).toContain('# TYPE panacea_webhook_deliveries_total counter');
      expect(samples.has('panacea_process_resident_memory_bytes')).toBe(true);

      // Health: alive and ready, with the checks in the body.
      const health = await getText(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'alive' });
      const ready = await getText(`${base}/readyz`);
      expect(ready.status, ready.body).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({
        ready: true,
        reasons: [],
        checks: { kafka: { ok: true }, elasticsearch: { ok: true } },
      });
      expect(
        samplesOf((await getText(`${base}/metrics`)).body)
          .get('panacea_ready')
          ?.get(''),
      ).toBe(1);
      // The per-component level let the http component log at info under a warn default.
      const logLines = running.stderr().split('\n');
      expect(logLines.some((line) => line.includes('"msg":"HTTP endpoints up"'))).toBe(true);
      expect(logLines.some((line) => line.includes('"msg":"pipeline started"'))).toBe(false);

      // Grafana: every metric name of every panel is in this scrape.
      const queries = [...readDashboards(path.join(packageRoot(), 'infra', 'grafana'))].flatMap(
        ([name, board]) => queriesOfDashboard(board, name),
      );
      expect(missingMetrics(queries, metricNamesOfExposition(exposition))).toEqual([]);

      // A real Prometheus scrapes the pipeline with the shipped configuration and rules.
      const binaries = await fetchPrometheus(defaultCacheDir(), logger);
      const configFile = writePrometheusConfig(path.join(scratch, 'prometheus'), port);
      const prometheusPort = await freePort();
      prometheus = await startPrometheus({
        binary: binaries.prometheus,
        configFile,
        port: prometheusPort,
        storageDir: mkdtempSync(path.join(scratch, 'tsdb-')),
        logFile: path.join(scratch, 'prometheus.log'),
      });
      const api = prometheus.url;
      let targets = '';
      const scraped = await waitFor(async () => {
        targets = (await getText(`${api}/api/v1/targets`)).body;
        const active = (JSON.parse(targets || '{}') as PrometheusTargets).data?.activeTargets ?? [];
        return active.length === 1 && active[0]?.health === 'up';
      }, 30_000);
      expect(scraped, targets).toBe(true);
      let query = '';
      const queried = await waitFor(async () => {
        const expr = encodeURIComponent('panacea_stage_records_in_total{stage="enrich"}');
        query = (await getText(`${api}/api/v1/query?query=${expr}`)).body;
        const result = (JSON.parse(query || '{}') as PrometheusQuery).data?.result ?? [];
        return result[0]?.value[1] === String(VALID_EVENTS + UNDECODABLE_RECORDS);
      }, 30_000);
      expect(queried, query).toBe(true);
      let rules = '';
      const loaded = await waitFor(async () => {
        rules = (await getText(`${api}/api/v1/rules`)).body;
        const groups = (JSON.parse(rules || '{}') as PrometheusRules).data?.groups ?? [];
        const all = groups.flatMap((group) => group.rules);
        return all.length === 8 && all.every((rule) => rule.health === 'ok');
      }, 30_000);
      expect(loaded, rules).toBe(true);
      const names = (JSON.parse(rules) as PrometheusRules).data?.groups
        .flatMap((group) => group.rules)
        .map((rule) => rule.name);
      expect(names).toContain('PanaceaStageDown');
      expect(names).toContain('PanaceaElasticsearchPausedTooLong');
    } finally {
      await prometheus?.stop();
      expect(await running.stop()).toBe(0);
    }
  }, 300_000);

  it('passes promtool: configuration, rules and the rules unit tests', async () => {
    const binaries = await fetchPrometheus(defaultCacheDir(), logger);
    const inFolder = (file: string): string => path.join(PROMETHEUS_DIR, file);

    expect(
      await runPromtool(binaries.promtool, ['check', 'config', inFolder('prometheus.yml')]),
    ).toContain('SUCCESS: 8 rules found');
    expect(
      await runPromtool(binaries.promtool, ['check', 'rules', inFolder('panacea-alerts.yml')]),
    ).toContain('SUCCESS: 8 rules found');
    expect(
      await runPromtool(binaries.promtool, ['test', 'rules', inFolder('panacea-alerts.test.yml')]),
    ).toContain('SUCCESS');

    // And promtool does fail: a rule with a broken expression is refused.
    const broken = path.join(scratch, 'broken-rules.yml');
    writeFileSync(
      broken,
      'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum by (stage panacea_stage_up\n',
    );
    await expect(runPromtool(binaries.promtool, ['check', 'rules', broken])).rejects.toThrow(
      'promtool check rules',
    );
  }, 120_000);

  it('refuses to run when its HTTP port is taken, naming the variable', async () => {
    const isolation = isolate('observe_port');
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const result = await runPanacea(['run', '--until-idle'], {
        ...isolation.env,
        PANACEA_HTTP_PORT: String(port),
      });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(
        `CONFIG_INVALID: PANACEA_HTTP_PORT: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('turns not ready while its Elasticsearch is stopped and ready again once it is back', async () => {
    const isolation = isolate('ready');
    const options: StackOptions = {
      dataDir: ownStackDir,
      cacheDir: defaultCacheDir(),
      kafkaPort: await freePort(),
      elasticsearchPort: await freePort(),
      externalKafkaBrokers: isolation.kafkaBrokers.split(','),
      source: 'maven',
      kafkaHeapMb: 512,
      elasticsearchHeapMb: 512,
      startTimeoutMs: 240_000,
    };
    const started = await stackUp(options, logger);
    const port = await freePort();
    const env = {
      ...isolation.env,
      ELASTICSEARCH_URL: started.elasticsearchUrl,
      PANACEA_HTTP_PORT: String(port),
    };
    const running = startRun(env);
    const readyz = (): Promise<{ status: number; body: string }> =>
      getText(`http://127.0.0.1:${port}/readyz`);

    try {
      let answer = { status: 0, body: '' };
      expect(await waitFor(async () => (answer = await readyz()).status === 200, 120_000)).toBe(
        true,
      );

      await stackDown(ownStackDir);
      const notReady = await waitFor(async () => (answer = await readyz()).status === 503, 30_000);
      expect(notReady, answer.body).toBe(true);
      const body = JSON.parse(answer.body) as { ready: boolean; reasons: string[] };
      expect(body.ready).toBe(false);
      expect(body.reasons.join('\n')).toContain('Elasticsearch does not answer');
      // Alive all the same: only readiness follows Elasticsearch.
      expect((await getText(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      await stackUp(options, logger);
      const readyAgain = await waitFor(
        async () => (answer = await readyz()).status === 200,
        60_000,
      );
      expect(readyAgain, answer.body).toBe(true);
      expect(JSON.parse(answer.body)).toMatchObject({ ready: true, reasons: [] });
    } finally {
      const exitCode = await running.stop();
      expect(exitCode, running.stderr()).toBe(0);
    }
  }, 600_000);
});

interface PrometheusTargets {
  data?: { activeTargets: { health: string }[] };
}

interface PrometheusQuery {
  data?: { result: { value: [number, string] }[] };
}

interface PrometheusRules {
  data?: { groups: { rules: { name: string; health: string }[] }[] };
}

/**
 * The shipped configuration with this test's target, a 2 s scrape and a 1 s rule evaluation, and
 * the shipped rules beside it.
 */
function writePrometheusConfig(directory: string, pipelinePort: number): string {
  const shipped = readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  const config = shipped
    .replace("'127.0.0.1:9464'", `'127.0.0.1:${pipelinePort}'`)
    .replace('scrape_interval: 15s', 'scrape_interval: 2s')
    .replace('evaluation_interval: 15s', 'evaluation_interval: 1s')
    .replace('scrape_timeout: 10s', 'scrape_timeout: 2s');
  expect(config).toContain(`'127.0.0.1:${pipelinePort}'`);
  expect(config).toContain('scrape_timeout: 2s');
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, 'prometheus.yml'), config);
  copyFileSync(
    path.join(PROMETHEUS_DIR, 'panacea-alerts.yml'),
    path.join(directory, 'panacea-alerts.yml'),
  );
  return path.join(directory, 'prometheus.yml');
}
