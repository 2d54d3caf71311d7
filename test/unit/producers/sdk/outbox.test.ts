import { describe, expect, it } from 'vitest';

import {
  backoffMs,
  batchBytes,
  fitsOneBatch,
  Outbox,
  RECORD_BATCH_OVERHEAD_BYTES,
} from '../../../../producers/sdk/outbox.js';

interface Entry {
  id: number;
  bytes: number;
}

function entries(sizes: number[]): Entry[] {
  return sizes.map((bytes, id) => ({ id, bytes }));
}

function fill(outbox: Outbox<Entry>, sizes: number[]): Entry[] {
  const added = entries(sizes);
  for (const entry of added) expect(outbox.admit(entry)).toBe(true);
  return added;
}

describe('outbox batches', () => {
  it('cuts the longest run from the front that fits the batch limit, in order', () => {
    const outbox = new Outbox<Entry>(1_000_000);
    fill(outbox, [300, 300, 300, 300, 300]);

    const limit = RECORD_BATCH_OVERHEAD_BYTES + 900;
    const first = outbox.take(limit);
    const second = outbox.take(limit);

    expect(first.batch.map((entry) => entry.id)).toEqual([0, 1, 2]);
    expect(second.batch.map((entry) => entry.id)).toEqual([3, 4]);
    expect(batchBytes(first.batch)).toBeLessThanOrEqual(limit);
    expect(outbox.queuedCount).toBe(0);
  });

  it('splits 20 records of 100 KB into batches under a 1 MB limit, none lost or repeated', () => {
    const outbox = new Outbox<Entry>(10_000_000);
    fill(
      outbox,
      Array.from({ length: 20 }, () => 100_064),
    );

    const batches: Entry[][] = [];
    while (outbox.queuedCount > 0) batches.push(outbox.take(1_048_588).batch);

    expect(batches.map((batch) => batch.length)).toEqual([10, 10]);
    for (const batch of batches) expect(batchBytes(batch)).toBeLessThanOrEqual(1_048_588);
    expect(batches.flat().map((entry) => entry.id)).toEqual([...Array(20).keys()]);
  });

  it('hands out a record too big for any batch separately instead of blocking the queue', () => {
    const outbox = new Outbox<Entry>(10_000_000);
    fill(outbox, [2_000, 500, 500]);

    const taken = outbox.take(1_000);

    expect(taken.oversized.map((entry) => entry.id)).toEqual([0]);
    expect(taken.batch.map((entry) => entry.id)).toEqual([1]);
    expect(outbox.bufferedBytes).toBe(1_000);
  });

  it('says whether one record fits a batch with the batch header counted', () => {
    expect(fitsOneBatch({ bytes: 1_000 - RECORD_BATCH_OVERHEAD_BYTES }, 1_000)).toBe(true);
    expect(fitsOneBatch({ bytes: 1_000 - RECORD_BATCH_OVERHEAD_BYTES + 1 }, 1_000)).toBe(false);
  });
});

describe('outbox buffer bound', () => {
  it('refuses an entry that would take the queued and in-flight bytes over the bound', () => {
    const outbox = new Outbox<Entry>(1_000);
    fill(outbox, [400, 400]);

    expect(outbox.admit({ id: 9, bytes: 201 })).toBe(false);
    expect(outbox.admit({ id: 9, bytes: 200 })).toBe(true);
    expect(outbox.bufferedBytes).toBe(1_000);
    expect(outbox.bufferedCount).toBe(3);
  });

  it('counts a batch in flight until it is settled, then makes room', () => {
    const outbox = new Outbox<Entry>(1_000);
    fill(outbox, [400, 400]);
    const { batch } = outbox.take(10_000);

    expect(outbox.queuedBytes).toBe(0);
    expect(outbox.bufferedBytes).toBe(800);
    expect(outbox.admit({ id: 9, bytes: 300 })).toBe(false);

    outbox.settle(batch);
    expect(outbox.bufferedBytes).toBe(0);
    expect(outbox.bufferedCount).toBe(0);
    expect(outbox.admit({ id: 9, bytes: 300 })).toBe(true);
  });

  it('puts a failed batch back at the front, ahead of what arrived meanwhile', () => {
    const outbox = new Outbox<Entry>(10_000);
    fill(outbox, [100, 100, 100]);
    const { batch } = outbox.take(RECORD_BATCH_OVERHEAD_BYTES + 200);
    outbox.admit({ id: 7, bytes: 100 });

    outbox.giveBack(batch);

    expect(outbox.bufferedBytes).toBe(400);
    expect(outbox.queuedBytes).toBe(400);
    expect(outbox.take(10_000).batch.map((entry) => entry.id)).toEqual([0, 1, 2, 7]);
  });

  it('keeps its counts exact over many takes, returns and settlements', () => {
    const outbox = new Outbox<Entry>(50_000);
    let next = 0;
    let delivered = 0;
    for (let round = 0; round < 2_000; round += 1) {
      while (outbox.admit({ id: next, bytes: 10 + (next % 90) })) next += 1;
      const { batch } = outbox.take(RECORD_BATCH_OVERHEAD_BYTES + 5_000);
      if (round % 3 === 0) outbox.giveBack(batch);
      else {
        outbox.settle(batch);
        delivered += batch.length;
      }
      expect(outbox.bufferedBytes).toBeLessThanOrEqual(50_000);
    }
    const rest = outbox.takeAllQueued();
    expect(delivered + rest.length).toBe(next);
    expect(rest.map((entry) => entry.id)).toEqual(
      Array.from({ length: rest.length }, (_, index) => delivered + index),
    );
    expect(outbox.bufferedBytes).toBe(0);
  });
});

describe('retry backoff', () => {
  it('doubles from the first wait up to the longest, in the upper half of each step', () => {
    const lowest = (attempt: number): number => backoffMs(attempt, 500, 30_000, () => 0);
    const highest = (attempt: number): number => backoffMs(attempt, 500, 30_000, () => 1);

    expect([1, 2, 3, 4].map(highest)).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map(lowest)).toEqual([250, 500, 1_000, 2_000]);
    expect(highest(50)).toBe(30_000);
    expect(lowest(50)).toBe(15_000);
  });
});
