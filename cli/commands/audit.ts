/**
 * `panacea audit verify | retention | hold | export`: the audit archive in the data directory.
 *
 * - `verify [--from RFC3339] [--to RFC3339] [--public-key FILE] [--json]` checks it against its
 *   manifests and signed chain heads (sinks/audit-archive/verify-archive.ts). Exit 0 when it is
 *   intact, 1 naming the first broken segment and why.
 * - `retention [--dry-run] [--json]` deletes the segments older than the archive retention that no
 *   legal hold keeps (sinks/audit-archive/retention.ts).
 * - `hold add|list|remove` places, lists and lifts legal holds (audit-hold.ts).
 * - `export` writes the events of a time range as NDJSON or CSV (audit-export.ts).
 *
 * Exit 2 on a usage or configuration error, as every command.
 */
import { existsSync } from 'node:fs';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { openSegmentStore } from '../../sinks/audit-archive/open-segment-store.js';
import { applyRetention, type RetentionReport } from '../../sinks/audit-archive/retention.js';
import { verifyArchive, type VerifyReport } from '../../sinks/audit-archive/verify-archive.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';
import { auditExportCommand } from './audit-export.js';
import { auditHoldCommand } from './audit-hold.js';
import {
  archiveRootOf,
  parseTime,
  resolvePublicKey,
  signingKeyForChanges,
} from './audit-support.js';

export async function auditCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'verify':
      return verifyCommand(rest, config);
    case 'retention':
      return retentionCommand(rest, config);
    case 'hold':
      return auditHoldCommand(rest, config);
    case 'export':
      return auditExportCommand(rest, config);
    default:
      throw new PanaceaError(
        'USAGE',
        `audit: expected verify, retention, hold or export, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

async function verifyCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    'public-key': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const fromMs = parseTime('--from', values.from);
  const toMs = parseTime('--to', values.to);
  // A window that ends before it starts selects no segment, and verify would say "ok" on nothing.
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    throw new PanaceaError('USAGE', `--from ${values.from} is after --to ${values.to}`);
  }
  const root = archiveRootOf(config);
  // Before the key: without an archive there is no generated key either, and "no key" would send
  // the person looking for a key when the data directory is the thing to check.
  if (!existsSync(root)) {
    throw new PanaceaError('FILE_UNREADABLE', `no audit archive at ${root}`, { file: root });
  }
  const key = resolvePublicKey(values['public-key'], config, root);

  const opened = await openSegmentStore(config.archive, root);
  let report: VerifyReport;
  try {
    report = await verifyArchive(root, {
      publicKey: key.publicKey,
      store: opened.store,
      ...(fromMs === undefined ? {} : { fromMs }),
      ...(toMs === undefined ? {} : { toMs }),
    });
  } finally {
    opened.close();
  }

  if (values.json) {
    say(
      JSON.stringify({
        ...report,
        archive: root,
        segmentStore: opened.store.description,
        publicKey: key.description,
      }),
    );
  } else {
    for (const line of describeReport(report, root, opened.store.description, key.description)) {
      say(line);
    }
  }
  return report.ok ? EXIT_OK : EXIT_PARTIAL;
}

function describeReport(
  report: VerifyReport,
  root: string,
  store: string,
  key: { source: string; fingerprint: string },
): string[] {
  const lines = [
    `archive:    ${root}`,
    ...(store === `directory ${root}` ? [] : [`segments in: ${store}`]),
    `public key: ${key.source} (SHA-256 ${key.fingerprint})`,
    `partitions: ${report.partitions}`,
    `segments:   ${report.segments}`,
    `events:     ${report.events}`,
    `deleted:    ${report.deletedSegments} segments (by retention, signed; chain checked through them)`,
    `holds:      ${report.activeHolds} active, ${report.holdChanges} changes in the hold log`,
    `time range: ${report.firstTimestamp ?? '-'} to ${report.lastTimestamp ?? '-'}`,
  ];
  for (const file of report.unlisted) lines.push(`not in a manifest (ignored): ${file}`);
  const broken = report.broken;
  if (broken === undefined) {
    lines.push('ok');
  } else if (broken.partition < 0) {
    lines.push(`BROKEN: ${broken.segment}: ${broken.reason}`);
  } else {
    lines.push(
      `BROKEN: ${broken.topic} partition ${broken.partition}, ${broken.segment}: ${broken.reason}`,
    );
  }
  return lines;
}

async function retentionCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, {
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const root = archiveRootOf(config);
  if (!existsSync(root)) {
    throw new PanaceaError('FILE_UNREADABLE', `no audit archive at ${root}`, { file: root });
  }
  const logger = componentLogger('audit-retention');
  const key = await signingKeyForChanges(config, root, logger);

  const opened = await openSegmentStore(config.archive, root);
  let report: RetentionReport;
  try {
    report = await applyRetention(root, {
      retentionMs: config.archive.retentionMs,
      key,
      logger,
      dryRun: values['dry-run'],
      store: opened.store,
    });
  } finally {
    opened.close();
  }

  say(values.json ? JSON.stringify(report) : describeRetention(report).join('\n'));
  return EXIT_OK;
}

export function describeRetention(report: RetentionReport): string[] {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `retention: ${report.retention} (segments whose newest event is before ${report.cutoff})${report.dryRun ? ', dry run' : ''}`,
    `${verb}: ${report.deleted.length} segments`,
  ];
  for (const segment of report.deleted) {
    lines.push(
      `  ${segment.topic}/${segment.partition} ${segment.segment} (newest ${segment.newestTime})`,
    );
  }
  lines.push(
    `held: ${report.held.length} eligible segments kept by ${report.activeHolds} active holds`,
  );
  for (const segment of report.held) {
    lines.push(
      `  ${segment.topic}/${segment.partition} ${segment.segment} (${segment.holds.join(', ')})`,
    );
  }
  lines.push(
    `kept: ${report.kept} younger or without events; ${report.alreadyDeleted} deleted earlier`,
  );
  return lines;
}
