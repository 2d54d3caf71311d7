/**
 * `panacea audit verify [--from RFC3339] [--to RFC3339] [--public-key FILE] [--json]`: checks the
 * audit archive in the data directory against its manifests and signed chain heads (see
 * sinks/audit-archive/verify-archive.ts) and prints a summary. Exit 0 when it is intact, 1 naming
 * the first broken segment and why, 2 on a usage or configuration error.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { KeyObject } from 'node:crypto';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { auditArchiveRoot } from '../../sinks/audit-archive/audit-archive-stage.js';
import {
  fingerprintOf,
  GENERATED_KEY_FILE,
  readPublicKey,
} from '../../sinks/audit-archive/chain-head.js';
import { verifyArchive, type VerifyReport } from '../../sinks/audit-archive/verify-archive.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

export async function auditCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'verify') {
    throw new PanaceaError(
      'USAGE',
      `audit: expected verify, got ${action === undefined ? 'nothing' : `"${action}"`}`,
    );
  }
  const { values } = parseCommandArgs(rest, {
    from: { type: 'string' },
    to: { type: 'string' },
    'public-key': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const fromMs = parseTime('--from', values.from);
  const toMs = parseTime('--to', values.to);
  const root = auditArchiveRoot(config.dataDir);
  const key = resolvePublicKey(values['public-key'], config, root);

  const report = await verifyArchive(root, {
    publicKey: key.publicKey,
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMs === undefined ? {} : { toMs }),
  });

  if (values.json) {
    say(JSON.stringify({ ...report, archive: root, publicKey: key.description }));
  } else {
    for (const line of describeReport(report, root, key.description)) say(line);
  }
  return report.ok ? EXIT_OK : EXIT_PARTIAL;
}

/**
 * The key to check signatures with: the one given, else the public half of the configured signing
 * key, else of the key generated in the archive. Only a key given or configured from outside the
 * archive proves anything against someone who could write the archive; the summary names which.
 */
function resolvePublicKey(
  given: string | undefined,
  config: PanaceaConfig,
  root: string,
): { publicKey: KeyObject; description: { source: string; fingerprint: string } } {
  const generated = path.join(root, GENERATED_KEY_FILE);
  const file = given ?? config.archive.signingKeyFile ?? generated;
  if (given === undefined && config.archive.signingKeyFile === undefined && !existsSync(file)) {
    throw new PanaceaError(
      'USAGE',
      `no key to check signatures with: expected --public-key FILE or PANACEA_ARCHIVE_SIGNING_KEY, and there is no ${generated}`,
    );
  }
  const publicKey = readPublicKey(file);
  return { publicKey, description: { source: file, fingerprint: fingerprintOf(publicKey) } };
}

function parseTime(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  const timeMs = Date.parse(text);
  if (!RFC3339.test(text) || Number.isNaN(timeMs)) {
    throw new PanaceaError(
      'USAGE',
      `${option}: expected an RFC 3339 time such as 2026-01-15T09:30:00Z, got "${text}"`,
    );
  }
  return timeMs;
}

function describeReport(
  report: VerifyReport,
  root: string,
  key: { source: string; fingerprint: string },
): string[] {
  const lines = [
    `archive:    ${root}`,
    `public key: ${key.source} (SHA-256 ${key.fingerprint})`,
    `partitions: ${report.partitions}`,
    `segments:   ${report.segments}`,
    `events:     ${report.events}`,
    `time range: ${report.firstTimestamp ?? '-'} to ${report.lastTimestamp ?? '-'}`,
  ];
  for (const file of report.unlisted) lines.push(`not in a manifest (ignored): ${file}`);
  const broken = report.broken;
  lines.push(
    broken === undefined
      ? 'ok'
      : `BROKEN: ${broken.topic} partition ${broken.partition}, ${broken.segment}: ${broken.reason}`,
  );
  return lines;
}
