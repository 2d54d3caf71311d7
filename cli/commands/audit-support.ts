/**
 * What the `panacea audit` subcommands share: reading RFC 3339 times from the command line and
 * finding the keys they check or sign with.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { KeyObject } from 'node:crypto';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { normaliseTimestamp } from '../../schemas/timestamp.js';
import { auditArchiveRoot } from '../../sinks/audit-archive/audit-archive-stage.js';
import {
  fingerprintOf,
  GENERATED_KEY_FILE,
  loadSigningKey,
  readPublicKey,
  type SigningKey,
} from '../../sinks/audit-archive/chain-head.js';

export function archiveRootOf(config: PanaceaConfig): string {
  return auditArchiveRoot(config.dataDir);
}

export function parseTime(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // The contract's parser: Date.parse alone rolls a day that does not exist (2026-02-30) over
  // into the next month instead of refusing it.
  const time = normaliseTimestamp(text);
  if (!time.ok) {
    throw new PanaceaError(
      'USAGE',
      `${option}: expected an RFC 3339 time such as 2026-01-15T09:30:00Z, got "${text}": ${time.reason}`,
    );
  }
  return time.epochMs;
}

export function requiredTime(option: string, text: string | undefined): number {
  const timeMs = parseTime(option, text);
  if (timeMs === undefined) {
    throw new PanaceaError('USAGE', `${option}: expected an RFC 3339 time, got nothing`);
  }
  return timeMs;
}

export interface PublicKeyChoice {
  publicKey: KeyObject;
  description: { source: string; fingerprint: string };
}

/**
 * The key to check signatures with: the one given, else the public half of the configured signing
 * key, else of the key generated in the archive. Only a key given or configured from outside the
 * archive proves anything against someone who could write the archive; the summary names which.
 */
export function resolvePublicKey(
  given: string | undefined,
  config: PanaceaConfig,
  root: string,
): PublicKeyChoice {
  const generated = path.join(root, GENERATED_KEY_FILE);
  const file = given ?? config.archive.signingKeyFile ?? generated;
  if (given === undefined && config.archive.signingKeyFile === undefined && !existsSync(file)) {
    throw new PanaceaError(
      'USAGE',
      `no key to check signatures with: expected PANACEA_ARCHIVE_SIGNING_KEY (or, for audit verify and export, --public-key FILE), and there is no ${generated}`,
    );
  }
  const publicKey = readPublicKey(file);
  return { publicKey, description: { source: file, fingerprint: fingerprintOf(publicKey) } };
}

/**
 * The private key that signs changes to the archive (deletion marks, hold log entries): the
 * configured one, or the one the archive stage generated. Never generated here: a key made by a
 * command run without PANACEA_ARCHIVE_SIGNING_KEY would sign with a key the archive does not use.
 */
export async function signingKeyForChanges(
  config: PanaceaConfig,
  root: string,
  logger: Logger,
): Promise<SigningKey> {
  const generated = path.join(root, GENERATED_KEY_FILE);
  if (config.archive.signingKeyFile === undefined && !existsSync(generated)) {
    throw new PanaceaError(
      'USAGE',
      `no archive signing key: set PANACEA_ARCHIVE_SIGNING_KEY to the key the archive stage uses (there is no ${generated})`,
    );
  }
  return loadSigningKey(config.archive.signingKeyFile, root, logger);
}
