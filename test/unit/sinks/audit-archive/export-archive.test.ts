import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import type { AuditEvent } from '../../../../schemas/event.js';
import {
  CSV_COLUMNS,
  exportArchive,
  type ExportFilter,
  type ExportFormat,
  type ExportProgress,
} from '../../../../sinks/audit-archive/export-archive.js';
import { readManifest } from '../../../../sinks/audit-archive/manifest.js';
import { applyRetention } from '../../../../sinks/audit-archive/retention.js';
import { partitionDirectory } from '../../../../sinks/audit-archive/segment-files.js';
import { rejectedPanaceaError } from '../../fixtures/panacea-error.js';
import { logger, signingKey, temporaryRoot, TOPIC } from './archive-fixture.js';
import { auditCodec, auditEvent, DAY_MS, writeEventSegments } from './audit-events-fixture.js';

const START_MS = Date.UTC(2026, 0, 1);
const HOUR_MS = 3_600_000;
const ACTORS = ['u-1', 'u-2', 'u-3'];
const OUTCOMES = ['success', 'failure', 'denied'] as const;
const AWKWARD_REASONS = ['plain', 'a, comma', 'a "quote"', 'two\nlines', ' padded ', undefined];

/** Four segments of 12 events, one an hour, actors, resources and outcomes in turn. */
async function eventArchive() {
  const root = temporaryRoot();
  const key = signingKey();
  const codec = await auditCodec();
  const segments: AuditEvent[][] = [];
  for (let segment = 0; segment < 4; segment += 1) {
    const events: AuditEvent[] = [];
    for (let index = 0; index < 12; index += 1) {
      const n = segment * 12 + index;
      events.push(
        auditEvent({
          timeMs: START_MS + n * HOUR_MS,
          actor: ACTORS[n % 3],
          resource: `r-${n % 4}`,
          outcome: OUTCOMES[n % 3 === 0 ? 0 : (n % 5) % 3],
          ...(AWKWARD_REASONS[n % 6] === undefined ? {} : { reason: AWKWARD_REASONS[n % 6] }),
        }),
      );
    }
    segments.push(events);
  }
  await writeEventSegments(root, key, codec, segments);
  const run = async (filter: ExportFilter, format: ExportFormat) => {
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk));
    const progress: ExportProgress[] = [];
    const report = await exportArchive(root, {
      filter,
      format,
      publicKey: key.publicKey,
      codec,
      output,
      onProgress: (step) => progress.push({ ...step }),
    });
    return { report, progress, text: Buffer.concat(chunks).toString('utf8') };
  };
  return { root, key, events: segments.flat(), run };
}

/** An RFC 4180 reader, written for the test: quoted fields, doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      index += 1;
    } else field += char;
  }
  return rows;
}

describe('audit archive export', () => {
  it('writes exactly the events in the time range of the actor and outcome asked for, as NDJSON', async () => {
    const { events, run } = await eventArchive();
    const filter: ExportFilter = {
      fromMs: START_MS + 5 * HOUR_MS,
      toMs: START_MS + 40 * HOUR_MS,
      actor: 'u-2',
      outcome: 'failure',
    };
    const expected = events.filter(
      (event) =>
        event.timestamp >= filter.fromMs &&
        event.timestamp <= filter.toMs &&
        event.audit.actor.id === 'u-2' &&
        event.audit.outcome === 'failure',
    );
    expect(expected.length).toBeGreaterThan(2);

    const { report, text } = await run(filter, 'ndjson');

    const exported = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(exported).toEqual(
      expected.map((event) => ({ ...event, timestamp: new Date(event.timestamp).toISOString() })),
    );
    expect(report).toMatchObject({ eventsExported: expected.length, partitions: 1 });
  });

  it('skips the segments whose summary rules them out, without reading them', async () => {
    const { run } = await eventArchive();

    const { report } = await run(
      { fromMs: START_MS + 13 * HOUR_MS, toMs: START_MS + 14 * HOUR_MS },
      'ndjson',
    );

    expect(report).toMatchObject({ segmentsRead: 1, eventsRead: 12, eventsExported: 2 });
  });

  it('writes CSV with a header and fields quoted where they need it, which reads back exactly', async () => {
    const { events, run } = await eventArchive();
    const filter: ExportFilter = { fromMs: START_MS, toMs: START_MS + 100 * DAY_MS };
    const expected = events;

    const { text, progress } = await run(filter, 'csv');

    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows).toEqual(
      expected.map((event) => [
        event.eventId,
        new Date(event.timestamp).toISOString(),
        'agent-7',
        'researcher',
        '',
        '',
        '',
        '',
        'user',
        event.audit.actor.id,
        'secrets.read',
        'secret',
        event.audit.resource.id,
        event.audit.outcome,
        event.audit.reason ?? '',
        '',
      ]),
    );
    expect(text).toContain(',"a ""quote""",');
    expect(text).toContain(',"two\nlines",');
    expect(text).toContain(',"a, comma",');
    expect(text).toContain('," padded ",');
    expect(progress.at(-1)).toMatchObject({ segmentsDone: 4, segmentsTotal: 4 });
    expect(progress.at(-1)?.bytesDone).toBe(progress.at(-1)?.bytesTotal);
  });

  it('stops at a changed segment with ARCHIVE_INVALID, and at a broken chain before writing anything', async () => {
    const { root, run } = await eventArchive();
    const directory = partitionDirectory(root, TOPIC, 0);
    const entries = readManifest(directory).entries;
    const third = path.join(directory, entries[2]!.segment);
    const bytes = readFileSync(third);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    writeFileSync(third, bytes);
    const everything = { fromMs: START_MS, toMs: START_MS + DAY_MS * 10 };

    const changed = await rejectedPanaceaError(run(everything, 'ndjson'));
    expect(changed.code).toBe('ARCHIVE_INVALID');
    expect(changed.message).toContain(`${entries[2]!.segment}: the SHA-256 of the file`);

    const manifest = path.join(directory, 'manifest.ndjson');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"records":12', '"records":11'));
    const chain = await rejectedPanaceaError(run(everything, 'ndjson'));
    expect(chain.message).toContain('nothing was exported');
  });

  it('reports the segments in the range that retention deleted', async () => {
    const { root, key, events, run } = await eventArchive();
    // The first two segments' newest events are past a retention that ends at event 24.
    await applyRetention(root, {
      retentionMs: DAY_MS,
      key,
      logger,
      nowMs: START_MS + 23.5 * HOUR_MS + DAY_MS,
    });

    const { report } = await run({ fromMs: START_MS, toMs: START_MS + 100 * DAY_MS }, 'ndjson');

    expect(report.deletedSegments).toHaveLength(2);
    expect(report.eventsExported).toBe(events.length - 24);
  });
});
