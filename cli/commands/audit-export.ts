/**
 * `panacea audit export --from --to [--actor --resource --outcome] --format ndjson|csv
 * [--output FILE]`: the archived audit events of a time range, verified, for offline analysis
 * (sinks/audit-archive/export-archive.ts). Events go to FILE (written under a temporary name and
 * renamed once complete, so a failed export leaves no partial file) or to stdout; progress and
 * the summary go to stderr: a bar redrawn in place on a terminal, a plain line every few seconds
 * otherwise.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { createKafka } from '../../core/kafka.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { AUDIT_OUTCOMES } from '../../schemas/event.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import { openSegmentStore } from '../../sinks/audit-archive/open-segment-store.js';
import {
  EXPORT_FORMATS,
  exportArchive,
  type ExportFilter,
  type ExportFormat,
  type ExportProgress,
  type ExportReport,
} from '../../sinks/audit-archive/export-archive.js';
import { EXIT_OK, parseCommandArgs } from '../command-line.js';
import { archiveRootOf, requiredTime, resolvePublicKey } from './audit-support.js';

/** How often a plain progress line is written when stderr is not a terminal. */
const PROGRESS_LINE_INTERVAL_MS = 5_000;
const BAR_WIDTH = 30;

export async function auditExportCommand(args: string[], config: PanaceaConfig): Promise<number> {
  // Arguments and files first: a bad date or a missing archive is said before anything connects.
  const request = exportRequestOf(args, config);
  const registry = await openSchemaRegistry(config, createKafka(config, 'panacea-audit-export'));
  try {
    return await runExport(request, config, await openSchemaCodec(registry));
  } finally {
    await registry.close();
  }
}

/** The command once the codec is open; tests give it a codec on an in-memory registry. */
export async function exportWithCodec(
  args: string[],
  config: PanaceaConfig,
  codec: SchemaCodec,
): Promise<number> {
  return runExport(exportRequestOf(args, config), config, codec);
}

interface ExportRequest {
  filter: ExportFilter;
  format: ExportFormat;
  root: string;
  publicKey: KeyObject;
  output: string | undefined;
}

function exportRequestOf(args: string[], config: PanaceaConfig): ExportRequest {
  const { values } = parseCommandArgs(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    actor: { type: 'string' },
    resource: { type: 'string' },
    outcome: { type: 'string' },
    format: { type: 'string' },
    output: { type: 'string' },
    'public-key': { type: 'string' },
  });
  const filter = filterOf(values);
  const format = formatOf(values.format);
  const root = archiveRootOf(config);
  if (!existsSync(root)) {
    throw new PanaceaError('FILE_UNREADABLE', `no audit archive at ${root}`, { file: root });
  }
  const publicKey = resolvePublicKey(values['public-key'], config, root).publicKey;
  return { filter, format, root, publicKey, output: values.output };
}

async function runExport(
  request: ExportRequest,
  config: PanaceaConfig,
  codec: SchemaCodec,
): Promise<number> {
  const { filter, format, root, output } = request;
  const target = await openTarget(output);
  let opened: Awaited<ReturnType<typeof openSegmentStore>>;
  try {
    opened = await openSegmentStore(config.archive, root);
  } catch (error) {
    await target.discard();
    throw error;
  }
  const progress = progressReporter(process.stderr);
  let report: ExportReport;
  try {
    report = await exportArchive(root, {
      filter,
      format,
      publicKey: request.publicKey,
      codec,
      output: target.stream,
      onProgress: progress.update,
      store: opened.store,
    });
    await target.complete();
  } catch (error) {
    progress.end();
    await target.discard();
    throw error;
  } finally {
    opened.close();
  }
  progress.end();

  for (const line of describeExport(report, output)) process.stderr.write(`${line}\n`);
  return EXIT_OK;
}

function filterOf(values: {
  from?: string | undefined;
  to?: string | undefined;
  actor?: string | undefined;
  resource?: string | undefined;
  outcome?: string | undefined;
}): ExportFilter {
  const fromMs = requiredTime('--from', values.from);
  const toMs = requiredTime('--to', values.to);
  if (fromMs > toMs)
    throw new PanaceaError('USAGE', `--from ${values.from} is after --to ${values.to}`);
  const outcome = values.outcome;
  if (outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new PanaceaError(
      'USAGE',
      `--outcome: expected ${AUDIT_OUTCOMES.join(', ')}, got "${outcome}"`,
    );
  }
  return {
    fromMs,
    toMs,
    ...(values.actor === undefined ? {} : { actor: values.actor }),
    ...(values.resource === undefined ? {} : { resource: values.resource }),
    ...(outcome === undefined ? {} : { outcome: outcome as ExportFilter['outcome'] }),
  };
}

function formatOf(text: string | undefined): ExportFormat {
  if (text === undefined || !(EXPORT_FORMATS as readonly string[]).includes(text)) {
    throw new PanaceaError(
      'USAGE',
      `--format: expected ${EXPORT_FORMATS.join(' or ')}, got ${text === undefined ? 'nothing' : `"${text}"`}`,
    );
  }
  return text as ExportFormat;
}

interface Target {
  stream: Writable;
  complete(): Promise<void>;
  discard(): Promise<void>;
}

async function openTarget(file: string | undefined): Promise<Target> {
  if (file === undefined) {
    return {
      stream: process.stdout,
      complete: async () => undefined,
      discard: async () => undefined,
    };
  }
  const cannotWrite = (error: unknown): PanaceaError =>
    new PanaceaError(
      'USAGE',
      `--output: cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { field: '--output', file },
      error,
    );
  // Refused before any segment is read: a directory, or a path whose directory is missing or
  // not writable, used to fail only after the whole export (or crash on the stream's error).
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) {
    throw new PanaceaError('USAGE', `--output: ${file} is a directory; expected a file name`, {
      field: '--output',
      file,
    });
  }
  const partial = `${file}.partial`;
  let handle: FileHandle;
  try {
    handle = await open(partial, 'w');
  } catch (error) {
    throw cannotWrite(error);
  }
  const stream = handle.createWriteStream();
  // A write that fails later (a full disk) is reported by `complete`, not thrown as an
  // unhandled 'error' event.
  stream.on('error', () => undefined);
  return {
    stream,
    async complete() {
      stream.end();
      try {
        await finished(stream);
        await rename(partial, file);
      } catch (error) {
        throw cannotWrite(error);
      }
    },
    async discard() {
      stream.destroy();
      await rm(partial, { force: true });
    },
  };
}

/** A bar redrawn in place on a terminal; elsewhere a plain line now and then, and a last one. */
export function progressReporter(stderr: Pick<NodeJS.WriteStream, 'isTTY' | 'write'>): {
  update: (progress: ExportProgress) => void;
  end: () => void;
} {
  let lastLineAtMs = 0;
  let last: ExportProgress | undefined;
  let drawn = false;
  const fraction = (progress: ExportProgress): number =>
    progress.bytesTotal === 0 ? 1 : progress.bytesDone / progress.bytesTotal;
  const text = (progress: ExportProgress): string =>
    `${progress.segmentsDone}/${progress.segmentsTotal} segments, ${progress.eventsExported} events exported`;

  return {
    update(progress) {
      last = { ...progress };
      if (stderr.isTTY) {
        const filled = Math.round(fraction(progress) * BAR_WIDTH);
        const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
        const percent = Math.floor(fraction(progress) * 100);
        stderr.write(`\rexport [${bar}] ${String(percent).padStart(3)}% ${text(progress)}`);
        drawn = true;
        return;
      }
      const nowMs = Date.now();
      if (nowMs - lastLineAtMs < PROGRESS_LINE_INTERVAL_MS) return;
      lastLineAtMs = nowMs;
      stderr.write(`export: ${Math.floor(fraction(progress) * 100)}%, ${text(progress)}\n`);
    },
    end() {
      if (drawn) stderr.write('\n');
      else if (
        last !== undefined &&
        last.segmentsDone === last.segmentsTotal &&
        lastLineAtMs !== 0
      ) {
        stderr.write(`export: 100%, ${text(last)}\n`);
      }
    },
  };
}

function describeExport(report: ExportReport, output: string | undefined): string[] {
  const lines = [
    `exported ${report.eventsExported} events (of ${report.eventsRead} read in ${report.segmentsRead} verified segments, ${report.partitions} partitions) to ${output ?? 'stdout'}`,
  ];
  if (report.deletedSegments.length > 0) {
    lines.push(
      `WARNING: ${report.deletedSegments.length} segments in the range were deleted by retention; their events are not in the export:`,
    );
    for (const segment of report.deletedSegments) {
      lines.push(`  ${segment.topic}/${segment.partition} ${segment.segment}`);
    }
  }
  return lines;
}
