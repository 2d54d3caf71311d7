/**
 * The shipped Kibana saved objects against what a pipeline run really creates in Elasticsearch:
 * after a few events of every kind went through `panacea run --until-idle`, every data view's
 * pattern (with this run's namespace for the namespace wildcard) resolves to an index or data
 * stream, and every field a data view, saved search or Lens layer reads is in the mapping of the
 * indices behind it, aggregatable where it is aggregated. Kibana itself cannot run here: whether
 * Kibana imports and renders the objects is not checked (see README, "Kibana").
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { referencedFields, runtimeFieldsOf } from '../../infra/kibana/referenced-fields.js';
import {
  defaultSavedObjectsPath,
  readSavedObjectFiles,
} from '../../infra/kibana/saved-object-files.js';
import { isolate, runPanacea, type Isolation } from './harness.js';

const { objects } = readSavedObjectFiles(defaultSavedObjectsPath());
const dataViews = objects.filter((object) => object.type === 'index-pattern');

/** Events of every kind, and a task that starts and one that fails, an hour ago. */
function events(): string[] {
  const startMs = Date.now() - 3_600_000;
  const agent = { id: 'kibana-agent' };
  const base = (kind: string, eventId: string, offsetMs: number): object => ({
    kind,
    eventId,
    timestamp: startMs + offsetMs,
    agent,
    workflowId: 'kibana-wf',
  });
  return [
    { ...base('heartbeat', 'hb', 0), heartbeat: { status: 'active', cpuPercent: 5, memoryMb: 64 } },
    { ...base('activity', 'a1', 10), taskId: 't1', activity: { action: 'run', status: 'started' } },
    {
      ...base('activity', 'a2', 20),
      taskId: 't1',
      activity: { action: 'run', status: 'failed', durationMs: 10 },
    },
    { ...base('activity', 'a3', 30), taskId: 't2', activity: { action: 'run', status: 'started' } },
    {
      ...base('error', 'e1', 40),
      error: { type: 'ToolTimeout', message: 'tool timed out', severity: 'error' },
    },
    {
      ...base('audit', 'au1', 50),
      audit: {
        actor: { type: 'agent', id: 'kibana-agent' },
        action: 'secret.read',
        resource: { type: 'secret', id: 's-1' },
        outcome: 'denied',
        reason: 'not allowed',
      },
    },
  ].map((event) => JSON.stringify(event));
}

/** The data view's title for this run: its trailing namespace wildcard becomes the namespace. */
function titleFor(title: string, isolation: Isolation): string {
  return title.replace(/-\*$/, `-${isolation.namespace}`);
}

/**
 * The Elasticsearch query of the KQL the saved searches use: `field : "value"` and
 * `field < "value"` clauses joined by `and`. Kibana translates KQL itself; this stands in for it
 * so the searches' intent is checked on real documents, and refuses any other form so that a new
 * query shape is translated here on purpose rather than skipped.
 */
function kqlToQuery(kql: string): object {
  if (kql.trim() === '') return { match_all: {} };
  const ranges = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' } as const;
  const filter = kql.split(/\s+and\s+/).map((clause) => {
    const equals = /^([\w.@]+)\s*:\s*"([^"]*)"$/.exec(clause.trim());
    if (equals !== null) return { term: { [equals[1] as string]: equals[2] } };
    const range = /^([\w.@]+)\s*(<=|>=|<|>)\s*"([^"]*)"$/.exec(clause.trim());
    if (range !== null) {
      const bound = ranges[range[2] as keyof typeof ranges];
      return { range: { [range[1] as string]: { [bound]: range[3] } } };
    }
    throw new Error(`no translation for the KQL clause "${clause}": extend kqlToQuery`);
  });
  return { bool: { filter } };
}

async function getJson(isolation: Isolation, pathAndQuery: string): Promise<unknown> {
  const response = await fetch(`${isolation.elasticsearchUrl}/${pathAndQuery}`);
  const body = (await response.json()) as unknown;
  if (!response.ok)
    throw new Error(`GET ${pathAndQuery}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

describe('kibana saved objects on a pipeline run', () => {
  const isolation = isolate('kibana');

  beforeAll(async () => {
    const lines = events();
    const file = path.join(isolation.dataDir, 'events.ndjson');
    writeFileSync(file, lines.join('\n'));
    const produced = await runPanacea(['produce', '--file', file], isolation.env);
    expect(produced.stdout, produced.stderr).toContain(`published ${lines.length}, rejected 0`);
    // A short lateness lets the hour-old windows close, so the window index exists at the end.
    const run = await runPanacea(['run', '--until-idle'], {
      ...isolation.env,
      PANACEA_METRICS_LATENESS_MS: '0',
    });
    expect(run.exitCode, run.stderr).toBe(0);
    await fetch(`${isolation.elasticsearchUrl}/*-${isolation.namespace}/_refresh`, {
      method: 'POST',
    });
  });

  it('resolves every data view pattern to an index or data stream the run created', async () => {
    const unresolved: string[] = [];

    for (const view of dataViews) {
      const title = titleFor(view.attributes.title as string, isolation);
      const resolved = (await getJson(isolation, `_resolve/index/${title}`)) as {
        indices: unknown[];
        data_streams: unknown[];
        aliases: unknown[];
      };
      const found =
        resolved.indices.length + resolved.data_streams.length + resolved.aliases.length;
      if (found === 0) unresolved.push(title);
    }

    expect(dataViews).toHaveLength(9);
    expect(unresolved).toEqual([]);
  });

  it('finds with each saved search what its title promises', async () => {
    // What the run's events hold: one denied audit action, task t1 failed, task t2 started an hour
    // ago and never ended (stuck), one error; no agent was silent long enough to turn stale.
    const expectedIds: Record<string, string[]> = {
      'panacea-errors-by-agent-and-severity': ['e1'],
      'panacea-denied-audit-actions': ['au1'],
      'panacea-failed-tasks': ['task:kibana-agent:t1'],
      'panacea-stale-agents': [],
      'panacea-stuck-tasks': ['task:kibana-agent:t2'],
    };
    const searches = objects.filter((object) => object.type === 'search');
    expect(searches.map((search) => search.id).sort()).toEqual(Object.keys(expectedIds).sort());

    for (const search of searches) {
      const view = dataViews.find((candidate) =>
        search.references?.some((reference) => reference.id === candidate.id),
      );
      const title = titleFor(view?.attributes.title as string, isolation);
      const meta = search.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string };
      const source = JSON.parse(meta.searchSourceJSON) as { query: { query: string } };
      const sort = (search.attributes.sort as [string, string][]).map(([field, order]) => ({
        [field]: order,
      }));
      const response = await fetch(`${isolation.elasticsearchUrl}/${title}/_search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: kqlToQuery(source.query.query), sort, size: 100 }),
      });
      const body = (await response.json()) as { hits?: { hits: { _id: string }[] } };

      expect(body.hits, `${search.id}: ${JSON.stringify(body)}`).toBeDefined();
      expect(body.hits?.hits.map((hit) => hit._id).sort(), search.id).toEqual(
        expectedIds[search.id],
      );
    }
  });

  it('finds every referenced field in the mappings, aggregatable where aggregated', async () => {
    const uses = referencedFields(objects);
    const problems: string[] = [];

    for (const view of dataViews) {
      const runtime = runtimeFieldsOf(view);
      const viewUses = uses.filter((use) => use.dataViewId === view.id && !(use.field in runtime));
      if (viewUses.length === 0) continue;
      const title = titleFor(view.attributes.title as string, isolation);
      const fields = [...new Set(viewUses.map((use) => use.field))];
      const caps = (await getJson(
        isolation,
        `${title}/_field_caps?fields=${encodeURIComponent(fields.join(','))}`,
      )) as { fields: Record<string, Record<string, { aggregatable: boolean }>> };

      for (const use of viewUses) {
        const types = Object.values(caps.fields[use.field] ?? {});
        if (types.length === 0) problems.push(`${use.object}: ${use.field} not in ${title}`);
        else if (use.purpose === 'aggregate' && !types.every((type) => type.aggregatable)) {
          problems.push(`${use.object}: ${use.field} is not aggregatable in ${title}`);
        }
      }
    }

    expect(problems).toEqual([]);
    expect(uses.length).toBeGreaterThan(40);
  });
});
