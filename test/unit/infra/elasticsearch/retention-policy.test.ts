import { describe, expect, it } from 'vitest';

import {
  planRetention,
  rolloverAfterMsFor,
  type BackingIndexState,
} from '../../../../infra/elasticsearch/retention-policy.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const NOW_MS = Date.parse('2026-12-04T12:00:00Z');

/** A backing index created `createdMinutesAgo`, its newest document `newestMinutesAgo`. */
function index(
  name: string,
  createdMinutesAgo: number,
  newestMinutesAgo: number | undefined,
  docCount = newestMinutesAgo === undefined ? 0 : 10,
): BackingIndexState {
  return {
    name,
    createdAtMs: NOW_MS - createdMinutesAgo * MINUTE_MS,
    docCount,
    newestTimestampMs:
      newestMinutesAgo === undefined ? undefined : NOW_MS - newestMinutesAgo * MINUTE_MS,
  };
}

const policy = { retentionMs: 60 * MINUTE_MS, rolloverAfterMs: 6 * MINUTE_MS };

function plan(...indices: BackingIndexState[]) {
  return planRetention({ name: 'logs-agent.activity-x', backingIndices: indices }, policy, NOW_MS);
}

describe('retention policy', () => {
  it('deletes a backing index whose newest document is older than the retention', () => {
    const result = plan(index('old', 200, 61), index('write', 100, 1));

    expect(result.deletions.map((deletion) => deletion.index)).toEqual(['old']);
    expect(result.deletions[0]?.expiredAtMs).toBe(NOW_MS - 61 * MINUTE_MS);
  });

  it('keeps a backing index that holds one current document among expired ones', () => {
    const result = plan(index('mixed', 200, 59), index('write', 100, 1));

    expect(result.deletions).toEqual([]);
  });

  it('never deletes the write index when it does not roll over', () => {
    const result = plan(index('write', 3, 2));

    expect(result.rollover).toBeUndefined();
    expect(result.deletions).toEqual([]);
  });

  it('rolls over a write index holding only expired data, and deletes it after the rollover', () => {
    const result = plan(index('write', 3, 120));

    expect(result.rollover).toBe('only expired data');
    expect(result.deletions.map((deletion) => deletion.index)).toEqual(['write']);
  });

  it('rolls over a write index older than the rollover age, and keeps its current data', () => {
    const result = plan(index('write', 7, 1));

    expect(result.rollover).toBe('max age');
    expect(result.deletions).toEqual([]);
  });

  it('never rolls over an empty write index, however old', () => {
    expect(plan(index('write', 10_000, undefined)).rollover).toBeUndefined();
  });

  it('deletes an empty backing index once it stopped being written longer than the retention ago', () => {
    const expired = plan(index('empty', 300, undefined), index('write', 61, 1));
    const recent = plan(index('empty', 300, undefined), index('write', 59, 1));

    expect(expired.deletions.map((deletion) => deletion.index)).toEqual(['empty']);
    expect(recent.deletions).toEqual([]);
  });

  it('deletes every expired backing index in one plan, oldest first', () => {
    const result = plan(
      index('a', 500, 400),
      index('b', 400, 300),
      index('c', 300, 30),
      index('w', 5, 1),
    );

    expect(result.deletions.map((deletion) => deletion.index)).toEqual(['a', 'b']);
  });

  it('plans nothing for a data stream without backing indices', () => {
    expect(plan()).toEqual({
      dataStream: 'logs-agent.activity-x',
      rollover: undefined,
      deletions: [],
    });
  });

  it('rolls over after a tenth of the retention, from a minute to 30 days', () => {
    expect(rolloverAfterMsFor(30 * DAY_MS)).toBe(3 * DAY_MS);
    expect(rolloverAfterMsFor(400 * DAY_MS)).toBe(30 * DAY_MS);
    expect(rolloverAfterMsFor(5 * MINUTE_MS)).toBe(MINUTE_MS);
  });
});
