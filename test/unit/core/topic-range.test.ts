import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import type { Admin } from '../../../core/kafka.js';
import {
  isWithinTimeBounds,
  parseRangeBound,
  resolveTopicRange,
  type RangeBound,
} from '../../../core/topic-range.js';

/** The two admin answers the resolution reads: offsets per partition, and offsets by time. */
function adminAnswering(
  partitions: { partition: number; low: number; high: number }[],
  offsetAtTime: (partition: number, epochMs: number) => number,
): Admin {
  return {
    fetchTopicOffsets: async () =>
      partitions.map(({ partition, low, high }) => ({
        partition,
        low: String(low),
        high: String(high),
        offset: String(high),
      })),
    fetchTopicOffsetsByTimestamp: async (_topic: string, epochMs: number) =>
      partitions.map(({ partition }) => ({
        partition,
        offset: String(offsetAtTime(partition, epochMs)),
      })),
  } as unknown as Admin;
}

const parseTime = (_option: string, text: string): number => Date.parse(text);
const bound = (option: string, text: string): RangeBound =>
  parseRangeBound(option, text, parseTime);

describe('topic ranges', () => {
  const admin = adminAnswering(
    [
      { partition: 0, low: 0, high: 100 },
      { partition: 1, low: 20, high: 50 },
      { partition: 2, low: 7, high: 7 },
    ],
    // Partition 0 has a record at or after any time up to 10:00 at offset 40; none after it.
    (partition, epochMs) =>
      epochMs <= Date.parse('2026-12-05T10:00:00Z') ? (partition === 0 ? 40 : 10) : -1,
  );

  it('resolves times to the first offset at or after each bound, clamped to the log', async () => {
    const range = await resolveTopicRange(
      admin,
      't',
      bound('--from', '2026-12-05T09:00:00Z'),
      undefined,
    );
    expect(range.fromMs).toBe(Date.parse('2026-12-05T09:00:00Z'));
    expect(range.partitions.map((p) => [p.partition, p.startOffset, p.endOffset])).toEqual([
      [0, 40n, 100n],
      // Kafka's answer 10 is below the log start 20 (retention moved it): read from 20.
      [1, 20n, 50n],
      [2, 7n, 7n],
    ]);
    expect(range.partitions[2]?.emptyBecause).toBe('the partition holds no records');
  });

  it('reads a --from after every record as nothing, and says why', async () => {
    const range = await resolveTopicRange(
      admin,
      't',
      bound('--from', '2026-12-05T11:00:00Z'),
      undefined,
    );
    expect(range.partitions.map((p) => p.endOffset - p.startOffset)).toEqual([0n, 0n, 0n]);
    expect(range.partitions[0]?.emptyBecause).toBe(
      'no record at or after --from 2026-12-05T11:00:00Z',
    );
  });

  it('reads offset bounds for the partitions they name only, and refuses offsets outside the log', async () => {
    const range = await resolveTopicRange(
      admin,
      't',
      bound('--from', '1:25'),
      bound('--to', '1:30'),
    );
    expect(range.partitions.map((p) => [p.partition, p.startOffset, p.endOffset])).toEqual([
      [1, 25n, 30n],
    ]);
    await expect(resolveTopicRange(admin, 't', bound('--from', '1:5'), undefined)).rejects.toThrow(
      'offset 5 is outside partition 1 of t, which holds offsets 20 to 49',
    );
    await expect(resolveTopicRange(admin, 't', bound('--from', '9:0'), undefined)).rejects.toThrow(
      't has no partition 9 (it has 3)',
    );
  });

  it('keeps a record at --from and drops one at --to', () => {
    const range = { topic: 't', partitions: [], fromMs: 1_000, toMs: 2_000 };
    expect(isWithinTimeBounds(range, 999)).toBe(false);
    expect(isWithinTimeBounds(range, 1_000)).toBe(true);
    expect(isWithinTimeBounds(range, 1_999)).toBe(true);
    expect(isWithinTimeBounds(range, 2_000)).toBe(false);
  });

  it('tells offsets from times, and refuses a partition given twice', () => {
    expect(bound('--from', '0:5,1:7')).toMatchObject({ kind: 'offsets' });
    expect(bound('--from', '2026-12-05T10:00:00Z')).toMatchObject({ kind: 'time' });
    expect(() => bound('--to', '0:5,0:6')).toThrow(PanaceaError);
  });
});
