/**
 * Audit archive benchmark, on local disk only (no Kafka, no Elasticsearch): how fast the archive
 * writes audit events into sealed, hash-chained, signed segments, beside the raw speed of writing
 * the same bytes to the same disk; and how fast `verify` checks the result, beside `sha256sum`
 * reading the same files. Prints a table for a person and one JSON line for machines.
 *
 * Usage: npm run bench -- --only archive [--events 200000] [--rounds 3] [--segment-bytes 67108864]
 *
 * Each round writes N audit events (encoded beforehand, as the stage receives them from Kafka) in
 * batches of 500, as the stage does: one partition, its records decoded into the segment summary
 * facts as the stage reads them ("archive, decoding"), and without the decoding ("archive, write
 * path"). The raw side writes the bytes of the segments the round produced, in the same chunk
 * sizes, then flushes each file to disk as a seal does. Everything is under --dir (default the
 * system temporary directory) and removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

import { componentLogger } from '../core/logger.js';
import { openSchemaCodec, type SchemaCodec } from '../schemas/codec.js';
import type { AuditEvent } from '../schemas/event.js';
import { readRawRecord } from '../schemas/raw-record.js';
import { createMemoryRegistry } from '../schemas/registry/memory-registry.js';
import type { ArchivedRecord } from '../sinks/audit-archive/archived-record.js';
import { fingerprintOf, type SigningKey } from '../sinks/audit-archive/chain-head.js';
import { PartitionArchive } from '../sinks/audit-archive/partition-archive.js';
import { partitionDirectory } from '../sinks/audit-archive/segment-files.js';
import { factsOf, type EventFacts } from '../sinks/audit-archive/segment-summary.js';
import { verifyArchive } from '../sinks/audit-archive/verify-archive.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  machineFacts,
  median,
  parseInteger,
  reportOrFail,
  round,
  say,
} from './report-support.js';

const TOPIC = 'agent.audit';
const BATCH_RECORDS = 500;
const MIB = 1024 * 1024;

interface BenchOptions {
  /** Events written per round and side. `--events`; default 200 000 (about 60 MiB of segments). */
  eventCount: number;
  /** `--rounds`; default 3. Medians over the rounds are reported. */
  rounds: number;
  /** `--segment-bytes`; default 64 MiB, the stage's default. */
  segmentBytes: number;
  /** `--dir`; default the system temporary directory. */
  directory: string;
}

interface RoundFigures {
  archiveDecodingEventsPerSecond: number;
  archiveWriteEventsPerSecond: number;
  rawWriteEventsPerSecond: number;
  verifyMiBPerSecond: number;
  sha256sumMiBPerSecond: number;
  segments: number;
  segmentMiB: number;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const loadAtStart = loadAverage1m();
  const workDirectory = mkdtempSync(path.join(options.directory, 'panacea-bench-archive-'));
  return reportOrFail({
    measure: async () => {
      const codec = await openSchemaCodec(createMemoryRegistry());
      const records = encodedRecords(codec, options.eventCount);
      const rounds: RoundFigures[] = [];
      for (let index = 0; index < options.rounds; index += 1) {
        rounds.push(await measureRound(workDirectory, index, records, codec, options));
      }
      const medianOf = (pick: (figures: RoundFigures) => number): number =>
        round(median(rounds.map(pick)));
      return {
        benchmark: 'archive',
        date: new Date().toISOString(),
        events: options.eventCount,
        segmentBytes: options.segmentBytes,
        directory: options.directory,
        median: {
          archiveDecodingEventsPerSecond: medianOf((f) => f.archiveDecodingEventsPerSecond),
          archiveWriteEventsPerSecond: medianOf((f) => f.archiveWriteEventsPerSecond),
          rawWriteEventsPerSecond: medianOf((f) => f.rawWriteEventsPerSecond),
          verifyMiBPerSecond: medianOf((f) => f.verifyMiBPerSecond),
          sha256sumMiBPerSecond: medianOf((f) => f.sha256sumMiBPerSecond),
        },
        rounds,
        machine: machineFacts(loadAtStart),
      };
    },
    printReport: (result) => {
      const { median: figures } = result;
      const first = result.rounds[0];
      say(
        `archive bench: ${formatNumber(result.events)} events, ${first?.segments ?? 0} segments, ${first?.segmentMiB ?? 0} MiB per round, ${result.rounds.length} rounds (medians)`,
      );
      say(
        `archive, decoding as the stage does  ${formatNumber(figures.archiveDecodingEventsPerSecond)} events/s`,
      );
      say(
        `archive, write path only             ${formatNumber(figures.archiveWriteEventsPerSecond)} events/s`,
      );
      say(
        `raw write of the same bytes + fsync  ${formatNumber(figures.rawWriteEventsPerSecond)} events/s`,
      );
      say(`verify                               ${figures.verifyMiBPerSecond} MiB/s`);
      say(`sha256sum on the same files          ${figures.sha256sumMiBPerSecond} MiB/s`);
    },
    cleanUp: async () => rmSync(workDirectory, { recursive: true, force: true }),
  });
}

async function measureRound(
  workDirectory: string,
  roundIndex: number,
  records: ArchivedRecord[],
  codec: SchemaCodec,
  options: BenchOptions,
): Promise<RoundFigures> {
  const key = signingKey();
  const decodingRoot = path.join(workDirectory, `round-${roundIndex}-decoding`);
  const writeRoot = path.join(workDirectory, `round-${roundIndex}-write`);

  const decodingMs = await timed(() =>
    writeArchive(decodingRoot, key, records, options.segmentBytes, async (batch) => {
      const facts: EventFacts[] = [];
      for (const record of batch) {
        const { event } = await readRawRecord(codec, record.value, 'audit');
        facts.push(factsOf(event as AuditEvent));
      }
      return facts;
    }),
  );
  const precomputed = await factsOfAll(codec, records);
  const writeMs = await timed(() =>
    writeArchive(writeRoot, key, records, options.segmentBytes, async (batch) =>
      batch.map((record) => precomputed.get(record.offset) as EventFacts),
    ),
  );

  const directory = partitionDirectory(writeRoot, TOPIC, 0);
  const segmentFiles = readdirSync(directory)
    .filter((name) => name.endsWith('.avro'))
    .map((name) => path.join(directory, name));
  const segmentBytes = segmentFiles.reduce((sum, file) => sum + statSync(file).size, 0);
  // The archive writes one block per batch: the raw side writes blocks of the same mean size.
  const blockBytes = Math.ceil(segmentBytes / Math.ceil(records.length / BATCH_RECORDS));
  const rawMs = await timed(() =>
    writeRaw(path.join(workDirectory, `round-${roundIndex}-raw`), segmentFiles, blockBytes),
  );

  let verified;
  const verifyMs = await timed(async () => {
    verified = await verifyArchive(writeRoot, { publicKey: key.publicKey });
  });
  if (verified === undefined || !(verified as { ok: boolean }).ok) {
    throw new BenchFailure('verify did not pass the archive the round wrote');
  }
  const sha256sumMs = await timed(() => sha256sum(segmentFiles));

  const perSecond = (ms: number): number => round((records.length * 1000) / ms);
  const mibPerSecond = (ms: number): number => round(segmentBytes / MIB / (ms / 1000), 1);
  return {
    archiveDecodingEventsPerSecond: perSecond(decodingMs),
    archiveWriteEventsPerSecond: perSecond(writeMs),
    rawWriteEventsPerSecond: perSecond(rawMs),
    verifyMiBPerSecond: mibPerSecond(verifyMs),
    sha256sumMiBPerSecond: mibPerSecond(sha256sumMs),
    segments: segmentFiles.length,
    segmentMiB: round(segmentBytes / MIB, 1),
  };
}

/** Appends batches as the stage does, sealing by size, and seals the last segment at the end. */
async function writeArchive(
  root: string,
  key: SigningKey,
  records: ArchivedRecord[],
  segmentBytes: number,
  factsFor: (batch: ArchivedRecord[]) => Promise<EventFacts[]>,
): Promise<void> {
  const archive = await PartitionArchive.open(root, TOPIC, 0, key, componentLogger('bench'));
  for (let start = 0; start < records.length; start += BATCH_RECORDS) {
    const batch = records.slice(start, start + BATCH_RECORDS);
    const first = BigInt(batch[0]?.offset ?? 0);
    const last = BigInt(batch.at(-1)?.offset ?? 0);
    await archive.append(batch, first, last, Date.now(), await factsFor(batch));
    if (archive.openSegmentSizeBytes() >= segmentBytes) await archive.seal();
  }
  await archive.seal();
}

/**
 * The segments' bytes, read beforehand, written to new files in blocks of `blockBytes`, each
 * file flushed to disk before the next, as a seal does.
 */
async function writeRaw(directory: string, sources: string[], blockBytes: number): Promise<void> {
  const contents = sources.map((source) => readFileSync(source));
  await mkdir(directory, { recursive: true });
  for (const [index, bytes] of contents.entries()) {
    const handle = await open(path.join(directory, `raw-${index}`), 'w');
    try {
      for (let offset = 0; offset < bytes.length; offset += blockBytes) {
        await handle.write(bytes.subarray(offset, offset + blockBytes));
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function sha256sum(files: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sha256sum', files, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new BenchFailure(`sha256sum exited with ${code}`)),
    );
  });
}

function encodedRecords(codec: SchemaCodec, count: number): ArchivedRecord[] {
  const startMs = Date.UTC(2026, 11, 1);
  return Array.from({ length: count }, (_, offset) => {
    const event: AuditEvent = {
      kind: 'audit',
      eventId: `bench-${offset}`,
      timestamp: startMs + offset,
      agent: { id: `agent-${offset % 20}`, name: 'bench-agent' },
      workflowId: `wf-${offset % 100}`,
      // Random ids, as real traces have, so the segments do not compress unrealistically well.
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      audit: {
        actor: { type: 'agent', id: `agent-${offset % 20}` },
        action: 'secrets.read',
        resource: { type: 'secret', id: `secret-${offset % 50}` },
        outcome: offset % 10 === 0 ? 'denied' : 'success',
        sourceIp: '10.0.0.7',
      },
    };
    return {
      topic: TOPIC,
      partition: 0,
      offset,
      timestampMs: startMs + offset,
      key: Buffer.from(event.agent.id),
      value: codec.encode(event),
      headers: [],
      eventId: event.eventId,
    };
  });
}

async function factsOfAll(
  codec: SchemaCodec,
  records: ArchivedRecord[],
): Promise<Map<number, EventFacts>> {
  const facts = new Map<number, EventFacts>();
  for (const record of records) {
    const { event } = await readRawRecord(codec, record.value, 'audit');
    facts.set(record.offset, factsOf(event as AuditEvent));
  }
  return facts;
}

function signingKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, fingerprint: fingerprintOf(publicKey), source: 'bench' };
}

async function timed(work: () => Promise<void>): Promise<number> {
  const startMs = performance.now();
  await work();
  return performance.now() - startMs;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      events: { type: 'string' },
      rounds: { type: 'string' },
      'segment-bytes': { type: 'string' },
      dir: { type: 'string' },
    },
  });
  return {
    eventCount: parseInteger('--events', values.events, 200_000, 1_000, 5_000_000),
    rounds: parseInteger('--rounds', values.rounds, 3, 1, 20),
    segmentBytes: parseInteger(
      '--segment-bytes',
      values['segment-bytes'],
      64 * MIB,
      1024,
      1024 * MIB,
    ),
    directory: values.dir ?? tmpdir(),
  };
}

process.exit(await main(process.argv.slice(2)));
