/**
 * The audit archive on the real servers: every audit event ends up in exactly one segment after
 * SIGKILLs at random points while segments are being written, the segments are Avro containers
 * holding the records as published, and `panacea audit verify` passes the result and names a
 * segment changed afterwards.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readManifest } from '../../sinks/audit-archive/manifest.js';
import { archivedPartitions, partitionDirectory } from '../../sinks/audit-archive/segment-files.js';
import { readArchivedRecords } from './audit-archive-reader.js';
import { isolate, runPanacea, spawnPanacea, type Isolation } from './harness.js';

const KILLS = 3;
const CHUNK_EVENTS = 500;
/** A run stops producing at this many chunks even if its kill has not landed yet. */
const MAX_CHUNKS_PER_RUN = 12;

function auditLine(index: number): string {
  return JSON.stringify({
    kind: 'audit',
    eventId: `archive-${index}`,
    timestamp: Date.UTC(2026, 10, 30, 12) + index,
    agent: { id: `agent-${index % 5}` },
    audit: {
      actor: { type: 'agent', id: `agent-${index % 5}` },
      action: 'ticket.read',
      resource: { type: 'ticket', id: `t-${index}` },
      outcome: 'success',
    },
  });
}

/** Records listed in the manifests so far: what is sealed and committed or about to be. */
function manifestRecords(root: string, topic: string): number {
  let total = 0;
  for (const partition of archivedPartitions(root, topic)) {
    const entries = readManifest(partitionDirectory(root, topic, partition)).entries;
    total += entries.reduce((sum, entry) => sum + entry.records, 0);
  }
  return total;
}

async function produceChunk(isolation: Isolation, chunk: number): Promise<void> {
  const file = path.join(isolation.dataDir, `audit-${chunk}.ndjson`);
  const first = chunk * CHUNK_EVENTS;
  writeFileSync(
    file,
    Array.from({ length: CHUNK_EVENTS }, (_, index) => auditLine(first + index)).join('\n'),
  );
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout).toContain(`published ${CHUNK_EVENTS}, rejected 0`);
}

function hasTemporarySegment(root: string, topic: string): boolean {
  return archivedPartitions(root, topic).some((partition) =>
    readdirSync(partitionDirectory(root, topic, partition)).some((name) =>
      name.endsWith('.avro.tmp'),
    ),
  );
}

interface KilledRun {
  /** Whether a segment was open (a temporary file on disk) when the kill landed. */
  writing: boolean;
  chunksProduced: number;
}

/**
 * Runs the pipeline while audit events keep arriving, and kills it with SIGKILL at a random
 * moment once it has sealed a segment of its own: mid-segment, mid-seal or between a seal and its
 * commit. Events keep arriving until the kill, so that segments keep opening: with a short time
 * roll, a pipeline that has caught up holds no open segment.
 */
async function killWhileWriting(
  isolation: Isolation,
  root: string,
  topic: string,
  firstChunk: number,
): Promise<KilledRun> {
  const running = spawnPanacea(['run'], isolation.env);
  const exited = new Promise((resolve) => running.once('close', resolve));
  const startRecords = manifestRecords(root, topic);
  let killed = false;
  let chunksProduced = 0;
  const producing = (async () => {
    while (!killed && chunksProduced < MAX_CHUNKS_PER_RUN) {
      await produceChunk(isolation, firstChunk + chunksProduced);
      chunksProduced += 1;
    }
  })();

  const deadline = Date.now() + 60_000;
  while (manifestRecords(root, topic) === startRecords && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 1_500)));
  // Then the first moment a segment is open, so the kill lands while one is being written.
  const openDeadline = Date.now() + 5_000;
  while (!hasTemporarySegment(root, topic) && Date.now() < openDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const writing = hasTemporarySegment(root, topic);
  running.kill('SIGKILL');
  killed = true;
  await exited;
  await producing;
  return { writing, chunksProduced };
}

describe('audit archive', () => {
  it('archives every audit event exactly once through SIGKILLs mid-write, and verify passes', async () => {
    const isolation = isolate('archive');
    // Small enough that every run seals several segments by size and by time, and that a
    // segment stays open across batches.
    isolation.env.PANACEA_ARCHIVE_SEGMENT_BYTES = '32768';
    isolation.env.PANACEA_ARCHIVE_SEGMENT_MS = '1000';
    const topic = `${isolation.topicPrefix}agent.audit`;
    const root = path.join(isolation.dataDir, 'audit-archive');

    const writingAtKills: boolean[] = [];
    let chunks = 0;
    for (let run = 0; run < KILLS; run += 1) {
      const killedRun = await killWhileWriting(isolation, root, topic, chunks);
      writingAtKills.push(killedRun.writing);
      chunks += killedRun.chunksProduced;
    }
    const eventCount = chunks * CHUNK_EVENTS;
    // A kill must land while a segment is being written, or this would prove nothing about it.
    expect(writingAtKills).toContain(true);

    const rerun = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(rerun.exitCode, rerun.stderr.slice(-3000)).toBe(0);

    const records = await readArchivedRecords(isolation.dataDir, topic);
    const ids = records.map((record) => record.eventId);
    expect(ids).toHaveLength(eventCount);
    expect(new Set(ids).size).toBe(eventCount);
    expect(new Set(records.map((record) => `${record.partition}/${record.offset}`)).size).toBe(
      eventCount,
    );
    // Byte for byte as published: the schema registry framing (magic byte 0) and the agent key.
    expect(records[0]?.value[0]).toBe(0);
    expect(records[0]?.key?.toString()).toMatch(/^agent-\d$/);

    const verified = await runPanacea(['audit', 'verify', '--json'], isolation.env);
    expect(verified.exitCode, verified.stdout + verified.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(verified.stdout) as {
      ok: boolean;
      events: number;
      segments: number;
      unlisted: string[];
    };
    // The restarts removed what the killed runs left half-done.
    expect(report).toMatchObject({ ok: true, events: eventCount, unlisted: [] });
    expect(report.segments).toBeGreaterThan(KILLS);

    // One byte changed in one segment: named, with the reason, and exit 1.
    const directory = partitionDirectory(root, topic, archivedPartitions(root, topic)[0] ?? 0);
    const victim = readManifest(directory).entries[0]!.segment;
    const bytes = readFileSync(path.join(directory, victim));
    bytes[bytes.length - 30] = (bytes[bytes.length - 30] ?? 0) ^ 0xff;
    writeFileSync(path.join(directory, victim), bytes);
    const broken = await runPanacea(['audit', 'verify'], isolation.env);
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toContain(`BROKEN: ${topic} partition`);
    expect(broken.stdout).toContain(`${victim}: the SHA-256 of the file does not match`);
  });
});
