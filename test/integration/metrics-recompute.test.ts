/**
 * Metrics recomputed from a replay of the enriched topic, on the real servers: the live pipeline
 * writes its window documents, some are deleted or damaged in Elasticsearch, the enriched
 * records are read back with readRanges and fed to createMetricsRecomputation, and every window
 * document is then field for field what the live pipeline wrote; a range that leaves records
 * out on either side overwrites nothing with a partial count.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { createKafka, type Admin, type Kafka } from '../../core/kafka.js';
import { createNaming, type Naming } from '../../core/naming.js';
import { readRanges, resolveTopicRange, type RangeBound } from '../../core/topic-range.js';
import {
  createMetricsRecomputation,
  type MetricsRecomputationResult,
} from '../../sinks/elasticsearch/metrics-recompute.js';
import { agentsOnDistinctPartitions } from './agent-partitions.js';
import { isolate, runPanacea, type Isolation } from './harness.js';

const WINDOW_MS = 60_000;
const WINDOWS = 12;
const BASE_MS = Date.parse('2026-11-30T12:00:00.000Z');

type StoredDocuments = Map<string, { index: string; source: Record<string, unknown> }>;

interface Setup {
  isolation: Isolation;
  naming: Naming;
  kafka: Kafka;
  admin: Admin;
  client: Client;
  /** Every window and partial document as the live pipeline wrote it. */
  live: StoredDocuments;
  agents: { agentId: string; partition: number }[];
}

let setup: Setup;

beforeAll(async () => {
  const isolation = isolate('metricsrecompute');
  const env = {
    ...isolation.env,
    PANACEA_METRICS_WINDOW_MS: String(WINDOW_MS),
    PANACEA_METRICS_LATENESS_MS: String(2 * WINDOW_MS),
  };
  isolation.env = env;
  const agents = agentsOnDistinctPartitions('r-agent').slice(0, 2);
  const file = path.join(isolation.dataDir, 'events.ndjson');
  const lines = eventLines(agents.map(({ agentId }) => agentId));
  writeFileSync(file, lines.join('\n'));
  const produced = await runPanacea(['produce', '--file', file], env);
  expect(produced.stdout, produced.stderr).toContain(`published ${lines.length}, rejected 0`);
  const run = await runPanacea(['run', '--until-idle'], env);
  expect(run.exitCode, run.stderr).toBe(0);

  const config = loadConfig(env);
  const kafka = createKafka(config, 'panacea-test-recompute');
  const admin = kafka.admin();
  await admin.connect();
  const client = new Client({ node: isolation.elasticsearchUrl });
  const naming = createNaming(config);
  setup = { isolation, naming, kafka, admin, client, agents, live: new Map() };
  setup.live = await storedWindows();
}, 300_000);

afterAll(async () => {
  await setup?.admin.disconnect();
  await setup?.client.close();
});

describe('metrics recomputed from a replay', () => {
  it('restores deleted and damaged windows to exactly what the live pipeline wrote', async () => {
    const { live } = setup;
    const finalIds = (prefix: string): string[] =>
      [...live]
        .filter(([id, doc]) => id.startsWith(prefix) && metricsOf(doc.source).final === true)
        .map(([id]) => id)
        .sort();
    const agentIds = finalIds('agent:');
    const workflowIds = finalIds('workflow:').filter((id) => !id.includes('|'));
    const partialIds = finalIds('workflow:').filter((id) => id.includes('|'));
    // The set must give closed windows of every kind, or this test would restore nothing.
    expect(agentIds.length).toBeGreaterThanOrEqual(2 * (WINDOWS - 4));
    expect(workflowIds.length).toBeGreaterThanOrEqual(WINDOWS - 4);
    expect(partialIds.length).toBe(2 * workflowIds.length);

    const deleted = [agentIds[0], workflowIds[1], partialIds[2]] as string[];
    const damaged = [agentIds[3], workflowIds[4], partialIds[5]] as string[];
    for (const id of deleted) await deleteDocument(id);
    for (const id of damaged) await damageDocument(id);
    const broken = await storedWindows();
    for (const id of deleted) expect(broken.has(id), id).toBe(false);
    for (const id of damaged) expect(broken.get(id)?.source, id).not.toEqual(live.get(id)?.source);

    const versionsBroken = await storedVersions();

    const result = await replay(undefined, undefined);

    expect(await storedWindows()).toEqual(live);
    // Overwritten at the stored version, never above it: the live pipeline's next write wins.
    const versionsRestored = await storedVersions();
    for (const [id, version] of versionsBroken) expect(versionsRestored.get(id), id).toBe(version);
    // Every window still open live is an edge: records after the range may count in it.
    const openLive = [...live].filter(
      ([id, doc]) => !isCombined(id) && metricsOf(doc.source).final === false,
    );
    expect(result.windowsSkippedAtEdges).toBe(openLive.length);
    // A combined window is written again whenever one of its partials is.
    const recombined = new Set(partialIds.map((id) => id.slice(0, id.lastIndexOf('|'))));
    expect(result.windowsWritten).toBe(agentIds.length + recombined.size);
    expect(result.partialsWritten).toBe(partialIds.length);
    expect(result).toMatchObject({ windowsKeptNewer: 0, unreadableRecords: 0, futureEvents: 0 });
  });

  it('overwrites no window with a partial count when the range leaves records out', async () => {
    const ends = await setup.admin.fetchTopicOffsets(setup.naming.enrichedTopic());
    const middles = new Map(
      ends
        .filter((end) => Number(end.high) > 0)
        .map((end) => [end.partition, BigInt(Math.floor(Number(end.high) / 2))]),
    );
    const versionsBefore = await storedVersions();

    // The second half: every window may hold records of the first half, whose event times lie
    // anywhere before (a history replay), so none is exact.
    const secondHalf = await replay(offsetsBound(middles), undefined);

    expect(secondHalf.windowsWritten + secondHalf.partialsWritten).toBe(0);
    expect(secondHalf.windowsSkippedAtEdges).toBeGreaterThan(0);
    expect(await storedWindows()).toEqual(setup.live);
    expect(await storedVersions()).toEqual(versionsBefore);

    // The first half: the windows it closes are exact, the ones still open at its end are not.
    const damagedId = [...setup.live.keys()].filter((id) => id.startsWith('agent:')).sort()[0];
    await damageDocument(damagedId as string);
    const firstHalf = await replay(undefined, offsetsBound(middles, '--to'));

    expect(firstHalf.windowsWritten).toBeGreaterThan(0);
    expect(firstHalf.windowsSkippedAtEdges).toBeGreaterThan(0);
    expect(await storedWindows()).toEqual(setup.live);
  });
});

async function replay(
  from: RangeBound | undefined,
  to: RangeBound | undefined,
): Promise<MetricsRecomputationResult> {
  const { kafka, admin, client, naming, isolation } = setup;
  const config = loadConfig(isolation.env);
  const range = await resolveTopicRange(admin, naming.enrichedTopic(), from, to);
  // A small flush, so that a replay of this size writes in several rounds, as a long one does.
  const recomputation = createMetricsRecomputation({
    client,
    admin,
    naming,
    settings: config.metrics,
    flushWindows: 5,
  });
  await readRanges({
    kafka,
    admin,
    groupPrefix: naming.consumerGroup('test-recompute'),
    ranges: [range],
    onBatch: (batch) => recomputation.add(batch.records),
  });
  return recomputation.finish();
}

function offsetsBound(offsets: Map<number, bigint>, option = '--from'): RangeBound {
  const text = [...offsets].map(([partition, offset]) => `${partition}:${offset}`).join(',');
  return { kind: 'offsets', offsets, option, text };
}

/** Every document of the window and partial indices, by id, with its index. */
async function storedWindows(): Promise<StoredDocuments> {
  const documents: StoredDocuments = new Map();
  for (const hit of await searchWindows()) {
    documents.set(hit._id, { index: hit._index, source: hit._source });
  }
  return documents;
}

async function storedVersions(): Promise<Map<string, number>> {
  return new Map((await searchWindows()).map((hit) => [hit._id, hit._version]));
}

async function searchWindows(): Promise<
  { _id: string; _index: string; _version: number; _source: Record<string, unknown> }[]
> {
  const { client, naming } = setup;
  const index = [naming.metricsIndex('window'), naming.metricsIndex('window_partial')];
  await client.indices.refresh({ index });
  const response = await client.search<Record<string, unknown>>({
    index,
    size: 1_000,
    version: true,
    query: { match_all: {} },
  });
  return response.hits.hits.map((hit) => ({
    _id: hit._id as string,
    _index: hit._index,
    _version: hit._version as number,
    _source: hit._source as Record<string, unknown>,
  }));
}

async function deleteDocument(id: string): Promise<void> {
  const stored = setup.live.get(id);
  if (stored === undefined) throw new Error(`no live document ${id}`);
  await setup.client.delete({ index: stored.index, id, refresh: true });
}

/** Overwrites the figures a person would read, as a wrong write or a manual edit would. */
async function damageDocument(id: string): Promise<void> {
  const stored = setup.live.get(id);
  if (stored === undefined) throw new Error(`no live document ${id}`);
  const metrics = metricsOf(stored.source);
  const events = metrics.events as Record<string, unknown>;
  await setup.client.update({
    index: stored.index,
    id,
    refresh: true,
    doc: { panacea: { metrics: { events: { ...events, count: 1 }, final: false } } },
  });
}

function metricsOf(source: Record<string, unknown>): Record<string, unknown> {
  return (source.panacea as { metrics: Record<string, unknown> }).metrics;
}

function isCombined(id: string): boolean {
  return id.startsWith('workflow:') && !id.includes('|');
}

/** Each agent in each window: tasks, errors and heartbeats, all of one workflow. */
function eventLines(agentIds: string[]): string[] {
  const lines: string[] = [];
  agentIds.forEach((agentId, agent) => {
    for (let window = 0; window < WINDOWS; window += 1) {
      const startMs = BASE_MS + window * WINDOW_MS;
      const base = (kind: string, id: string, offsetMs: number): object => ({
        kind,
        eventId: `${agentId}-${window}-${id}`,
        timestamp: startMs + offsetMs,
        agent: { id: agentId },
        workflowId: 'r-wf',
      });
      for (let task = 0; task < 8; task += 1) {
        const taskId = `t-${window}-${task}`;
        const status = task % 4 === 0 ? 'failed' : 'succeeded';
        lines.push(
          JSON.stringify({
            ...base('activity', `start-${task}`, task * 6_000),
            taskId,
            activity: { action: 'task.run', status: 'started' },
          }),
          JSON.stringify({
            ...base('activity', `end-${task}`, task * 6_000 + 2_000),
            taskId,
            activity: { action: 'task.run', status, durationMs: 30 + task * 17 + agent * 5 },
          }),
        );
      }
      for (let error = 0; error < 3; error += 1) {
        lines.push(
          JSON.stringify({
            ...base('error', `error-${error}`, 1_000 + error * 15_000),
            error: {
              type: error === 0 ? 'ToolTimeout' : 'RateLimited',
              message: 'x',
              severity: error === 2 ? 'critical' : 'error',
            },
          }),
        );
      }
      for (let beat = 0; beat < 3; beat += 1) {
        lines.push(
          JSON.stringify({
            ...base('heartbeat', `beat-${beat}`, 500 + beat * 20_000),
            heartbeat: { status: 'busy', cpuPercent: 10 + beat * 5, memoryMb: 100 + window },
          }),
        );
      }
    }
  });
  return lines;
}
