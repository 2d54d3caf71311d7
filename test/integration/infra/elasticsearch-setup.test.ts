/**
 * `panacea es setup | status | retention` on the real (minimal) Elasticsearch of the test run:
 * idempotent templates, rollover after a template change, retention of minutes enforced by Panacea
 * where the server has no data stream lifecycle, and the lifecycle template as far as this server
 * takes it. Each test has its own namespace, so its templates and streams are its own.
 */
import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../core/config.js';
import { componentLogger } from '../../../core/logger.js';
import { readCapabilities } from '../../../infra/elasticsearch/capabilities.js';
import { startRetentionSchedule } from '../../../infra/elasticsearch/retention.js';
import { retentionTargetsFor, setupElasticsearch } from '../../../infra/elasticsearch/setup.js';
import type { EsStatus } from '../../../cli/commands/es.js';
import { isolate, runPanacea, spawnPanacea, type Isolation } from '../harness.js';

const KINDS = ['activity', 'error', 'audit', 'heartbeat'];
const MINUTE_MS = 60_000;

async function es(
  isolation: Isolation,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const ndjson = Array.isArray(body);
  const response = await fetch(`${isolation.elasticsearchUrl}${path}`, {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    ...(body === undefined
      ? {}
      : {
          body: ndjson
            ? `${body.map((line) => JSON.stringify(line)).join('\n')}\n`
            : JSON.stringify(body),
        }),
  });
  return (await response.json()) as Record<string, unknown>;
}

/** Creates `count` documents with `@timestamp` `minutesAgo` in the past; refreshes. */
async function writeEvents(
  isolation: Isolation,
  target: string,
  minutesAgo: number,
  count: number,
  label: string,
): Promise<void> {
  const timestamp = new Date(Date.now() - minutesAgo * MINUTE_MS).toISOString();
  const lines = Array.from({ length: count }, (_, n) => [
    { create: { _index: target } },
    { '@timestamp': timestamp, message: `${label} ${n}`, event: { id: `${label}-${n}` } },
  ]).flat();
  const result = await es(isolation, 'POST', '/_bulk?refresh=true', lines);
  expect(result.errors).toBe(false);
}

async function backingIndices(isolation: Isolation, dataStream: string): Promise<string[]> {
  const resolved = (await es(isolation, 'GET', `/_resolve/index/${dataStream}`)) as {
    data_streams: Array<{ backing_indices: string[] }>;
  };
  return resolved.data_streams[0]?.backing_indices ?? [];
}

async function count(isolation: Isolation, target: string, query: object): Promise<number> {
  await es(isolation, 'POST', `/${target}/_refresh`);
  const result = (await es(isolation, 'POST', `/${target}/_count`, { query })) as {
    count: number;
  };
  return result.count;
}

async function storedTemplates(isolation: Isolation): Promise<unknown[]> {
  const names = [
    ...KINDS.map((kind) => `/_index_template/logs-agent.${kind}-${isolation.namespace}@panacea`),
    '/_index_template/metrics-agent@panacea',
    '/_index_template/alerts-agent@panacea',
    '/_component_template/logs-agent@panacea-settings',
    '/_component_template/logs-agent@panacea-mappings',
  ];
  return Promise.all(names.map((name) => es(isolation, 'GET', name)));
}

function setupLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => / template /.test(line));
}

describe('panacea es', () => {
  it('installs the templates once: a second setup changes nothing and reports so', async () => {
    const isolation = isolate('essetup');

    const first = await runPanacea(['es', 'setup'], isolation.env);
    expect(first.exitCode, first.stderr).toBe(0);
    for (const kind of KINDS) {
      expect(first.stdout).toContain(
        `index template logs-agent.${kind}-${isolation.namespace}@panacea: created`,
      );
    }
    expect(first.stdout).toContain('retention mechanism: panacea');
    // This server has no _data_stream API: the streams are created by their first write.
    expect(first.stdout).toContain(
      `data stream logs-agent.activity-${isolation.namespace}: not created yet`,
    );
    const afterFirst = await storedTemplates(isolation);

    const second = await runPanacea(['es', 'setup', '--json'], isolation.env);
    expect(second.exitCode, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout) as {
      templates: Array<{ name: string; change: string }>;
      dataStreams: Array<{ rolledOver: boolean }>;
    };
    expect(report.templates).toHaveLength(8);
    expect(report.templates.filter((template) => template.change !== 'unchanged')).toEqual([]);
    expect(report.dataStreams.some((stream) => stream.rolledOver)).toBe(false);
    // Not even rewritten: the server's modification dates are the same.
    expect(await storedTemplates(isolation)).toEqual(afterFirst);
  });

  it('rolls a data stream over when its template changed, so the new mappings apply', async () => {
    const isolation = isolate('estemplate');
    const stream = `logs-agent.activity-${isolation.namespace}`;
    const template = `${stream}@panacea`;
    expect((await runPanacea(['es', 'setup'], isolation.env)).exitCode).toBe(0);

    // Another version of the template: one test-only field more, and the stream made under it.
    const stored = (await es(isolation, 'GET', `/_index_template/${template}`)) as {
      index_templates: Array<{ index_template: Record<string, unknown> }>;
    };
    const {
      created_date_millis: _c,
      modified_date_millis: _m,
      ...body
    } = stored.index_templates[0]!.index_template;
    const drifted = {
      ...body,
      template: { mappings: { properties: { test_only_field: { type: 'keyword' } } } },
    };
    expect(await es(isolation, 'PUT', `/_index_template/${template}`, drifted)).toEqual({
      acknowledged: true,
    });
    await writeEvents(isolation, stream, 0, 2, 'before');
    const [firstIndex] = await backingIndices(isolation, stream);
    expect(JSON.stringify(await es(isolation, 'GET', `/${firstIndex}/_mapping`))).toContain(
      'test_only_field',
    );

    const setup = await runPanacea(['es', 'setup'], isolation.env);
    expect(setup.exitCode, setup.stderr).toBe(0);
    expect(setupLines(setup.stdout)).toContain(`index template ${template}: updated`);
    expect(setup.stdout).toContain(`data stream ${stream}: exists, rolled over`);
    expect(setup.stdout).not.toContain(`logs-agent.error-${isolation.namespace}: exists`);

    const indices = await backingIndices(isolation, stream);
    expect(indices).toHaveLength(2);
    const writeMapping = JSON.stringify(await es(isolation, 'GET', `/${indices[1]}/_mapping`));
    expect(writeMapping).not.toContain('test_only_field');
    expect(writeMapping).toContain('stack_trace');
    // The data written before the change is still there, under the old mappings.
    expect(await count(isolation, stream, { match_all: {} })).toBe(2);
  });

  it('with a retention of minutes, deletes expired backing indices and metrics and keeps current data', async () => {
    const isolation = isolate('esretention');
    const env = {
      ...isolation.env,
      PANACEA_RETENTION_ACTIVITY: '2m',
      PANACEA_RETENTION_METRICS: '2m',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    const stream = `logs-agent.activity-${isolation.namespace}`;
    const window = `metrics-agent.window-${isolation.namespace}`;
    const status = `metrics-agent.status-${isolation.namespace}`;
    expect((await runPanacea(['es', 'setup'], env)).exitCode).toBe(0);

    // An hour-old backing index, then a current one; and a heartbeat stream with the default 7d.
    await writeEvents(isolation, stream, 60, 5, 'expired');
    await es(isolation, 'POST', `/${stream}/_rollover`);
    await writeEvents(isolation, stream, 0, 3, 'current');
    await writeEvents(isolation, `logs-agent.heartbeat-${isolation.namespace}`, 60, 2, 'beat');
    await writeEvents(isolation, window, 60, 4, 'old-window');
    await writeEvents(isolation, window, 0, 2, 'new-window');
    await writeEvents(isolation, status, 60, 1, 'last-status');
    const [expiredIndex, currentIndex] = await backingIndices(isolation, stream);

    const dryRun = await runPanacea(['es', 'retention', '--dry-run'], env);
    expect(dryRun.exitCode, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain(`would delete ${expiredIndex} of ${stream}`);
    expect(dryRun.stdout).toContain(`would delete 4 expired documents of ${window}`);
    expect(await backingIndices(isolation, stream)).toEqual([expiredIndex, currentIndex]);

    const run = await runPanacea(['es', 'retention'], env);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain(`delete ${expiredIndex} of ${stream}`);
    expect(run.stdout).not.toContain('would');
    // Each deletion is logged, structured.
    expect(run.stderr).toContain('deleted an expired backing index');

    expect(await backingIndices(isolation, stream)).toEqual([currentIndex]);
    expect(await count(isolation, stream, { match_all: {} })).toBe(3);
    expect(
      await count(isolation, `logs-agent.heartbeat-${isolation.namespace}`, { match_all: {} }),
    ).toBe(2);
    expect(await count(isolation, window, { prefix: { 'event.id': 'old' } })).toBe(0);
    expect(await count(isolation, window, { match_all: {} })).toBe(2);
    // The current status per agent is kept however old.
    expect(await count(isolation, status, { match_all: {} })).toBe(1);

    const statusRun = await runPanacea(['es', 'status', '--json'], env);
    expect(statusRun.exitCode, statusRun.stderr).toBe(0);
    const report = JSON.parse(statusRun.stdout) as EsStatus;
    expect(report.mechanism).toBe('panacea');
    expect(report.lastEnforcement?.deletedIndices.map((entry) => entry.index)).toEqual([
      expiredIndex,
    ]);
    const activity = report.dataStreams.find((entry) => entry.name === stream);
    expect(activity).toMatchObject({ retention: '2m', retentionBy: 'panacea', docs: 3 });
    expect(activity?.backingIndices.map((entry) => entry.name)).toEqual([currentIndex]);
    const text = await runPanacea(['es', 'status'], env);
    expect(text.stdout).toContain('retention mechanism: panacea');
    expect(text.stdout).toMatch(/last enforcement: \d{4}-/);
  });

  it('enforces retention on a schedule, rolling over a write index that holds only expired data', async () => {
    const isolation = isolate('esschedule');
    const config = loadConfig({ ...isolation.env, PANACEA_RETENTION_ERROR: '1m' });
    const client = new Client({ node: isolation.elasticsearchUrl });
    const stream = `logs-agent.error-${isolation.namespace}`;
    try {
      await setupElasticsearch(client, {
        namespace: config.namespace,
        retention: config.retention,
      });
      await writeEvents(isolation, stream, 30, 3, 'stale');
      const [onlyIndex] = await backingIndices(isolation, stream);

      const targets = retentionTargetsFor(config.namespace, config.retention, 'panacea');
      const schedule = startRetentionSchedule(client, targets, 1000, componentLogger('test'));
      try {
        await expect
          .poll(() => backingIndices(isolation, stream), { timeout: 20_000, interval: 500 })
          .not.toContain(onlyIndex);
      } finally {
        await schedule.stop();
      }
      // The rollover left an empty write index; the stream goes on taking writes.
      expect(await backingIndices(isolation, stream)).toHaveLength(1);
      await writeEvents(isolation, stream, 0, 1, 'fresh');
      expect(await count(isolation, stream, { match_all: {} })).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('enforces retention inside panacea run, and reports it in the log', async () => {
    const isolation = isolate('esrun');
    const env = {
      ...isolation.env,
      PANACEA_RETENTION_HEARTBEAT: '1m',
      PANACEA_RETENTION_INTERVAL: '1s',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    const stream = `logs-agent.heartbeat-${isolation.namespace}`;
    expect((await runPanacea(['es', 'setup'], env)).exitCode).toBe(0);
    await writeEvents(isolation, stream, 10, 2, 'expired');
    const [expiredIndex] = await backingIndices(isolation, stream);

    const child = spawnPanacea(['run'], env);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await expect
        .poll(() => backingIndices(isolation, stream), { timeout: 60_000, interval: 1000 })
        .not.toContain(expiredIndex);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('"msg":"retention enforcement started"');
    expect(stderr).toContain(`"index":"${expiredIndex}"`);
    expect(stderr).toContain('"msg":"deleted an expired backing index"');
  });

  it('puts data_retention in the templates on a server with the lifecycle (as far as this one takes it)', async () => {
    const isolation = isolate('eslifecycle');
    const config = loadConfig({ ...isolation.env, PANACEA_RETENTION_AUDIT: '400d' });
    const client = new Client({ node: isolation.elasticsearchUrl });
    try {
      // This server stores a template's lifecycle but has no service to apply it, and no
      // `PUT _data_stream`: the streams are made by a first write, the capability is pretended.
      const capabilities = { ...(await readCapabilities(client)), dataStreamLifecycle: true };
      expect((await readCapabilities(client)).dataStreamLifecycle).toBe(false);
      for (const kind of KINDS) {
        await setupElasticsearch(client, {
          namespace: config.namespace,
          retention: config.retention,
        });
        await writeEvents(isolation, `logs-agent.${kind}-${isolation.namespace}`, 0, 1, kind);
      }

      const first = await setupElasticsearch(client, {
        namespace: config.namespace,
        retention: config.retention,
        capabilities,
      });
      expect(first.mechanism).toBe('lifecycle');
      const audit = `logs-agent.audit-${isolation.namespace}@panacea`;
      expect(first.templates.find((template) => template.name === audit)?.change).toBe('updated');
      const stored = (await es(isolation, 'GET', `/_index_template/${audit}`)) as {
        index_templates: Array<{ index_template: { template: unknown } }>;
      };
      expect(stored.index_templates[0]?.index_template.template).toEqual({
        lifecycle: { enabled: true, data_retention: '400d' },
      });
      expect(
        retentionTargetsFor(config.namespace, config.retention, 'lifecycle').dataStreams,
      ).toEqual([]);

      const second = await setupElasticsearch(client, {
        namespace: config.namespace,
        retention: config.retention,
        capabilities,
      });
      expect(second.templates.every((template) => template.change === 'unchanged')).toBe(true);
    } finally {
      await client.close();
    }
  });
});
