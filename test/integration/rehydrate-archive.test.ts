/**
 * `panacea replay --from-archive` on the real servers: after the audit data stream is deleted,
 * rehydration from the archive restores it exactly (same ids, same documents); a tampered archive
 * is refused with the segment and the reason and nothing is written; a second rehydration adds
 * nothing; the filters count what they leave out; and a topic is refilled with the archived
 * records byte for byte.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { readCapabilities } from '../../infra/elasticsearch/capabilities.js';
import { readDataStreams, readPlainIndices } from '../../infra/elasticsearch/index-state.js';
import { readManifest } from '../../sinks/audit-archive/manifest.js';
import { archivedPartitions, partitionDirectory } from '../../sinks/audit-archive/segment-files.js';
import { readArchivedRecords } from './audit-archive-reader.js';
import {
  isolate,
  readTopic,
  runPanacea,
  searchAll,
  type Isolation,
  type SearchHit,
} from './harness.js';

const EVENTS = 240;
const AGENTS = 4;

function auditLine(index: number): string {
  return JSON.stringify({
    kind: 'audit',
    eventId: `rehydrate-${index}`,
    timestamp: Date.now() - 60_000 + index,
    agent: { id: `agent-${index % AGENTS}`, name: `worker ${index % AGENTS}` },
    workflowId: `wf-${index % 3}`,
    audit: {
      actor: { type: 'agent', id: `agent-${index % AGENTS}` },
      action: index % 2 === 0 ? 'ticket.read' : 'ticket.update',
      resource: { type: 'ticket', id: `t-${index}` },
      outcome: index % 5 === 0 ? 'denied' : 'success',
      ...(index % 5 === 0 ? { reason: 'not the ticket\'s "owner"' } : {}),
      sourceIp: `10.0.0.${index % 250}`,
    },
  });
}

function manifestRecords(root: string, topic: string): number {
  return archivedPartitions(root, topic)
    .flatMap((partition) => readManifest(partitionDirectory(root, topic, partition)).entries)
    .reduce((sum, entry) => sum + entry.records, 0);
}

async function untilArchived(root: string, topic: string, records: number): Promise<void> {
  const deadlineMs = Date.now() + 60_000;
  while (manifestRecords(root, topic) < records && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(manifestRecords(root, topic)).toBe(records);
}

/**
 * Deletes the audit data stream, or what stands for it on this server: a full Elasticsearch
 * deletes the stream; the minimal one has no `_data_stream` API, so its backing indices are
 * deleted (the write index after a rollover, since a stream's write index cannot be deleted),
 * which leaves the stream empty; a plain index is deleted as it is.
 */
async function deleteAuditDocuments(isolation: Isolation): Promise<void> {
  const client = new Client({ node: isolation.elasticsearchUrl });
  const name = `logs-agent.audit-${isolation.namespace}`;
  try {
    const [stream] = await readDataStreams(client, [name]);
    if (stream === undefined) {
      expect(await readPlainIndices(client, [name])).toHaveLength(1);
      await client.indices.delete({ index: name });
      return;
    }
    if ((await readCapabilities(client)).dataStreamLifecycle) {
      await client.indices.deleteDataStream({ name });
      return;
    }
    await client.indices.rollover({ alias: name });
    for (const index of stream.backingIndices) await client.indices.delete({ index: index.name });
  } finally {
    await client.close();
  }
}

/**
 * A document as compared: its id and source. `event.ingested` records when the enrichment wrote
 * this copy, which for a restored copy is the rehydration, so it alone must differ; `_index` is
 * not compared because a stream recreated (or rolled over) writes to a new backing index.
 */
function comparable(hit: SearchHit): { id: string; source: Record<string, unknown> } {
  const source = structuredClone(hit._source);
  const event = source.event as Record<string, unknown>;
  delete event.ingested;
  return { id: hit._id, source };
}

function byId(hits: SearchHit[]): SearchHit[] {
  return [...hits].sort((left, right) => left._id.localeCompare(right._id));
}

interface RehydrationJson {
  outcome: string;
  segmentsRead: number;
  read: number;
  written: number;
  alreadyStored: number;
  skippedByFilter: number;
  unreadable: number;
  deadLettered: number;
  deletedSegments: unknown[];
}

describe('panacea replay --from-archive', () => {
  it('restores a deleted audit data stream exactly, refuses a tampered archive and adds nothing the second time', async () => {
    const isolation = isolate('rehydrate');
    // Small segments, so the archive has several per partition and verify has work to do.
    isolation.env.PANACEA_ARCHIVE_SEGMENT_BYTES = '8192';
    isolation.env.PANACEA_ARCHIVE_SEGMENT_MS = '1000';
    const topic = `${isolation.topicPrefix}agent.audit`;
    const root = path.join(isolation.dataDir, 'audit-archive');

    const file = path.join(isolation.dataDir, 'audit.ndjson');
    writeFileSync(file, Array.from({ length: EVENTS }, (_, index) => auditLine(index)).join('\n'));
    const produced = await runPanacea(['produce', '--file', file], isolation.env);
    expect(produced.stdout).toContain(`published ${EVENTS}, rejected 0`);
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode, run.stderr.slice(-3000)).toBe(0);
    await untilArchived(root, topic, EVENTS);
    const segments = archivedPartitions(root, topic).flatMap(
      (partition) => readManifest(partitionDirectory(root, topic, partition)).entries,
    );
    expect(segments.length).toBeGreaterThan(1);

    const originals = byId(await searchAll(isolation, 'audit'));
    expect(originals).toHaveLength(EVENTS);
    await deleteAuditDocuments(isolation);
    expect(await searchAll(isolation, 'audit')).toHaveLength(0);

    // One byte of one segment changed: refused before anything is written, naming the segment.
    const directory = partitionDirectory(root, topic, archivedPartitions(root, topic)[0]!);
    const victim = readManifest(directory).entries[0]!.segment;
    const intact = readFileSync(path.join(directory, victim));
    const tampered = Buffer.from(intact);
    tampered[tampered.length - 30] = (tampered[tampered.length - 30] ?? 0) ^ 0xff;
    writeFileSync(path.join(directory, victim), tampered);
    const refused = await runPanacea(['replay', '--from-archive', '--json'], isolation.env);
    expect(refused.exitCode, refused.stderr.slice(-2000)).toBe(2);
    expect(refused.stderr).toContain(`ARCHIVE_INVALID: ${topic} partition`);
    expect(refused.stderr).toContain(`${victim}: the SHA-256 of the file does not match`);
    expect(refused.stderr).toContain('nothing was written');
    expect(JSON.parse(refused.stdout)).toMatchObject({ broken: { topic, segment: victim } });
    expect(await searchAll(isolation, 'audit')).toHaveLength(0);
    writeFileSync(path.join(directory, victim), intact);

    const restored = await runPanacea(['replay', '--from-archive', '--json'], isolation.env);
    expect(restored.exitCode, restored.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      outcome: 'rehydrated',
      segmentsRead: segments.filter((entry) => entry.records > 0).length,
      read: EVENTS,
      written: EVENTS,
      alreadyStored: 0,
      skippedByFilter: 0,
      unreadable: 0,
      deadLettered: 0,
      deletedSegments: [],
    } satisfies RehydrationJson);
    const copies = byId(await searchAll(isolation, 'audit'));
    expect(copies.map(comparable)).toEqual(originals.map(comparable));
    // The one field left out above is there, and is the time of the copy.
    for (const [index, copy] of copies.entries()) {
      const ingested = (copy._source.event as { ingested: string }).ingested;
      const original = (originals[index]!._source.event as { ingested: string }).ingested;
      expect(Date.parse(ingested)).toBeGreaterThan(Date.parse(original));
    }

    const again = await runPanacea(['replay', '--from-archive', '--json'], isolation.env);
    expect(again.exitCode, again.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      read: EVENTS,
      written: 0,
      alreadyStored: EVENTS,
    });
    expect(await searchAll(isolation, 'audit')).toHaveLength(EVENTS);

    // Filters and a dry run: one agent's events would be written, the others are counted out.
    const oneAgent = await runPanacea(
      ['replay', '--from-archive', '--agent', 'agent-1', '--kind', 'audit', '--dry-run', '--json'],
      isolation.env,
    );
    expect(oneAgent.exitCode, oneAgent.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(oneAgent.stdout)).toMatchObject({
      outcome: 'dry run, nothing written',
      read: EVENTS,
      written: EVENTS / AGENTS,
      skippedByFilter: EVENTS - EVENTS / AGENTS,
    });
  });

  it('refills a topic with the archived records byte for byte', async () => {
    const isolation = isolate('rehydrate-topic');
    isolation.env.PANACEA_ARCHIVE_SEGMENT_MS = '1000';
    const topic = `${isolation.topicPrefix}agent.audit`;
    const refilled = `${isolation.topicPrefix}refilled.audit`;
    const root = path.join(isolation.dataDir, 'audit-archive');

    const file = path.join(isolation.dataDir, 'audit.ndjson');
    writeFileSync(file, Array.from({ length: 50 }, (_, index) => auditLine(index)).join('\n'));
    const produced = await runPanacea(['produce', '--file', file], isolation.env);
    expect(produced.stdout).toContain('published 50, rejected 0');
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode, run.stderr.slice(-3000)).toBe(0);
    await untilArchived(root, topic, 50);

    // The deployment's own audit topic still holds its records: refilling it would archive and
    // count them twice.
    const intoLive = await runPanacea(
      ['replay', '--from-archive', '--into', 'topic:agent.audit'],
      isolation.env,
    );
    expect(intoLive.exitCode).toBe(2);
    expect(intoLive.stderr).toContain(`--into topic:${topic}: a topic of this pipeline holding 50`);

    // Named like --topic: without the prefix, it gets the deployment's.
    const copied = await runPanacea(
      ['replay', '--from-archive', '--into', 'topic:refilled.audit', '--json'],
      isolation.env,
    );
    expect(copied.exitCode, copied.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(copied.stdout)).toMatchObject({ read: 50, written: 50 });

    const archived = await readArchivedRecords(isolation.dataDir, topic);
    const records = await readTopic(isolation, refilled, 50);
    const asText = (key: string | null, value: Buffer | null): string =>
      `${key}:${value?.toString('base64')}`;
    expect(records.map((record) => asText(record.key, record.value)).sort()).toEqual(
      archived.map((record) => asText(record.key?.toString() ?? null, record.value)).sort(),
    );
  });
});
