import { describe, expect, it } from 'vitest';

import { assembleCheckpoint, checkpointMessages } from '../../../core/checkpoint-chunks.js';
import { thrownPanaceaError } from '../fixtures/panacea-error.js';

const KEY = 'panacea.metrics:agent.events.enriched:0';

/** The topic as compaction leaves it: the latest value per key, tombstones removing the key. */
function compacted(...writes: { messages: { key?: unknown; value?: unknown }[] }[]) {
  const latest = new Map<string, Buffer>();
  for (const { messages } of writes) {
    for (const { key, value } of messages) {
      if (value === null) latest.delete(String(key));
      else latest.set(String(key), value as Buffer);
    }
  }
  return (key: string): Buffer | undefined => latest.get(key);
}

function checkpointOf(bytes: number, fill = 'é'): Buffer {
  return Buffer.from(JSON.stringify({ version: 1, padding: fill.repeat(bytes / 2) }));
}

describe('checkpoint chunks', () => {
  it('writes a checkpoint within the chunk size whole, under its key', () => {
    const value = checkpointOf(100);

    const write = checkpointMessages(KEY, value, 0, 1024);

    expect(write.chunks).toBe(0);
    expect(write.messages).toEqual([{ key: KEY, value }]);
    expect(assembleCheckpoint(KEY, compacted(write))).toEqual({ value, chunks: 0 });
  });

  it('splits a larger checkpoint into chunks and puts it back together byte for byte', () => {
    const value = checkpointOf(5000);

    const write = checkpointMessages(KEY, value, 0, 1024);

    expect(write.chunks).toBe(Math.ceil(value.length / 1024));
    expect(write.messages.every((message) => (message.value?.length ?? 0) <= 1024)).toBe(true);
    expect(assembleCheckpoint(KEY, compacted(write))).toEqual({ value, chunks: write.chunks });
  });

  it('tombstones the chunks a bigger checkpoint left behind', () => {
    const big = checkpointMessages(KEY, checkpointOf(5000), 0, 1024);
    const small = checkpointMessages(KEY, checkpointOf(2000), big.chunks, 1024);
    const whole = checkpointMessages(KEY, checkpointOf(100), small.chunks, 1024);

    const tombstones = (write: typeof small) =>
      write.messages.filter((message) => message.value === null).map((message) => message.key);
    expect(tombstones(small)).toHaveLength(big.chunks - small.chunks);
    expect(tombstones(whole)).toHaveLength(small.chunks);
    const lookup = compacted(big, small, whole);
    expect(lookup(`${KEY}#chunk-0`)).toBeUndefined();
    expect(assembleCheckpoint(KEY, lookup)?.value).toEqual(checkpointOf(100));
  });

  it('refuses chunks that do not match the head, naming the checkpoint', () => {
    const first = checkpointMessages(KEY, checkpointOf(5000, 'ab'), 0, 1024);
    const second = checkpointMessages(KEY, checkpointOf(5000, 'cd'), 0, 1024);
    const mixed = { messages: [...first.messages.slice(0, 1), ...second.messages.slice(1)] };

    const error = thrownPanaceaError(() => assembleCheckpoint(KEY, compacted(second, mixed)));

    expect(error.code).toBe('METRICS_STATE_INVALID');
    expect(error.message).toContain(KEY);
    expect(error.message).toContain('SHA-256');
  });

  it('names a missing chunk', () => {
    const write = checkpointMessages(KEY, checkpointOf(5000), 0, 1024);
    const lookup = compacted(write);

    const error = thrownPanaceaError(() =>
      assembleCheckpoint(KEY, (key) => (key === `${KEY}#chunk-2` ? undefined : lookup(key))),
    );

    expect(error.message).toBe(`checkpoint ${KEY}: chunk 2 of ${write.chunks} is missing`);
  });

  it('has no checkpoint for a key never written', () => {
    expect(assembleCheckpoint(KEY, compacted())).toBeUndefined();
  });
});
