/**
 * Retention, legal holds and export of the audit archive on the real servers: the real stage
 * records each segment's actors and resources, `panacea run` applies retention on its schedule
 * and keeps what a hold placed with `panacea audit hold add` names, `verify` passes across the
 * deleted segments, and `panacea audit export` returns exactly the remaining events, read
 * through the schema registry in Kafka.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readManifest } from '../../sinks/audit-archive/manifest.js';
import { archivedPartitions, partitionDirectory } from '../../sinks/audit-archive/segment-files.js';
import { isolate, runPanacea, type Isolation } from './harness.js';

const BATCH_EVENTS = 40;
/** The shortest retention the configuration accepts. */
const RETENTION_MS = 60_000;

function auditLine(batch: string, index: number, resource: string): string {
  return JSON.stringify({
    kind: 'audit',
    eventId: `${batch}-${index}`,
    timestamp: Date.now() - 1000 + index,
    agent: { id: `agent-${index % 3}` },
    audit: {
      actor: { type: 'agent', id: `agent-${index % 3}` },
      action: 'ticket.read',
      resource: { type: 'ticket', id: resource },
      outcome: index % 4 === 0 ? 'denied' : 'success',
      reason: 'checked, "twice"',
    },
  });
}

/** Publishes a batch, then archives it: `run --until-idle` seals every open segment at its stop. */
async function archiveBatch(
  isolation: Isolation,
  batch: string,
  resource: (index: number) => string,
  env: NodeJS.ProcessEnv = isolation.env,
): Promise<string[]> {
  const file = path.join(isolation.dataDir, `${batch}.ndjson`);
  const lines = Array.from({ length: BATCH_EVENTS }, (_, index) =>
    auditLine(batch, index, resource(index)),
  );
  writeFileSync(file, lines.join('\n'));
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout).toContain(`published ${BATCH_EVENTS}, rejected 0`);
  const run = await runPanacea(['run', '--until-idle'], env);
  expect(run.exitCode, run.stderr.slice(-3000)).toBe(0);
  return lines.map((line) => (JSON.parse(line) as { eventId: string }).eventId);
}

describe('audit archive retention, holds and export', () => {
  it('deletes the old segments a hold does not keep, verifies across them, and exports the rest', async () => {
    const isolation = isolate('archive-retention');
    const topic = `${isolation.topicPrefix}agent.audit`;
    const root = path.join(isolation.dataDir, 'audit-archive');

    const old = await archiveBatch(isolation, 'old', (index) => `t-${index}`);
    const held = await archiveBatch(isolation, 'held', () => 'case-7');
    const archivedAtMs = Date.now();

    // The real stage summarised each segment: the held batch's resource is in its entries.
    const entries = archivedPartitions(root, topic).flatMap(
      (partition) => readManifest(partitionDirectory(root, topic, partition)).entries,
    );
    const heldEntries = entries.filter((entry) => entry.summary?.resources?.includes('case-7'));
    expect(heldEntries.length).toBeGreaterThan(0);
    expect(heldEntries.every((entry) => entry.summary?.resources?.length === 1)).toBe(true);

    const hold = await runPanacea(
      ['audit', 'hold', 'add', '--resource', 'case-7', '--reason', 'case 7', '--by', 'legal'],
      isolation.env,
    );
    expect(hold.exitCode, hold.stderr).toBe(0);
    expect(hold.stdout).toContain('legal placed hold-1 (resource case-7): case 7');

    // Past the retention for both batches, then a young batch archived by a run whose schedule
    // applies the retention as it starts.
    await new Promise((resolve) =>
      setTimeout(resolve, archivedAtMs + RETENTION_MS + 1000 - Date.now()),
    );
    const young = await archiveBatch(isolation, 'young', (index) => `t-${index}`, {
      ...isolation.env,
      PANACEA_ARCHIVE_RETENTION: '1m',
      PANACEA_ARCHIVE_RETENTION_INTERVAL: '1s',
    });

    const verified = await runPanacea(['audit', 'verify', '--json'], isolation.env);
    expect(verified.exitCode, verified.stdout + verified.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(verified.stdout) as Record<string, unknown>;
    const oldSegments = entries.length - heldEntries.length;
    expect(report).toMatchObject({
      ok: true,
      deletedSegments: oldSegments,
      events: held.length + young.length,
      activeHolds: 1,
      holdChanges: 1,
    });

    const exported = await runPanacea(
      [
        'audit',
        'export',
        '--from',
        new Date(archivedAtMs - 3_600_000).toISOString(),
        '--to',
        new Date(Date.now() + 60_000).toISOString(),
        '--format',
        'ndjson',
      ],
      isolation.env,
    );
    expect(exported.exitCode, exported.stderr.slice(-2000)).toBe(0);
    const ids = exported.stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { eventId: string }).eventId);
    expect(ids.sort()).toEqual([...held, ...young].sort());
    expect(exported.stderr).toContain(`WARNING: ${oldSegments} segments in the range were deleted`);
    expect(old.some((id) => ids.includes(id))).toBe(false);

    const denied = await runPanacea(
      [
        'audit',
        'export',
        '--from',
        new Date(archivedAtMs - 3_600_000).toISOString(),
        '--to',
        new Date(Date.now() + 60_000).toISOString(),
        '--resource',
        'case-7',
        '--outcome',
        'denied',
        '--format',
        'csv',
      ],
      isolation.env,
    );
    const rows = denied.stdout.trimEnd().split('\r\n');
    expect(rows[0]).toMatch(/^eventId,timestamp,/);
    expect(
      rows
        .slice(1)
        .map((row) => row.split(',')[0])
        .sort(),
    ).toEqual(held.filter((_, index) => index % 4 === 0).sort());
    expect(rows[1]).toContain(',"checked, ""twice""",');
  });
});
