/**
 * Checkpoints larger than one Kafka record. A stage's checkpoint grows with its state (the metrics
 * stage's open windows, agents and tasks in progress); past about 1 MB the broker would refuse it, and the partition
 * could never commit again. So a checkpoint above CHECKPOINT_CHUNK_BYTES is written as chunks
 * under keys of their own (`<key>#chunk-<n>`) and, under the checkpoint's key, a small head that
 * says how many chunks there are, their total length and their SHA-256. All of them go in the one
 * transaction of the batch, so a reader sees all or none; the hash catches any mix-up anyway.
 *
 * A smaller checkpoint is written as it is, under its key. When a checkpoint needs fewer chunks
 * than the one before, the chunks left over are tombstoned, so compaction can let them go.
 */
import { createHash } from 'node:crypto';

import { PanaceaError } from './errors.js';
import type { Message } from './kafka.js';

/** Well under the broker's default 1 MiB record limit, with room for the key and batch headers. */
export const CHECKPOINT_CHUNK_BYTES = 512 * 1024;

interface ChunkedHead {
  chunks: number;
  bytes: number;
  sha256: string;
}

// A head is a few dozen bytes; a checkpoint starts with `{"version":`, never like this.
const HEAD_PREFIX = '{"chunks":';
const MAX_HEAD_BYTES = 200;

export interface CheckpointWrite {
  messages: Message[];
  /** Chunks the checkpoint took (0 when written whole): what the next write may have to clear. */
  chunks: number;
}

/** The messages that store `value` under `key`, tombstoning chunks a bigger one left behind. */
export function checkpointMessages(
  key: string,
  value: Buffer,
  previousChunks: number,
  chunkBytes = CHECKPOINT_CHUNK_BYTES,
): CheckpointWrite {
  const chunks = value.length <= chunkBytes ? 0 : Math.ceil(value.length / chunkBytes);
  const messages: Message[] = [];
  if (chunks === 0) {
    messages.push({ key, value });
  } else {
    for (let index = 0; index < chunks; index += 1) {
      const part = value.subarray(index * chunkBytes, (index + 1) * chunkBytes);
      messages.push({ key: chunkKey(key, index), value: part });
    }
    const head: ChunkedHead = { chunks, bytes: value.length, sha256: sha256Of(value) };
    // `chunks` first, so the head starts with HEAD_PREFIX.
    messages.push({ key, value: Buffer.from(JSON.stringify(head)) });
  }
  for (let index = chunks; index < previousChunks; index += 1) {
    messages.push({ key: chunkKey(key, index), value: null });
  }
  return { messages, chunks };
}

/**
 * The checkpoint stored under `key`, put together from its chunks when it was split, and how
 * many chunks it took. `lookup` gives the latest value of a key of the checkpoint topic.
 */
export function assembleCheckpoint(
  key: string,
  lookup: (key: string) => Buffer | undefined,
): { value: Buffer; chunks: number } | undefined {
  const stored = lookup(key);
  if (stored === undefined) return undefined;
  const head = headOf(stored);
  if (head === undefined) return { value: stored, chunks: 0 };

  const parts: Buffer[] = [];
  for (let index = 0; index < head.chunks; index += 1) {
    const part = lookup(chunkKey(key, index));
    if (part === undefined) throw invalid(key, `chunk ${index} of ${head.chunks} is missing`);
    parts.push(part);
  }
  const value = Buffer.concat(parts);
  if (value.length !== head.bytes || sha256Of(value) !== head.sha256) {
    throw invalid(key, `its ${head.chunks} chunks do not match the head's length and SHA-256`);
  }
  return { value, chunks: head.chunks };
}

function headOf(stored: Buffer): ChunkedHead | undefined {
  if (stored.length > MAX_HEAD_BYTES) return undefined;
  const text = stored.toString('utf8');
  if (!text.startsWith(HEAD_PREFIX)) return undefined;
  const head = JSON.parse(text) as Partial<ChunkedHead>;
  const { chunks, bytes, sha256 } = head;
  if (!Number.isSafeInteger(chunks) || !Number.isSafeInteger(bytes) || typeof sha256 !== 'string') {
    throw new PanaceaError('METRICS_STATE_INVALID', `checkpoint head is malformed: ${text}`);
  }
  return { chunks: chunks as number, bytes: bytes as number, sha256 };
}

function chunkKey(key: string, index: number): string {
  return `${key}#chunk-${index}`;
}

function sha256Of(value: Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

function invalid(key: string, problem: string): PanaceaError {
  return new PanaceaError('METRICS_STATE_INVALID', `checkpoint ${key}: ${problem}`, { key });
}
