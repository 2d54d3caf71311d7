/**
 * The archive's signed register of its partitions: which topic partitions hold a chain, and the
 * offset each chain starts at. A chain head proves its own partition whole, but a partition
 * directory removed with its head leaves nothing behind to miss; the register, at the archive's
 * root and signed with the archive key, does. A chain started again in a removed partition's place
 * starts at another offset, which the register names too.
 *
 * A partition is registered when its first segment is sealed (and, after a crash between that
 * seal and the register, when it is opened again). Writes in one process are serialised; one
 * archive root has one writing process (the stage that owns the archive's partitions).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { KeyObject } from 'node:crypto';

import { PanaceaError } from '../../core/errors.js';
import { replaceFileDurably, signatureMatches, signBase64, type SigningKey } from './chain-head.js';

export const PARTITION_REGISTER_FILE = 'partitions.json';

export interface RegisteredPartition {
  topic: string;
  partition: number;
  /** The first offset of the partition's chain: its first manifest entry's first offset. */
  firstOffset: string;
}

interface RegisterFile {
  partitions: RegisteredPartition[];
  /** Ed25519 signature of `registerPayload(partitions)`, base64. */
  signature: string;
}

function registerPayload(partitions: RegisteredPartition[]): string {
  return JSON.stringify(
    partitions.map((entry) => [entry.topic, entry.partition, entry.firstOffset]),
  );
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * The registered partitions by topic and partition, checked against the public key; undefined
 * when the archive has no register (nothing sealed yet, or an archive from before registers).
 */
export function readPartitionRegister(
  root: string,
  publicKey: KeyObject,
): Map<string, RegisteredPartition> | undefined {
  const file = path.join(root, PARTITION_REGISTER_FILE);
  if (!existsSync(file)) return undefined;
  let register: RegisterFile;
  try {
    register = JSON.parse(readFileSync(file, 'utf8')) as RegisterFile;
  } catch {
    throw new PanaceaError('ARCHIVE_INVALID', `${PARTITION_REGISTER_FILE} is not JSON`, { file });
  }
  const wellFormed =
    Array.isArray(register.partitions) &&
    typeof register.signature === 'string' &&
    register.partitions.every(
      (entry) =>
        typeof entry.topic === 'string' &&
        Number.isInteger(entry.partition) &&
        /^\d+$/.test(entry.firstOffset),
    );
  if (
    !wellFormed ||
    !signatureMatches(registerPayload(register.partitions), register.signature, publicKey)
  ) {
    throw new PanaceaError(
      'ARCHIVE_INVALID',
      `${PARTITION_REGISTER_FILE}: the signature does not match the public key (the register was changed)`,
      { file },
    );
  }
  return new Map(register.partitions.map((entry) => [keyOf(entry.topic, entry.partition), entry]));
}

export function registeredPartition(
  register: Map<string, RegisteredPartition> | undefined,
  topic: string,
  partition: number,
): RegisteredPartition | undefined {
  return register?.get(keyOf(topic, partition));
}

const pendingWrites = new Map<string, Promise<void>>();

/** Adds a partition to the register, signed and flushed; nothing when it is there already. */
export function registerPartition(
  root: string,
  key: SigningKey,
  entry: RegisteredPartition,
): Promise<void> {
  const previous = pendingWrites.get(root) ?? Promise.resolve();
  const write = previous
    .catch(() => undefined)
    .then(async () => {
      const register = readPartitionRegister(root, key.publicKey) ?? new Map();
      if (register.has(keyOf(entry.topic, entry.partition))) return;
      register.set(keyOf(entry.topic, entry.partition), entry);
      const partitions = [...register.values()].sort(
        (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
      );
      const file: RegisterFile = {
        partitions,
        signature: signBase64(registerPayload(partitions), key.privateKey),
      };
      await replaceFileDurably(
        path.join(root, PARTITION_REGISTER_FILE),
        `${JSON.stringify(file, null, 2)}\n`,
      );
    });
  pendingWrites.set(root, write);
  return write;
}
