import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../../core/config.js';
import { createNaming } from '../../../../core/naming.js';
import type { StageRecord } from '../../../../core/stage-runner.js';
import { createEventFilter } from '../../../../cli/replay/replay-filter.js';
import { parseReplayRequest } from '../../../../cli/replay/replay-request.js';
import type { ReplayTarget } from '../../../../cli/replay/replay-targets.js';
import {
  archivedAuditTopic,
  checkArchiveRequest,
  describeRehydration,
  headersOf,
  planArchiveRange,
  rehydrateCommand,
  rehydrateSegments,
  segmentInRange,
  type ArchivePlan,
  type RehydrateSegmentsOptions,
  type TimeBounds,
} from '../../../../cli/replay/rehydrate-archive.js';
import type { AuditEvent } from '../../../../schemas/event.js';
import { GENERATED_KEY_FILE } from '../../../../sinks/audit-archive/chain-head.js';
import type { ManifestEntry } from '../../../../sinks/audit-archive/manifest.js';
import { readManifest } from '../../../../sinks/audit-archive/manifest.js';
import { applyRetention } from '../../../../sinks/audit-archive/retention.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { localSegmentStore } from '../../../../sinks/audit-archive/segment-store.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { logger, signingKey, TOPIC } from '../../sinks/audit-archive/archive-fixture.js';
import {
  auditCodec,
  auditEvent,
  DAY_MS,
  writeEventSegments,
} from '../../sinks/audit-archive/audit-events-fixture.js';

const START_MS = Date.UTC(2026, 2, 1);
const HOUR_MS = 3_600_000;
/** The fixture's Kafka time is a second after the event time. */
const KAFKA_LAG_MS = 1_000;

/**
 * An archive in a data directory: four segments of five events, one segment an hour, events a
 * minute apart; agents in turn. The public key sits where the archive stage would generate it.
 */
async function dataDirWithArchive() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'panacea-rehydrate-'));
  const root = path.join(dataDir, 'audit-archive');
  mkdirSync(root);
  const key = signingKey();
  writeFileSync(
    path.join(root, GENERATED_KEY_FILE),
    key.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const codec = await auditCodec();
  const segments: AuditEvent[][] = [];
  for (let segment = 0; segment < 4; segment += 1) {
    const events: AuditEvent[] = [];
    for (let index = 0; index < 5; index += 1) {
      const event = auditEvent({ timeMs: START_MS + segment * HOUR_MS + index * 60_000 });
      events.push({ ...event, agent: { id: `agent-${index % 2}` } });
    }
    segments.push(events);
  }
  await writeEventSegments(root, key, codec, segments);
  const directory = partitionDirectory(root, TOPIC, 0);
  const entries = readManifest(directory).entries;
  return { dataDir, root, key, codec, directory, entries, events: segments.flat() };
}

/** A target that keeps what it is given; `duplicates` and dead letters as asked. */
function recordingTarget(options: { duplicates?: number; deadLetterEvery?: number } = {}) {
  const batches: StageRecord[][] = [];
  const target: ReplayTarget = {
    description: 'recording',
    async write(records) {
      batches.push(records);
      const deadLettered =
        options.deadLetterEvery === undefined
          ? 0
          : Math.floor(records.length / options.deadLetterEvery);
      return { written: records.length - deadLettered, deadLettered };
    },
    duplicates: () => options.duplicates ?? 0,
  };
  return { target, batches, records: () => batches.flat() };
}

async function rehydrate(
  root: string,
  plan: ArchivePlan,
  options: Partial<RehydrateSegmentsOptions> = {},
) {
  return rehydrateSegments({
    store: localSegmentStore(root),
    plan,
    bounds: {},
    filter: undefined,
    target: undefined,
    signal: new AbortController().signal,
    ...options,
  });
}

function entry(firstTimestamp: string | null, lastTimestamp: string | null): ManifestEntry {
  return {
    segment: 's.avro',
    sha256: '0',
    records: firstTimestamp === null ? 0 : 2,
    firstOffset: '0',
    lastOffset: '1',
    firstTimestamp,
    lastTimestamp,
    previousHash: '0',
    entryHash: '0',
  };
}

describe('replay --from-archive: the request', () => {
  it('refuses a kind other than audit, naming it', () => {
    const error = thrownPanaceaError(() =>
      checkArchiveRequest(parseReplayRequest(['--from-archive', '--kind', 'audit,activity'])),
    );
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('--kind activity: the audit archive holds audit events only');
    expect(() =>
      checkArchiveRequest(parseReplayRequest(['--from-archive', '--kind', 'audit'])),
    ).not.toThrow();
  });

  it('refuses offsets as bounds and a topic beside --from-archive', () => {
    expect(
      thrownPanaceaError(() => parseReplayRequest(['--from-archive', '--from', '0:10'])).message,
    ).toContain('the archive is read by time');
    expect(
      thrownPanaceaError(() => parseReplayRequest(['--from-archive', '--topic', 'agent.audit']))
        .message,
    ).toContain('it takes no --topic');
  });

  it("refuses an archive that holds only another prefix's audit topic", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'panacea-rehydrate-'));
    expect(archivedAuditTopic(root, createNaming({ topicPrefix: 'prod.', namespace: 'n' }))).toBe(
      'prod.agent.audit',
    );
    mkdirSync(path.join(root, 'staging.agent.audit'));
    const error = thrownPanaceaError(() =>
      archivedAuditTopic(root, createNaming({ topicPrefix: 'prod.', namespace: 'n' })),
    );
    expect(error.message).toContain(
      "holds staging.agent.audit, not this deployment's audit topic prod.agent.audit",
    );
  });
});

describe('replay --from-archive: the range', () => {
  const at = (minutes: number) => new Date(START_MS + minutes * 60_000).toISOString();
  const bounds = (from?: number, to?: number): TimeBounds => ({
    ...(from === undefined ? {} : { fromMs: START_MS + from * 60_000 }),
    ...(to === undefined ? {} : { toMs: START_MS + to * 60_000 }),
  });

  it('takes a segment that touches [from, to): a last record at from is in, a first at to is out', () => {
    expect(segmentInRange(entry(at(0), at(10)), bounds(10, 20))).toBe(true);
    expect(segmentInRange(entry(at(0), at(9)), bounds(10, 20))).toBe(false);
    expect(segmentInRange(entry(at(20), at(30)), bounds(10, 20))).toBe(false);
    expect(segmentInRange(entry(at(19), at(30)), bounds(10, 20))).toBe(true);
    expect(segmentInRange(entry(at(0), at(30)), bounds())).toBe(true);
    // A producer clock that stepped back: the first record is later than the last.
    expect(segmentInRange(entry(at(25), at(5)), bounds(10, 20))).toBe(true);
    expect(segmentInRange(entry(null, null), bounds())).toBe(false);
  });

  it('reads exactly the records whose Kafka timestamp is in [from, to), in offset order, as published', async () => {
    const { root, key, entries, events, codec } = await dataDirWithArchive();
    // From the second record of segment 1 to the third of segment 2, by Kafka time.
    const fromMs = START_MS + HOUR_MS + 60_000 + KAFKA_LAG_MS;
    const toMs = START_MS + 2 * HOUR_MS + 2 * 60_000 + KAFKA_LAG_MS;
    const plan = planArchiveRange(root, TOPIC, key.publicKey, { fromMs, toMs });
    expect(plan.segments.map((segment) => segment.entry.segment)).toEqual([
      entries[1]!.segment,
      entries[2]!.segment,
    ]);

    const { target, records } = recordingTarget();
    const counts = await rehydrate(root, plan, { bounds: { fromMs, toMs }, target });

    const expected = events.slice(6, 12);
    expect(records().map((record) => record.offset)).toEqual(['6', '7', '8', '9', '10', '11']);
    expect(records().map((record) => record.timestampMs)).toEqual(
      expected.map((event) => event.timestamp + KAFKA_LAG_MS),
    );
    expect(records().map((record) => record.key?.toString())).toEqual(
      expected.map((event) => event.agent.id),
    );
    expect(records().map((record) => record.value)).toEqual(
      expected.map((event) => codec.encode(event)),
    );
    expect(records().every((record) => record.topic === TOPIC && record.partition === 0)).toBe(
      true,
    );
    expect(counts).toMatchObject({ segmentsRead: 2, read: 6, outsideRange: 4, written: 6 });
  });

  it('reports segments deleted by retention in the range and reads only the others', async () => {
    const { root, key, entries } = await dataDirWithArchive();
    // The first two segments' newest events are older than a day at this time; the others not.
    const nowMs = START_MS + HOUR_MS + DAY_MS + 30 * 60_000;
    await applyRetention(root, { retentionMs: DAY_MS, key, logger, nowMs });

    const all = planArchiveRange(root, TOPIC, key.publicKey, {});
    expect(all.deleted.map((segment) => segment.segment)).toEqual([
      entries[0]!.segment,
      entries[1]!.segment,
    ]);
    expect(all.deleted[0]).toMatchObject({ partition: 0, records: 5 });
    expect(all.segments.map((segment) => segment.entry.segment)).toEqual([
      entries[2]!.segment,
      entries[3]!.segment,
    ]);
    const counts = await rehydrate(root, all);
    expect(counts).toMatchObject({ segmentsRead: 2, read: 10, written: 10 });

    // A range after them does not mention them.
    const later = planArchiveRange(root, TOPIC, key.publicKey, {
      fromMs: START_MS + 2 * HOUR_MS,
    });
    expect(later.deleted).toEqual([]);

    const lines = describeRehydration(
      parseReplayRequest(['--from-archive']),
      { root, keySource: 'test', bounds: {}, plan: all, counts },
      'rehydrated',
    );
    expect(lines).toContain(
      'WARNING: 2 segments in the range (10 records) were deleted by retention; their events cannot be restored:',
    );
    expect(lines).toContain("range: [the start, the end) by the records' Kafka timestamps");
  });
});

describe('replay --from-archive: writing', () => {
  it('writes in batches, counts what the sinks already held and what was dead-lettered', async () => {
    const { root, key } = await dataDirWithArchive();
    const plan = planArchiveRange(root, TOPIC, key.publicKey, {});
    const { target, batches } = recordingTarget({ duplicates: 7, deadLetterEvery: 3 });
    const progress: Array<[number, number]> = [];

    const counts = await rehydrate(root, plan, {
      target,
      batchRecords: 3,
      onProgress: (done, total) => progress.push([done, total]),
    });

    // Five records a segment in batches of at most three: 3 + 2, four times.
    expect(batches.map((batch) => batch.length)).toEqual([3, 2, 3, 2, 3, 2, 3, 2]);
    // One dead letter per full batch of three; of the 16 written, 7 were already stored.
    expect(counts).toMatchObject({ read: 20, deadLettered: 4, alreadyStored: 7, written: 9 });
    expect(progress).toEqual([
      [5, 20],
      [10, 20],
      [15, 20],
      [20, 20],
    ]);
  });

  it('applies the filters, counting what they leave out, and writes nothing on a dry run', async () => {
    const { root, key, codec } = await dataDirWithArchive();
    const plan = planArchiveRange(root, TOPIC, key.publicKey, {});
    const request = parseReplayRequest(['--from-archive', '--agent', 'agent-1']);
    const naming = createNaming({ topicPrefix: '', namespace: 'default' });

    const counts = await rehydrate(root, plan, {
      filter: createEventFilter(request.filter, naming, codec),
    });

    // Agents alternate 0, 1, 0, 1, 0 in each segment of five.
    expect(counts).toMatchObject({ read: 20, written: 8, skippedByFilter: 12, unreadable: 0 });
  });

  it('counts records a filter cannot read, and does not write them', async () => {
    const { root, key } = await dataDirWithArchive();
    const plan = planArchiveRange(root, TOPIC, key.publicKey, {});
    const { target, records } = recordingTarget();

    const counts = await rehydrate(root, plan, {
      // Every fourth offset stands for an event the filter could not decode.
      filter: async (record) => (Number(record.offset) % 4 === 0 ? 'unreadable' : 'keep'),
      target,
    });

    expect(counts).toMatchObject({ read: 20, unreadable: 5, written: 15 });
    expect(records().map((record) => record.offset)).not.toContain('4');
    expect(records()).toHaveLength(15);
  });

  it('stops at a segment changed after the verification, naming it and what was written before', async () => {
    const { root, key, directory, entries } = await dataDirWithArchive();
    const plan = planArchiveRange(root, TOPIC, key.publicKey, {});
    const victim = path.join(directory, entries[2]!.segment);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(victim, bytes);
    const { target, records } = recordingTarget();

    const error = await rejectedPanaceaError(rehydrate(root, plan, { target }));

    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(error.message).toContain(`${entries[2]!.segment}: the SHA-256 of the file`);
    expect(error.message).toContain('10 records were written before it');
    expect(records()).toHaveLength(10);
  });

  it('stops between segments when asked to stop', async () => {
    const { root, key } = await dataDirWithArchive();
    const plan = planArchiveRange(root, TOPIC, key.publicKey, {});
    const stop = new AbortController();
    stop.abort();
    const { target, records } = recordingTarget();

    const counts = await rehydrate(root, plan, { target, signal: stop.signal });

    expect(counts).toMatchObject({ stopped: true, segmentsRead: 0, written: 0 });
    expect(records()).toHaveLength(0);
  });

  it('gives a header kept several times back as a list', () => {
    expect(headersOf([])).toBeUndefined();
    expect(
      headersOf([
        { key: 'trace', value: Buffer.from('a') },
        { key: 'trace', value: Buffer.from('b') },
        { key: 'source', value: null },
      ]),
    ).toEqual({ trace: [Buffer.from('a'), Buffer.from('b')], source: undefined });
  });
});

describe('replay --from-archive: the command', () => {
  it('refuses a tampered archive before it connects to anything, naming the segment', async () => {
    const { dataDir, directory, entries } = await dataDirWithArchive();
    const victim = path.join(directory, entries[1]!.segment);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(victim, bytes);
    // Brokers nobody listens on: the refusal must come before any connection.
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir, KAFKA_BROKERS: '127.0.0.1:1' });

    const error = await rejectedPanaceaError(
      rehydrateCommand(parseReplayRequest(['--from-archive']), config),
    );

    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(error.message).toBe(
      `${TOPIC} partition 0, ${entries[1]!.segment}: the SHA-256 of the file does not match the manifest (the segment was changed); nothing was written (run panacea audit verify)`,
    );
  });

  it('says there is no archive in the data directory', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'panacea-rehydrate-'));
    const config = loadConfig({ PANACEA_DATA_DIR: dataDir, KAFKA_BROKERS: '127.0.0.1:1' });

    const error = await rejectedPanaceaError(
      rehydrateCommand(parseReplayRequest(['--from-archive']), config),
    );

    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toBe(`no audit archive at ${path.join(dataDir, 'audit-archive')}`);
  });
});
