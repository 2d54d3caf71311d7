import { describe, expect, it } from 'vitest';

import { PartitionLocks } from '../../../core/partition-locks.js';

describe('partition locks', () => {
  it('runs one partition’s work in order, after earlier work ended even by failing', async () => {
    const locks = new PartitionLocks();
    const order: string[] = [];
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));

    const first = locks.run(0, async () => {
      await held;
      order.push('first');
      throw new Error('first failed');
    });
    const second = locks.run(0, async () => {
      order.push('second');
      return 2;
    });
    const other = locks.run(1, async () => {
      order.push('other partition');
      return 1;
    });

    expect(await other).toBe(1);
    release();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(order).toEqual(['other partition', 'first', 'second']);
  });

  it('settles once all queued work has ended', async () => {
    const locks = new PartitionLocks();
    let done = false;
    void locks.run(3, async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      done = true;
    });

    await locks.settled();

    expect(done).toBe(true);
  });

  it('finishes each partition held once the queued work has ended, whatever fails', async () => {
    const locks = new PartitionLocks();
    const held = new Set([0]);
    const finished: number[] = [];
    void locks.run(1, async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      held.add(1);
    });

    await locks.finishEach(
      () => held,
      async (partition) => {
        finished.push(partition);
        if (partition === 0) throw new Error('could not finish');
      },
    );

    expect(finished.sort()).toEqual([0, 1]);
  });
});
