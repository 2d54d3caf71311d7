/**
 * The signed chain head of a partition's manifest: the last entry's hash, the number of entries
 * and the last offset, signed with Ed25519. Recomputing every hash after changing a segment makes
 * a chain that is consistent in itself; it is the signature, made with a key the rewriter should
 * not hold, that tells it apart from the chain the archive wrote.
 *
 * The key is `PANACEA_ARCHIVE_SIGNING_KEY` (a PEM file with an Ed25519 private key). Without it,
 * a key is generated once in the archive directory: changes are then detected only against
 * someone who cannot read that directory, which is why production sets a key kept elsewhere.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';

import { messageOf, PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sha256Hex } from './manifest.js';
import { syncDirectory } from './segment-files.js';

export const HEAD_FILE = 'head.json';
export const GENERATED_KEY_FILE = 'signing-key.pem';
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

export interface ChainHead {
  topic: string;
  partition: number;
  entries: number;
  lastOffset: string;
  headHash: string;
  signedAt: string;
  /** Ed25519 signature of `signedPayload(head)`, base64. */
  signature: string;
}

export type UnsignedHead = Omit<ChainHead, 'signature'>;

function signedPayload(head: UnsignedHead): Buffer {
  return Buffer.from(
    JSON.stringify([
      head.topic,
      head.partition,
      head.entries,
      head.lastOffset,
      head.headHash,
      head.signedAt,
    ]),
  );
}

/** The archive's Ed25519 signature of `payload`, base64: what every signed record carries. */
export function signBase64(payload: Buffer | string, privateKey: KeyObject): string {
  return sign(null, Buffer.from(payload), privateKey).toString('base64');
}

/** Whether `signature` (base64) is the key's signature of `payload`; false for any malformed one. */
export function signatureMatches(
  payload: Buffer | string,
  signature: string,
  publicKey: KeyObject,
): boolean {
  try {
    return verify(null, Buffer.from(payload), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export function signHead(head: UnsignedHead, privateKey: KeyObject): ChainHead {
  return { ...head, signature: signBase64(signedPayload(head), privateKey) };
}

export function headSignatureValid(head: ChainHead, publicKey: KeyObject): boolean {
  return signatureMatches(signedPayload(head), head.signature, publicKey);
}

export async function writeHead(directory: string, head: ChainHead): Promise<void> {
  await replaceFileDurably(path.join(directory, HEAD_FILE), `${JSON.stringify(head, null, 2)}\n`);
}

/**
 * Replaces a small file whole: written to a temporary name, flushed, renamed over the old one and
 * the directory flushed, so a crash leaves the old file or the new one, never half of either.
 */
export async function replaceFileDurably(finalPath: string, text: string): Promise<void> {
  const temporaryPath = `${finalPath}.tmp`;
  const file = await open(temporaryPath, 'w');
  try {
    await file.write(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporaryPath, finalPath);
  await syncDirectory(path.dirname(finalPath));
}

export function readHead(directory: string): ChainHead | undefined {
  const file = path.join(directory, HEAD_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ChainHead;
  } catch (error) {
    throw new PanaceaError('ARCHIVE_INVALID', `chain head is not JSON: ${messageOf(error)}`, {
      file,
    });
  }
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 of the public key (SPKI DER), hex: what a reviewer records to compare with later. */
  fingerprint: string;
  /** Where the private key came from. */
  source: string;
}

/**
 * The configured key, or the one generated in the archive directory (created on first use, which
 * is logged: the trade-off above is worth knowing about).
 */
export async function loadSigningKey(
  configuredFile: string | undefined,
  archiveRoot: string,
  logger: Logger,
): Promise<SigningKey> {
  const file = configuredFile ?? path.join(archiveRoot, GENERATED_KEY_FILE);
  if (configuredFile === undefined && !existsSync(file)) {
    await mkdir(archiveRoot, { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.write(privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    logger.warn(
      { file },
      'PANACEA_ARCHIVE_SIGNING_KEY is not set; generated an archive signing key beside the archive',
    );
  }
  const privateKey = readPrivateKey(file, configuredFile === undefined ? undefined : file);
  const publicKey = createPublicKey(privateKey);
  const key = { privateKey, publicKey, fingerprint: fingerprintOf(publicKey), source: file };
  await writePublicKey(archiveRoot, publicKey);
  return key;
}

function readPrivateKey(file: string, configured: string | undefined): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new PanaceaError(
      configured === undefined ? 'ARCHIVE_INVALID' : 'CONFIG_INVALID',
      `${configured === undefined ? 'archive signing key' : 'PANACEA_ARCHIVE_SIGNING_KEY'}: expected a PEM file with an Ed25519 private key, got "${file}" (${messageOf(error)})`,
      { file, field: 'PANACEA_ARCHIVE_SIGNING_KEY' },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `PANACEA_ARCHIVE_SIGNING_KEY: expected an Ed25519 private key, got a ${key.asymmetricKeyType ?? 'unknown'} key in "${file}"`,
      { file, field: 'PANACEA_ARCHIVE_SIGNING_KEY' },
    );
  }
  return key;
}

/** The public key, from a PEM file holding either half of the pair. */
export function readPublicKey(file: string): KeyObject {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (error) {
    throw new PanaceaError('FILE_UNREADABLE', `cannot read key file "${file}"`, { file }, error);
  }
  try {
    return createPublicKey(text);
  } catch (error) {
    throw new PanaceaError(
      'USAGE',
      `expected a PEM file with an Ed25519 key, got "${file}" (${messageOf(error)})`,
      { file },
    );
  }
}

export function fingerprintOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

/** Kept beside the archive for reviewers; verify never trusts it over a key it is given. */
async function writePublicKey(archiveRoot: string, publicKey: KeyObject): Promise<void> {
  await mkdir(archiveRoot, { recursive: true });
  const file = await open(path.join(archiveRoot, PUBLIC_KEY_FILE), 'w');
  try {
    await file.write(publicKey.export({ type: 'spki', format: 'pem' }));
  } finally {
    await file.close();
  }
}
