/**
 * Nothing accepted is lost and nothing is stored twice when the pipeline is killed with SIGKILL in
 * the middle of its work and started again; and SIGTERM stops it cleanly within seconds.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readArchivedRecords } from './audit-archive-reader.js';

import { isolate, runPanacea, searchAll, spawnPanacea, type Isolation } from './harness.js';

const EVENT_COUNT = 12_000;
const KINDS = ['activity', 'error', 'audit', 'heartbeat'] as const;

function eventLine(index: number): string {
  const kind = KINDS[index % KINDS.length] ?? 'activity';
  const agent = { id: `agent-${index % 7}` };
  const timestamp = Date.UTC(2026, 10, 30, 12) + index;
  const bodies = {
    activity: { activity: { action: 'tool.call', status: 'succeeded', durationMs: index % 500 } },
    error: { error: { type: 'Timeout', message: `call ${index} timed out`, severity: 'warning' } },
    audit: {
      audit: {
        actor: { type: 'agent', id: agent.id },
        action: 'ticket.read',
        resource: { type: 'ticket', id: `t-${index}` },
        outcome: index % 50 === 2 ? 'denied' : 'success',
      },
    },
    heartbeat: { heartbeat: { status: 'busy', cpuPercent: index % 100 } },
  };
  return JSON.stringify({ kind, eventId: `crash-${index}`, timestamp, agent, ...bodies[kind] });
}

async function countDocuments(isolation: Isolation): Promise<number> {
  const response = await fetch(
    `${isolation.elasticsearchUrl}/logs-agent.*-${isolation.namespace}/_count?allow_no_indices=true`,
  );
  return ((await response.json()) as { count?: number }).count ?? 0;
}

async function archivedOffsets(isolation: Isolation): Promise<string[]> {
  const records = await readArchivedRecords(
    isolation.dataDir,
    `${isolation.topicPrefix}agent.audit`,
  );
  return records.map((record) => `${record.partition}/${record.offset}`);
}

describe('pipeline crash recovery', () => {
  it('stores every event exactly once after a SIGKILL mid-run and a restart', async () => {
    const isolation = isolate('crash');
    const input = path.join(isolation.dataDir, 'events.ndjson');
    writeFileSync(
      input,
      Array.from({ length: EVENT_COUNT }, (_, index) => eventLine(index)).join('\n'),
    );
    const produced = await runPanacea(['produce', '--file', input], isolation.env);
    expect(produced.stdout).toContain(`published ${EVENT_COUNT}, rejected 0`);

    const running = spawnPanacea(['run'], isolation.env);
    let storedAtKill = 0;
    while (storedAtKill === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      storedAtKill = await countDocuments(isolation);
    }
    running.kill('SIGKILL');
    await new Promise((resolve) => running.once('close', resolve));
    // The kill must land mid-way, or this test would prove nothing about recovery.
    expect(storedAtKill).toBeLessThan(EVENT_COUNT);

    const rerun = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(rerun.exitCode, rerun.stderr.slice(-3000)).toBe(0);

    const hits = await searchAll(isolation, '*', { match_all: {} });
    expect(await countDocuments(isolation)).toBe(EVENT_COUNT);
    expect(new Set(hits.map((hit) => hit._id)).size).toBe(hits.length);
    const offsets = await archivedOffsets(isolation);
    expect(offsets).toHaveLength(EVENT_COUNT / KINDS.length);
    expect(new Set(offsets).size).toBe(offsets.length);
  });

  it('stops on SIGTERM within seconds, after committing what it finished', async () => {
    const isolation = isolate('sigterm');
    const produced = await runPanacea(['produce', '--file', '-'], isolation.env, eventLine(1));
    expect(produced.exitCode).toBe(0);

    const running = spawnPanacea(['run'], isolation.env);
    let stdout = '';
    running.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    while ((await countDocuments(isolation)) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const signalledAtMs = Date.now();
    running.kill('SIGTERM');
    const exitCode = await new Promise((resolve) => running.once('close', resolve));

    expect(exitCode).toBe(0);
    expect(Date.now() - signalledAtMs).toBeLessThan(10_000);
    expect(stdout).toContain('sink-elasticsearch: 1 record, 0 dead-lettered');
    const again = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(again.stdout).toContain('enrich: 0 records');
  });
});
